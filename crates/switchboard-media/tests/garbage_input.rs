//! Random bytes at every parser that faces the network: none may panic. (The cargo-fuzz targets
//! under `fuzz/` do the same with coverage guidance; these run in CI on stable.)

use std::net::SocketAddr;

use proptest::prelude::*;
use switchboard_core::Timestamp;
use switchboard_media::bridge::{Bridge, BridgeConfig, LegConfig, LegId};
use switchboard_media::dtmf::{DtmfDecoder, TelephoneEvent};
use switchboard_media::sdp::{Codec, Direction, LocalMedia, SessionDescription, create_answer};

const VALID_SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
t=0 0\r\nm=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\na=sendrecv\r\n";

fn bridge() -> Bridge {
    let mut b = Bridge::new(BridgeConfig {
        audio_tap: true,
        ..BridgeConfig::default()
    });
    for (leg, addr) in [(LegId::A, "192.0.2.1:4000"), (LegId::B, "192.0.2.2:4000")] {
        let rtp: SocketAddr = addr.parse().expect("literal address");
        b.configure_leg(
            leg,
            LegConfig {
                remote_rtp: Some(rtp),
                remote_rtcp: None,
                payloads: vec![
                    (0, Codec::Pcmu),
                    (8, Codec::Pcma),
                    (101, Codec::TelephoneEvent),
                ],
                remote_direction: Direction::SendRecv,
                rtcp_mux: true,
            },
            Timestamp::from_millis(0),
        );
    }
    b
}

/// A well-formed header followed by random media and attribute lines: most of these parse, so
/// the typed conversion, the answerer and the serialiser all get exercised, not just the lexer.
fn sdp_like() -> impl Strategy<Value = Vec<u8>> {
    let body_line = prop_oneof![
        "c=IN IP[46] [0-9a-f.:]{0,20}",
        "m=(audio|video|[a-z]{0,6}) [0-9]{1,5}(/[0-9]{1,3})? (RTP/AVP|RTP/SAVPF|[A-Z/]{0,12})( [0-9a-z-]{1,4}){0,4}",
        "a=rtpmap:[0-9]{1,3} [A-Za-z0-9-]{0,16}/[0-9]{0,6}(/[0-9]{1,2})?",
        "a=fmtp:[0-9]{1,3} [ -~]{0,12}",
        "a=(rtcp|ptime|setup|fingerprint|ice-ufrag|ice-pwd|candidate|mid):[ -~]{0,30}",
        "a=(sendonly|recvonly|inactive|sendrecv|rtcp-mux)",
    ];
    (
        prop::option::of("c=IN IP4 [0-9.]{1,15}"),
        prop::collection::vec(body_line, 0..14),
    )
        .prop_map(|(c, body)| {
            let mut text = String::from("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\n");
            if let Some(c) = c {
                text.push_str(&c);
                text.push_str("\r\n");
            }
            text.push_str("t=0 0\r\n");
            for line in body {
                text.push_str(&line);
                text.push_str("\r\n");
            }
            text.into_bytes()
        })
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N for a longer hunt.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn sdp_parser_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = SessionDescription::parse(&bytes);
    }

    #[test]
    fn sdp_parser_and_answerer_never_panic_on_sdp_shaped_text(bytes in sdp_like()) {
        if let Ok(sd) = SessionDescription::parse(&bytes) {
            let local = LocalMedia::new("127.0.0.1".parse().expect("literal"), 20000, 1);
            let _ = create_answer(&sd, &local);
            // What parsed must serialise and parse again.
            let text = sd.to_string();
            prop_assert!(SessionDescription::parse(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn sdp_parser_survives_a_valid_body_with_bytes_flipped(
        flips in prop::collection::vec((0usize..VALID_SDP.len(), any::<u8>()), 1..8)
    ) {
        let mut bytes = VALID_SDP.as_bytes().to_vec();
        for (i, b) in flips {
            bytes[i] = b;
        }
        let _ = SessionDescription::parse(&bytes);
    }

    #[test]
    fn bridge_never_panics_on_random_datagrams(
        packets in prop::collection::vec((any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)), 1..20)
    ) {
        let mut b = bridge();
        let from: SocketAddr = "192.0.2.1:4000".parse().expect("literal");
        for (i, (on_b, mut bytes)) in packets.into_iter().enumerate() {
            let leg = if on_b { LegId::B } else { LegId::A };
            let now = Timestamp::from_millis(i as i64 * 20);
            if let Some(f) = b.handle_packet(leg, from, &mut bytes, now) {
                prop_assert!(f.len <= bytes.len());
            }
            let _ = b.handle_rtcp(leg, from, &bytes, now);
            b.handle_timeout(now);
            while b.poll_event().is_some() {}
            while b.poll_audio().is_some() {}
        }
    }

    #[test]
    fn rtp_shaped_packets_with_random_headers_never_panic(
        first in any::<u8>(), second in any::<u8>(), rest in prop::collection::vec(any::<u8>(), 10..220)
    ) {
        // Version 2 forced most of the time so the parser gets past the first check.
        let mut bytes = vec![(first & 0x3F) | 0x80, second];
        bytes.extend(rest);
        let mut b = bridge();
        let from: SocketAddr = "192.0.2.1:4000".parse().expect("literal");
        let _ = b.handle_packet(LegId::A, from, &mut bytes, Timestamp::from_millis(0));
    }

    #[test]
    fn dtmf_decoder_never_panics_and_ends_what_it_starts(
        packets in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u8>(), 0..12)), 0..40)
    ) {
        let mut dec = DtmfDecoder::new();
        let (mut started, mut ended) = (0, 0);
        for (ts, payload) in packets {
            let parsed = TelephoneEvent::parse(&payload);
            prop_assert_eq!(dec.handle(ts, &payload).is_ok(), parsed.is_ok());
            while let Some(e) = dec.poll_event() {
                match e.phase {
                    switchboard_media::dtmf::DtmfPhase::Started => started += 1,
                    switchboard_media::dtmf::DtmfPhase::Ended { .. } => ended += 1,
                }
                prop_assert!(ended <= started);
            }
        }
        dec.flush();
        while let Some(e) = dec.poll_event() {
            if matches!(e.phase, switchboard_media::dtmf::DtmfPhase::Ended { .. }) {
                ended += 1;
            }
        }
        prop_assert_eq!(started, ended);
    }
}
