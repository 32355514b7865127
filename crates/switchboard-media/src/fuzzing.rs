//! Harnesses for the cargo-fuzz targets in `fuzz/` (workspace root), kept here so the fuzz
//! targets and the stable regression test (`tests/fuzz_corpus.rs`, which replays every corpus
//! and crash file) run exactly the same code. Each function panics when a property is broken;
//! any other input must return normally.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use switchboard_core::Timestamp;
use switchboard_recording::Channel;
use switchboard_recording::align::{Aligner, AlignerConfig, Input, Output};

use crate::bridge::{Bridge, BridgeConfig, LegConfig, LegId};
use crate::dtmf::{DtmfDecoder, DtmfPhase, TelephoneEvent};
use crate::sdp::{
    Codec, Direction, LocalMedia, SessionDescription, accept_answer, create_answer, create_offer,
};
use crate::webrtc_leg::{check_offer, is_webrtc_sdp};

/// One SDP body from the network (an INVITE's offer, a 200's answer, a browser's offer):
/// parse, every typed reader, the plain-RTP answerer (with and without rtcp-mux), reading it as
/// the answer to our offer, and the WebRTC offer check.
///
/// Properties: what parses serialises to text that parses again and serialises to the same
/// text; an answer we build parses, and reading it back against the offer gives the codec,
/// telephone-event and section we chose.
pub fn fuzz_sdp(data: &[u8]) {
    let _ = is_webrtc_sdp(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_offer(text);
    }
    let Ok(sd) = SessionDescription::parse(data) else {
        return;
    };
    let text = sd.to_string();
    let again = match SessionDescription::parse(text.as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("serialised SDP does not parse ({e}):\n{text}"),
    };
    assert_eq!(
        again.to_string(),
        text,
        "SDP serialisation is not a fixpoint"
    );

    for i in 0..sd.media.len() {
        let _ = (
            sd.media_direction(i),
            sd.media_rtp_addr(i),
            sd.media_setup(i),
        );
        let _ = (sd.media_fingerprint(i), sd.media_ice_credentials(i));
        let m = &sd.media[i];
        let _ = (
            m.rtcp_port(),
            m.ptime(),
            m.mid(),
            m.attributes.candidates().count(),
        );
    }

    for mux in [false, true] {
        let mut local = LocalMedia::new(Ipv4Addr::new(192, 0, 2, 10).into(), 20000, 1);
        local.rtcp_mux = mux;
        if let Ok((answer, negotiated)) = create_answer(&sd, &local) {
            let answer_text = answer.to_string();
            let parsed = match SessionDescription::parse(answer_text.as_bytes()) {
                Ok(d) => d,
                Err(e) => panic!("our answer does not parse ({e}):\n{answer_text}"),
            };
            let back = match accept_answer(&sd, &parsed) {
                Ok(n) => n,
                Err(e) => panic!("our own answer is refused ({e}):\n{answer_text}"),
            };
            assert_eq!(
                (back.media_index, back.codec, back.payload_type),
                (
                    negotiated.media_index,
                    negotiated.codec,
                    negotiated.payload_type
                ),
                "the answer reads back as another codec:\n{answer_text}"
            );
            assert_eq!(back.telephone_event_pt, negotiated.telephone_event_pt);
        }
        let offer = create_offer(&local);
        let _ = accept_answer(&offer, &sd);
    }
}

