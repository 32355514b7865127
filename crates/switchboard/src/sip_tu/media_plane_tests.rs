//! The media plane with a browser on leg A: a WebRTC offer is answered by the WebRTC stack while
//! the callee is offered plain RTP; offers a browser leg cannot serve get 488 with a Warning.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_core::{CallId, SystemClock};
use switchboard_media::bridge::BridgeConfig;
use switchboard_media::playout::PlayoutSource;
use switchboard_media::ports::PortAllocator;
use switchboard_media::relay::RelayConfig;
use switchboard_media::webrtc_leg::testing::BrowserPeer;
use switchboard_media::webrtc_leg::{WebRtcConfig, WebRtcLegs, WebRtcRuntime};
use switchboard_sip::b2bua::MediaPlane;
use tokio::sync::mpsc;

use super::{MediaSettings, RelayPlane};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A SIP phone's answer to our plain offer.
const PHONE_ANSWER: &str = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

fn plane() -> RelayPlane {
    let ports = Arc::new(Mutex::new(PortAllocator::new(46000..=46999).unwrap()));
    let webrtc = WebRtcLegs::new(
        WebRtcConfig::default(),
        ports.clone(),
        WebRtcRuntime::dedicated(1).unwrap(),
    );
    let (events, _) = mpsc::channel(16);
    let (records, _) = mpsc::unbounded_channel();
    RelayPlane::new(
        MediaSettings {
            address: LOCALHOST,
            relay: RelayConfig {
                bind_ip: LOCALHOST,
                bridge: BridgeConfig::default(),
            },
            recordings: None,
            music_on_hold: Arc::new(PlayoutSource::silence()),
            callback_prompt: Arc::new(PlayoutSource::silence()),
            webrtc: Some(webrtc),
        },
        ports,
        Arc::new(SystemClock),
        events,
        records,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_caller_is_answered_with_dtls_srtp_and_the_callee_offered_plain_rtp() {
    let mut plane = plane();
    let call = CallId::from("browser-call");
    let browser = BrowserPeer::new(LOCALHOST, true, false).await.unwrap();
    let offer = browser.offer().await.unwrap();
    let offer_b = String::from_utf8(plane.open(&call, offer.as_bytes()).unwrap()).unwrap();
    assert!(offer_b.contains("m=audio "), "{offer_b}");
    assert!(
        offer_b.contains(" RTP/AVP 0 "),
        "PCMU first, as the browser: {offer_b}"
    );
    let answer_a = plane.answer(&call, PHONE_ANSWER.as_bytes()).unwrap();
    let answer_a = String::from_utf8(answer_a).unwrap();
    assert!(answer_a.contains("UDP/TLS/RTP/SAVPF"), "{answer_a}");
    assert!(answer_a.contains("a=fingerprint:"), "{answer_a}");
    browser.accept_answer(&answer_a).await.unwrap();
    assert!(browser.connected(Duration::from_secs(10)).await, "DTLS up");
    // A re-INVITE on a call with a browser is refused; the call goes on.
    let refused = plane
        .reoffer(
            &call,
            switchboard_sip::b2bua::Leg::Callee,
            PHONE_ANSWER.as_bytes(),
        )
        .unwrap_err();
    assert_eq!(refused.status, 488);
    plane.close(&call);
}

/// A SIP phone's offer.
const PHONE_OFFER: &str = "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_callee_is_offered_dtls_srtp_and_the_caller_answered_plain_rtp() {
    let mut plane = plane();
    let call = CallId::from("to-browser");
    plane.set_webrtc_callee(&call, true);
    let offer_b = String::from_utf8(plane.open(&call, PHONE_OFFER.as_bytes()).unwrap()).unwrap();
    assert!(offer_b.contains("UDP/TLS/RTP/SAVPF"), "{offer_b}");
    let browser = BrowserPeer::new(LOCALHOST, true, false).await.unwrap();
    let answer_b = browser.answer(&offer_b).await.unwrap();
    let answer_a = plane.answer(&call, answer_b.as_bytes()).unwrap();
    let answer_a = String::from_utf8(answer_a).unwrap();
    assert!(answer_a.contains(" RTP/AVP 8 101"), "{answer_a}");
    assert!(browser.connected(Duration::from_secs(10)).await, "DTLS up");
    plane.close(&call);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_offers_we_cannot_serve_get_488_with_a_warning() {
    let mut plane = plane();
    let browser = BrowserPeer::new(LOCALHOST, true, false).await.unwrap();
    let offer = browser.offer().await.unwrap();
    let no_fingerprint: String = offer
        .split("\r\n")
        .filter(|l| !l.starts_with("a=fingerprint"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let f = plane
        .open(&CallId::from("no-fp"), no_fingerprint.as_bytes())
        .unwrap_err();
    assert_eq!(f.status, 488);
    assert!(
        f.warning
            .as_deref()
            .unwrap()
            .contains("no DTLS fingerprint"),
        "{f:?}"
    );
    let opus = BrowserPeer::new(LOCALHOST, false, false).await.unwrap();
    let offer = opus.offer().await.unwrap();
    let f = plane
        .park(&CallId::from("opus"), offer.as_bytes())
        .unwrap_err();
    assert_eq!(f.status, 488);
    assert!(
        f.warning
            .as_deref()
            .unwrap()
            .contains("neither PCMU nor PCMA"),
        "{f:?}"
    );
}
