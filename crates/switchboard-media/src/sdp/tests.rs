use super::*;
use std::net::Ipv4Addr;

/// The SDP SIPp's stock `uac_pcap` scenario sends (PCMA + telephone-event).
const SIPP_OFFER: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-11,16\r\n";

/// A trimmed browser offer: DTLS-SRTP audio with ICE, plus a data channel.
const WEBRTC_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=fingerprint:sha-256 AB:CD:EF:01:23\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1 1 udp 2122260223 192.0.2.10 54400 typ host\r\n\
a=ice-ufrag:Xy12\r\n\
a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
c=IN IP4 0.0.0.0\r\n\
a=mid:1\r\n";

fn local() -> LocalMedia {
    LocalMedia::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)), 20000, 42)
}

fn parse(s: &str) -> SessionDescription {
    SessionDescription::parse(s.as_bytes()).expect("valid SDP")
}

#[test]
fn parses_the_sipp_offer_into_typed_fields() {
    let sd = parse(SIPP_OFFER);
    assert_eq!(sd.origin.session_id, 53655765);
    assert_eq!(sd.connection, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    assert_eq!(sd.media.len(), 1);
    let m = &sd.media[0];
    assert!(m.is_audio());
    assert_eq!(m.port, 6000);
    assert_eq!(m.protocol, "RTP/AVP");
    let pts: Vec<u8> = m.formats.iter().map(|f| f.pt).collect();
    assert_eq!(pts, vec![8, 101]);
    assert_eq!(m.formats[0].codec(), Some(Codec::Pcma));
    assert_eq!(m.formats[1].codec(), Some(Codec::TelephoneEvent));
    assert_eq!(m.formats[1].fmtp.as_deref(), Some("0-11,16"));
    assert_eq!(sd.media_direction(0), Some(Direction::SendRecv));
    assert_eq!(
        sd.media_rtp_addr(0),
        Some("127.0.0.1:6000".parse().unwrap())
    );
}

#[test]
fn parses_webrtc_attributes_for_the_webrtc_legs() {
    let sd = parse(WEBRTC_OFFER);
    assert_eq!(sd.media.len(), 2);
    let fp = sd
        .media_fingerprint(0)
        .expect("session-level fingerprint applies");
    assert_eq!(fp.algorithm, "sha-256");
    assert_eq!(fp.value, "AB:CD:EF:01:23");
    assert_eq!(sd.media_setup(0), Some(Setup::ActPass));
    assert_eq!(
        sd.media_ice_credentials(0),
        Some(("Xy12", "abcdefghijklmnopqrstuvwx"))
    );
    let m = &sd.media[0];
    assert!(m.rtcp_mux());
    assert_eq!(m.rtcp_port(), Some(9));
    assert_eq!(m.mid(), Some("0"));
    assert_eq!(m.attributes.candidates().count(), 1);
    assert_eq!(
        m.format(111).and_then(|f| f.codec()),
        None,
        "opus is not ours"
    );
    assert_eq!(
        sd.media[1].other_formats,
        vec!["webrtc-datachannel".to_string()]
    );
    // 0.0.0.0 means "do not send to me yet": no RTP address.
    assert_eq!(sd.media_rtp_addr(0), None);
}

#[test]
fn serialised_description_parses_back_to_the_same_value() {
    for text in [SIPP_OFFER, WEBRTC_OFFER] {
        let sd = parse(text);
        let again = parse(&sd.to_string());
        assert_eq!(sd, again);
    }
    let offer = create_offer(&local());
    assert_eq!(parse(&offer.to_string()), offer);
}

#[test]
fn lf_only_line_endings_are_accepted() {
    let sd = parse(&SIPP_OFFER.replace("\r\n", "\n"));
    assert_eq!(sd.media[0].port, 6000);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [
        &b""[..],
        b"hello",
        b"v=1\r\n",
        b"v=0\r\no=bad\r\n",
        b"\xff\xfe\x00",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 not-an-ip\r\nt=0 0\r\n",
    ] {
        assert!(SessionDescription::parse(bad).is_err(), "{bad:?}");
    }
    let huge = vec![b'a'; MAX_SDP_LEN + 1];
    assert!(matches!(
        SessionDescription::parse(&huge),
        Err(SdpError::TooLarge(_))
    ));
}

#[test]
fn offer_lists_pcmu_pcma_and_telephone_event_101() {
    let offer = create_offer(&local());
    let m = &offer.media[0];
    let pts: Vec<u8> = m.formats.iter().map(|f| f.pt).collect();
    assert_eq!(pts, vec![0, 8, 101]);
    assert_eq!(
        m.format(101).and_then(|f| f.codec()),
        Some(Codec::TelephoneEvent)
    );
    assert_eq!(
        offer.media_rtp_addr(0),
        Some("10.0.0.5:20000".parse().unwrap())
    );
    assert_eq!(m.ptime(), Some(20));
    let text = offer.to_string();
    assert!(text.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{text}");
    assert!(text.contains("a=sendrecv\r\n"), "{text}");
}

#[test]
fn answer_picks_the_first_offered_codec_we_support_and_keeps_telephone_event() {
    let (answer, n) = create_answer(&parse(SIPP_OFFER), &local()).unwrap();
    assert_eq!(n.codec, Codec::Pcma);
    assert_eq!(n.payload_type, 8);
    assert_eq!(n.telephone_event_pt, Some(101));
    assert_eq!(n.remote_rtp, Some("127.0.0.1:6000".parse().unwrap()));
    assert_eq!(n.remote_rtcp, Some("127.0.0.1:6001".parse().unwrap()));
    let m = &answer.media[0];
    let pts: Vec<u8> = m.formats.iter().map(|f| f.pt).collect();
    assert_eq!(pts, vec![8, 101]);
    assert_eq!(
        m.format(101).and_then(|f| f.fmtp.as_deref()),
        Some("0-11,16")
    );
    assert_eq!(m.port, 20000);
}

#[test]
fn answer_to_a_webrtc_offer_rejects_srtp_and_data_sections_with_488() {
    // Plain RTP only here: SAVPF is the WebRTC legs' job.
    let err = create_answer(&parse(WEBRTC_OFFER), &local()).unwrap_err();
    assert_eq!(err, NegotiationError::NoAudio);
    assert_eq!(err.sip_status(), 488);
}

#[test]
fn offer_without_a_common_codec_is_rejected_with_488() {
    let offer = SIPP_OFFER
        .replace("RTP/AVP 8 101", "RTP/AVP 18 101")
        .replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:18 G729/8000");
    let err = create_answer(&parse(&offer), &local()).unwrap_err();
    assert_eq!(
        err,
        NegotiationError::NoCommonCodec {
            offered: vec![18, 101]
        }
    );
    assert_eq!(err.sip_status(), 488);
}

#[test]
fn extra_video_section_is_declined_with_port_zero_and_order_kept() {
    let offer = format!("{SIPP_OFFER}m=video 6002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n");
    let (answer, n) = create_answer(&parse(&offer), &local()).unwrap();
    assert_eq!(n.media_index, 0);
    assert_eq!(answer.media.len(), 2);
    assert_eq!(answer.media[1].kind, "video");
    assert_eq!(answer.media[1].port, 0);
    assert_eq!(answer.media[1].formats[0].pt, 96);
}

#[test]
fn hold_offer_sendonly_is_answered_recvonly() {
    let offer = format!("{SIPP_OFFER}a=sendonly\r\n");
    let (answer, n) = create_answer(&parse(&offer), &local()).unwrap();
    assert_eq!(n.remote_direction, Direction::SendOnly);
    assert_eq!(n.local_direction, Direction::RecvOnly);
    assert_eq!(answer.media_direction(0), Some(Direction::RecvOnly));
}

#[test]
fn inactive_offer_is_answered_inactive_and_resume_back_to_sendrecv() {
    let held = format!("{SIPP_OFFER}a=inactive\r\n");
    let (answer, _) = create_answer(&parse(&held), &local()).unwrap();
    assert_eq!(answer.media_direction(0), Some(Direction::Inactive));
    let resumed = format!("{SIPP_OFFER}a=sendrecv\r\n");
    let (answer, _) = create_answer(&parse(&resumed), &local()).unwrap();
    assert_eq!(answer.media_direction(0), Some(Direction::SendRecv));
}

#[test]
fn old_style_hold_with_zero_address_counts_as_not_receiving() {
    let offer = SIPP_OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    let sd = parse(&offer);
    assert_eq!(sd.media_direction(0), Some(Direction::SendOnly));
    assert_eq!(sd.media_rtp_addr(0), None);
}

#[test]
fn we_put_the_peer_on_hold_by_offering_sendonly() {
    let mut l = local();
    l.direction = Direction::SendOnly;
    l.session_version = 2;
    let offer = create_offer(&l);
    assert_eq!(offer.media_direction(0), Some(Direction::SendOnly));
    assert_eq!(offer.origin.session_version, 2);
}

#[test]
fn accepting_an_answer_yields_the_peer_choice() {
    let offer = create_offer(&local());
    let answer = parse(SIPP_OFFER);
    let n = accept_answer(&offer, &answer).unwrap();
    assert_eq!((n.payload_type, n.codec), (8, Codec::Pcma));
    assert_eq!(n.telephone_event_pt, Some(101));
    assert_eq!(
        n.payloads(),
        vec![(8, Codec::Pcma), (101, Codec::TelephoneEvent)]
    );
    assert_eq!(n.local_direction, Direction::SendRecv);
}

#[test]
fn answer_with_a_different_section_count_is_refused() {
    let offer = create_offer(&local());
    let answer = parse(&format!("{SIPP_OFFER}m=video 0 RTP/AVP 96\r\n"));
    assert_eq!(
        accept_answer(&offer, &answer),
        Err(NegotiationError::AnswerMismatch {
            offer: 1,
            answer: 2
        })
    );
}

#[test]
fn rtcp_mux_is_used_only_when_both_sides_want_it() {
    let offer = format!("{SIPP_OFFER}a=rtcp-mux\r\n");
    let (_, n) = create_answer(&parse(&offer), &local()).unwrap();
    assert!(!n.rtcp_mux, "we did not enable it");
    let mut l = local();
    l.rtcp_mux = true;
    let (answer, n) = create_answer(&parse(&offer), &l).unwrap();
    assert!(n.rtcp_mux);
    assert!(answer.media[0].rtcp_mux());
    assert_eq!(n.remote_rtcp, n.remote_rtp);
}