/// A sequence of datagrams on both legs of a call's relay (RTP, RTCP on the RTP port with
/// rtcp-mux and on the RTCP port without, RFC 4733 events), with hold/resume and DTMF the
/// bridge sends itself, the decoded audio fed to the recording aligner as the relay does.
///
/// Input: one configuration byte, then records of `[control, length, bytes…]`. Configuration
/// bits: 0-1 rtcp-mux on leg A/B, 2 leg B negotiated PCMA only (transcoding), 3 strict source
/// IP. Control bits: 0 leg, 1 from a second address, 2-3 what (0/1 RTP port, 2 RTCP port,
/// 3 a re-INVITE: the packet's first byte picks the direction, its second a DTMF digit to
/// send), 4-7 milliseconds to advance × 10.
///
/// Properties: a forwarded packet is no longer than what came in; RFC 4733 events round-trip
/// through their 4 bytes; every key press started is ended once the decoder is flushed; the
/// aligner's output is contiguous.
pub fn fuzz_rtp_rtcp(data: &[u8]) {
    let Some((&config, mut rest)) = data.split_first() else {
        return;
    };
    let mut bridge = Bridge::new(BridgeConfig {
        audio_tap: true,
        strict_source_ip: config & 8 != 0,
        ..BridgeConfig::default()
    });
    let peers = [
        SocketAddr::from(([192, 0, 2, 1], 4000)),
        SocketAddr::from(([192, 0, 2, 2], 4002)),
    ];
    let start = Timestamp::from_millis(1_000_000);
    for (i, leg) in [LegId::A, LegId::B].into_iter().enumerate() {
        let pcma_only = leg == LegId::B && config & 4 != 0;
        let payloads = if pcma_only {
            vec![(8, Codec::Pcma), (96, Codec::TelephoneEvent)]
        } else {
            vec![
                (0, Codec::Pcmu),
                (8, Codec::Pcma),
                (101, Codec::TelephoneEvent),
            ]
        };
        bridge.configure_leg(
            leg,
            LegConfig {
                remote_rtp: Some(peers[i]),
                remote_rtcp: Some(SocketAddr::new(peers[i].ip(), peers[i].port() + 1)),
                payloads,
                remote_direction: Direction::SendRecv,
                rtcp_mux: config & (1 << i) != 0,
            },
            start,
        );
    }
    let mut aligner = match Aligner::new(&AlignerConfig::default(), start) {
        Ok(a) => a,
        Err(e) => panic!("default aligner config refused: {e}"),
    };
    let mut frames_out = 0u64;
    let mut drain_aligner = |aligner: &mut Aligner| {
        while let Some(Output::Frames { start, interleaved }) = aligner.poll_output() {
            assert_eq!(start, frames_out, "the aligner skipped or repeated frames");
            assert_eq!(interleaved.len() % 2, 0, "a stereo frame was split");
            frames_out += (interleaved.len() / 2) as u64;
        }
    };

    let mut now = start;
    while let [control, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let mut packet = tail[..n].to_vec();
        rest = &tail[n..];
        let leg = if control & 1 == 0 { LegId::A } else { LegId::B };
        let index = usize::from(control & 1);
        let from = if control & 2 == 0 {
            peers[index]
        } else {
            SocketAddr::from(([198, 51, 100, 9], 6000))
        };
        now += Duration::from_millis(u64::from(control >> 4) * 10);
        match (control >> 2) & 3 {
            0 | 1 => {
                if let Some(f) = bridge.handle_packet(leg, from, &mut packet, now) {
                    assert!(f.len <= packet.len(), "forwarded more than was received");
                }
            }
            2 => {
                if let Some(f) = bridge.handle_rtcp(leg, from, &packet, now) {
                    assert_eq!(f.len, packet.len(), "RTCP is relayed unchanged");
                }
            }
            _ => {
                let dir = match packet.first().map(|b| b & 3) {
                    Some(0) => Direction::SendOnly,
                    Some(1) => Direction::RecvOnly,
                    Some(2) => Direction::Inactive,
                    _ => Direction::SendRecv,
                };
                bridge.set_remote_direction(leg, dir, now);
                if let Some(&d) = packet.get(1) {
                    let _ = bridge.send_dtmf(
                        leg.other(),
                        char::from(d),
                        Duration::from_millis(100),
                        now,
                    );
                }
            }
        }
        bridge.handle_timeout(now);
        while bridge.poll_transmit(now).is_some() {}
        while bridge.poll_event().is_some() {}
        while let Some(frame) = bridge.poll_audio() {
            let channel = match frame.leg {
                LegId::A => Channel::Customer,
                LegId::B => Channel::Agent,
            };
            let input = Input::Audio {
                channel,
                rtp_timestamp: frame.rtp_timestamp,
                samples: &frame.samples,
            };
            // Oversized packets are refused by the aligner, as the recorder expects.
            let _ = aligner.handle(input, now);
        }
        aligner.handle_timeout(now);
        drain_aligner(&mut aligner);
    }
    let _ = aligner.finish(now + Duration::from_secs(1));
    drain_aligner(&mut aligner);
    dtmf(data);
}

/// RFC 4733 payloads alone, as `[4-byte timestamp, 4-byte payload]` records.
fn dtmf(data: &[u8]) {
    let mut dec = DtmfDecoder::new();
    let (mut started, mut ended) = (0u32, 0u32);
    let mut count = |dec: &mut DtmfDecoder| {
        while let Some(e) = dec.poll_event() {
            match e.phase {
                DtmfPhase::Started => started += 1,
                DtmfPhase::Ended { .. } => ended += 1,
            }
            assert!(ended <= started, "a key press ended before it started");
        }
    };
    for chunk in data.chunks(8) {
        let (ts, payload) = chunk.split_at(chunk.len().min(4));
        let mut b = [0u8; 4];
        b[..ts.len()].copy_from_slice(ts);
        if let Ok(ev) = TelephoneEvent::parse(payload) {
            let back = TelephoneEvent::parse(&ev.to_bytes());
            assert_eq!(back.ok(), Some(ev), "telephone-event does not round-trip");
        }
        let _ = dec.handle(u32::from_be_bytes(b), payload);
        count(&mut dec);
    }
    dec.flush();
    count(&mut dec);
    assert_eq!(started, ended, "a key press was left open after flush");
}
