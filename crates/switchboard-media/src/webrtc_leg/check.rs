//! What a WebRTC offer or answer must carry before we hand it to the WebRTC stack, checked
//! with our own SDP parser so a refusal is a typed error the SIP side can turn into a 488,
//! never a half-built peer connection.

use crate::sdp::{Codec, PayloadFormat, SessionDescription};

use super::WebRtcError;

/// The audio we will run on a WebRTC leg: one G.711 law and, when offered, telephone-event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AudioPlan {
    /// The G.711 payload type and codec, the first of PCMU/PCMA in the peer's order.
    pub(super) codec: (u8, Codec),
    /// telephone-event/8000 with its `fmtp` as the peer wrote it (so the stack matches it).
    pub(super) telephone_event: Option<(u8, Option<String>)>,
}

/// Whether `sdp` looks like a WebRTC description (DTLS-SRTP audio): the SIP side uses this to
/// pick a WebRTC leg instead of a plain RTP one.
pub fn is_webrtc_sdp(sdp: &[u8]) -> bool {
    SessionDescription::parse(sdp).is_ok_and(|d| {
        d.media
            .iter()
            .any(|m| m.is_audio() && (m.protocol.contains("SAVPF") || m.protocol.contains("/TLS/")))
    })
}

/// Checks a browser's offer (or answer) and picks the audio we serve from it.
pub(super) fn plan(sdp: &str) -> Result<AudioPlan, WebRtcError> {
    let d = SessionDescription::parse(sdp.as_bytes())
        .map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    let index = d
        .media
        .iter()
        .position(|m| m.is_audio() && m.port != 0)
        .ok_or(WebRtcError::NoAudio)?;
    let m = &d.media[index];
    if !m.protocol.contains("SAVPF") {
        return Err(WebRtcError::NotSavpf(m.protocol.clone()));
    }
    if d.media_fingerprint(index).is_none() {
        return Err(WebRtcError::NoFingerprint);
    }
    if d.media_ice_credentials(index).is_none() {
        return Err(WebRtcError::NoIceCredentials);
    }
    let codec = m
        .formats
        .iter()
        .find_map(|f| f.codec().filter(|c| c.law().is_some()).map(|c| (f.pt, c)))
        .ok_or_else(|| WebRtcError::NoG711 {
            offered: m.formats.iter().map(|f| f.pt).collect(),
        })?;
    let telephone_event = m
        .formats
        .iter()
        .find(|f| f.codec() == Some(Codec::TelephoneEvent))
        .map(|f: &PayloadFormat| (f.pt, f.fmtp.clone()));
    Ok(AudioPlan {
        codec,
        telephone_event,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// Chrome's audio offer as JsSIP sends it (trimmed of extensions we do not use).
    pub(crate) const CHROME_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=msid-semantic: WMS stream\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 0.0.0.0\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=ice-ufrag:EsAw\r\n\
a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09:DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:1001 cname:browser\r\n";

    fn without(line: &str) -> String {
        CHROME_OFFER
            .split("\r\n")
            .filter(|l| !l.starts_with(line))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    #[test]
    fn chrome_offer_is_served_with_pcmu_and_telephone_event_8000() {
        let p = plan(CHROME_OFFER).unwrap();
        assert_eq!(p.codec, (0, Codec::Pcmu));
        assert_eq!(p.telephone_event, Some((126, None)));
        assert!(is_webrtc_sdp(CHROME_OFFER.as_bytes()));
    }

    #[test]
    fn the_offers_order_between_pcmu_and_pcma_is_kept() {
        let offer = CHROME_OFFER.replace("SAVPF 111 63 9 0 8", "SAVPF 111 63 9 8 0");
        assert_eq!(plan(&offer).unwrap().codec, (8, Codec::Pcma));
    }

    #[test]
    fn an_offer_without_fingerprint_is_refused() {
        assert_eq!(
            plan(&without("a=fingerprint")),
            Err(WebRtcError::NoFingerprint)
        );
    }

    #[test]
    fn an_offer_with_only_opus_is_refused() {
        let offer = CHROME_OFFER.replace("SAVPF 111 63 9 0 8 13 110 126", "SAVPF 111");
        assert!(matches!(plan(&offer), Err(WebRtcError::NoG711 { .. })));
    }

    #[test]
    fn an_offer_without_ice_credentials_is_refused() {
        assert_eq!(
            plan(&without("a=ice-pwd")),
            Err(WebRtcError::NoIceCredentials)
        );
    }

    #[test]
    fn a_plain_rtp_offer_is_not_webrtc() {
        let offer = CHROME_OFFER.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP");
        assert!(matches!(plan(&offer), Err(WebRtcError::NotSavpf(_))));
        assert!(!is_webrtc_sdp(offer.as_bytes()));
    }

    #[test]
    fn every_refusal_is_a_488() {
        for e in [
            plan(&without("a=fingerprint")),
            plan(&CHROME_OFFER.replace("RTP/SAVPF", "RTP/AVP")),
        ] {
            assert_eq!(e.unwrap_err().sip_status(), 488);
        }
    }
}
