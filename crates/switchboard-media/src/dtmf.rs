//! RFC 4733 telephone-event: the 4-byte payload, a decoder that turns a packet stream into
//! digit start/end events, and an encoder that produces the packets for sending one digit.

use std::collections::VecDeque;

use rtp_rs::{RtpPacketBuilder, Seq};

/// RTP clock rate of telephone-event as we negotiate it.
pub const CLOCK_RATE: u32 = 8000;
/// How many times the final (end) packet is sent, as RFC 4733 §2.5.1.4 recommends.
pub const END_REPEATS: usize = 3;

/// Why a telephone-event could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmfError {
    /// The payload is shorter than the 4-byte event block.
    #[error("telephone-event payload of {0} bytes is shorter than 4")]
    TooShort(usize),
    /// Not one of `0-9 * # A-D`.
    #[error("{0:?} is not a DTMF digit")]
    UnknownDigit(char),
    /// Longer than the 16-bit duration field can carry (about 8 s at 8 kHz).
    #[error("duration of {0} ms does not fit one event")]
    DurationTooLong(u32),
    /// The packet interval must be at least 1 ms.
    #[error("packet interval must be at least 1 ms")]
    ZeroInterval,
    /// rtp-rs refused to build the packet.
    #[error("cannot build RTP packet: {0}")]
    Build(String),
}

/// The RFC 4733 event block (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code: 0-9 digits, 10 `*`, 11 `#`, 12-15 `A`-`D`, 16 flash.
    pub event: u8,
    /// The E bit: this is (a repeat of) the final packet.
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads the first event block of a payload; extra (redundant) blocks are ignored.
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, DtmfError> {
        let &[event, flags, d0, d1, ..] = payload else {
            return Err(DtmfError::TooShort(payload.len()));
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// The 4 payload bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        let flags = (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F);
        let [d0, d1] = self.duration.to_be_bytes();
        [self.event, flags, d0, d1]
    }
}

/// The character of a DTMF event code (`0-9 * # A-D`); `None` for other events (flash, tones).
pub fn digit_of(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The event code of a DTMF character (case-insensitive for `A`-`D`).
pub fn event_of(digit: char) -> Result<u8, DtmfError> {
    match digit {
        '0'..='9' => Ok(digit as u8 - b'0'),
        '*' => Ok(10),
        '#' => Ok(11),
        'A'..='D' => Ok(digit as u8 - b'A' + 12),
        'a'..='d' => Ok(digit as u8 - b'a' + 12),
        _ => Err(DtmfError::UnknownDigit(digit)),
    }
}

/// Start or end of a key press.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfPhase {
    /// First packet of the event seen.
    Started,
    /// The event is over: end packet seen, or a new event began before it.
    Ended {
        /// Total duration in milliseconds.
        duration_ms: u32,
    },
}

/// One decoded key-press event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfEvent {
    /// Event code (see [`digit_of`]).
    pub event: u8,
    /// Start or end.
    pub phase: DtmfPhase,
    /// RTP timestamp of the event's start (the same in all its packets).
    pub rtp_timestamp: u32,
    /// Power level in -dBm0.
    pub volume: u8,
}

impl DtmfEvent {
    /// The digit pressed, if it is a DTMF digit.
    pub fn digit(&self) -> Option<char> {
        digit_of(self.event)
    }
}

#[derive(Debug, Clone, Copy)]
struct Current {
    rtp_timestamp: u32,
    event: u8,
    volume: u8,
    duration: u16,
    ended: bool,
}

/// Turns the telephone-event packets of one stream into start/end events, once each: the
/// repeated update and end packets of an event collapse into one `Started` and one `Ended`.
#[derive(Debug, Default)]
pub struct DtmfDecoder {
    current: Option<Current>,
    out: VecDeque<DtmfEvent>,
}

impl DtmfDecoder {
    /// A decoder with no event in progress.
    pub fn new() -> DtmfDecoder {
        DtmfDecoder::default()
    }

    /// Feeds one telephone-event packet (its RTP timestamp and payload).
    pub fn handle(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Result<(), DtmfError> {
        let ev = TelephoneEvent::parse(payload)?;
        match self.current {
            Some(mut cur) if cur.rtp_timestamp == rtp_timestamp => {
                if cur.ended {
                    return Ok(()); // a redundant end packet
                }
                cur.duration = cur.duration.max(ev.duration);
                if ev.end {
                    cur.ended = true;
                    self.emit_end(&cur);
                }
                self.current = Some(cur);
            }
            Some(cur) if (rtp_timestamp.wrapping_sub(cur.rtp_timestamp) as i32) < 0 => {
                // A late packet of an older event: already reported.
            }
            previous => {
                if let Some(prev) = previous.filter(|p| !p.ended) {
                    // Its end packets were lost; the new event closes it.
                    self.emit_end(&prev);
                }
                let cur = Current {
                    rtp_timestamp,
                    event: ev.event,
                    volume: ev.volume,
                    duration: ev.duration,
                    ended: ev.end,
                };
                self.out.push_back(DtmfEvent {
                    event: cur.event,
                    phase: DtmfPhase::Started,
                    rtp_timestamp,
                    volume: cur.volume,
                });
                if cur.ended {
                    self.emit_end(&cur);
                }
                self.current = Some(cur);
            }
        }
        Ok(())
    }

    /// Ends an event whose end packets never came (the stream stopped or the call was held).
    pub fn flush(&mut self) {
        if let Some(cur) = self.current.as_mut().filter(|c| !c.ended) {
            cur.ended = true;
            let cur = *cur;
            self.emit_end(&cur);
        }
    }

    fn emit_end(&mut self, cur: &Current) {
        self.out.push_back(DtmfEvent {
            event: cur.event,
            phase: DtmfPhase::Ended {
                duration_ms: u32::from(cur.duration) * 1000 / CLOCK_RATE,
            },
            rtp_timestamp: cur.rtp_timestamp,
            volume: cur.volume,
        });
    }

    /// The next decoded event.
    pub fn poll_event(&mut self) -> Option<DtmfEvent> {
        self.out.pop_front()
    }
}

/// One packet of an outgoing event, before RTP framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// When to send it, in ms after the first packet.
    pub offset_ms: u32,
    /// RTP marker: set on the first packet of the event only.
    pub marker: bool,
    /// The payload.
    pub event: TelephoneEvent,
}

/// The packets for one key press of `duration_ms`: an update every `interval_ms` with the
/// duration so far, then the end packet three times. All share the event's RTP timestamp.
pub fn encode_digit(
    digit: char,
    duration_ms: u32,
    interval_ms: u32,
    volume: u8,
) -> Result<Vec<EventPacket>, DtmfError> {
    let event = event_of(digit)?;
    if interval_ms == 0 {
        return Err(DtmfError::ZeroInterval);
    }
    let units = |ms: u32| u16::try_from(u64::from(ms) * u64::from(CLOCK_RATE) / 1000);
    let total = units(duration_ms).map_err(|_| DtmfError::DurationTooLong(duration_ms))?;
    let mut packets = Vec::new();
    let mut offset = 0;
    while offset < duration_ms {
        // Duration so far counts the packet interval being sent (RFC 4733 §2.5.1.2).
        let so_far = (offset + interval_ms).min(duration_ms);
        packets.push(EventPacket {
            offset_ms: offset,
            marker: offset == 0,
            event: TelephoneEvent {
                event,
                end: false,
                volume: volume & 0x3F,
                duration: units(so_far).unwrap_or(total),
            },
        });
        offset += interval_ms;
    }
    for _ in 0..END_REPEATS {
        packets.push(EventPacket {
            offset_ms: duration_ms,
            marker: packets.is_empty(),
            event: TelephoneEvent {
                event,
                end: true,
                volume: volume & 0x3F,
                duration: total,
            },
        });
    }
    Ok(packets)
}

/// Frames the packets of [`encode_digit`] as RTP: consecutive sequence numbers from `first_seq`,
/// all with the event's start timestamp `rtp_timestamp`. Returns `(offset_ms, bytes)` pairs.
pub fn to_rtp(
    packets: &[EventPacket],
    payload_type: u8,
    ssrc: u32,
    first_seq: u16,
    rtp_timestamp: u32,
) -> Result<Vec<(u32, Vec<u8>)>, DtmfError> {
    packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let payload = p.event.to_bytes();
            let bytes = RtpPacketBuilder::new()
                .payload_type(payload_type & 0x7F)
                .marked(p.marker)
                .ssrc(ssrc)
                .sequence(Seq::from(first_seq.wrapping_add(i as u16)))
                .timestamp(rtp_timestamp)
                .payload(&payload)
                .build()
                .map_err(|e| DtmfError::Build(format!("{e:?}")))?;
            Ok((p.offset_ms, bytes))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::RtpReader;

    fn feed(dec: &mut DtmfDecoder, ts: u32, ev: TelephoneEvent) {
        dec.handle(ts, &ev.to_bytes()).unwrap();
    }

    fn drain(dec: &mut DtmfDecoder) -> Vec<DtmfEvent> {
        std::iter::from_fn(|| dec.poll_event()).collect()
    }

    fn ev(event: u8, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
    }

    #[test]
    fn payload_layout_matches_rfc4733_figure() {
        // Digit 5, end bit, volume 10, duration 800: 05 8a 03 20.
        let bytes = ev(5, true, 800).to_bytes();
        assert_eq!(bytes, [0x05, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&bytes).unwrap(), ev(5, true, 800));
        assert_eq!(TelephoneEvent::parse(&[1, 2]), Err(DtmfError::TooShort(2)));
    }

    #[test]
    fn digits_map_to_event_codes_and_back() {
        for (c, code) in [
            ('0', 0),
            ('9', 9),
            ('*', 10),
            ('#', 11),
            ('A', 12),
            ('D', 15),
        ] {
            assert_eq!(event_of(c), Ok(code));
            assert_eq!(digit_of(code), Some(c));
        }
        assert_eq!(event_of('d'), Ok(15));
        assert_eq!(digit_of(16), None, "flash is not a digit");
        assert_eq!(event_of('x'), Err(DtmfError::UnknownDigit('x')));
    }

    #[test]
    fn three_redundant_end_packets_give_one_end_event() {
        let mut dec = DtmfDecoder::new();
        feed(&mut dec, 1000, ev(7, false, 160));
        feed(&mut dec, 1000, ev(7, false, 320));
        feed(&mut dec, 1000, ev(7, false, 480));
        for _ in 0..3 {
            feed(&mut dec, 1000, ev(7, true, 800));
        }
        let got = drain(&mut dec);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].phase, DtmfPhase::Started);
        assert_eq!(got[0].digit(), Some('7'));
        assert_eq!(got[1].phase, DtmfPhase::Ended { duration_ms: 100 });
        assert_eq!(got[1].rtp_timestamp, 1000);
    }

    #[test]
    fn lost_end_packets_are_closed_by_the_next_digit() {
        let mut dec = DtmfDecoder::new();
        feed(&mut dec, 1000, ev(1, false, 400));
        feed(&mut dec, 5000, ev(2, false, 160));
        let got = drain(&mut dec);
        let phases: Vec<_> = got.iter().map(|e| (e.digit(), e.phase)).collect();
        assert_eq!(
            phases,
            vec![
                (Some('1'), DtmfPhase::Started),
                (Some('1'), DtmfPhase::Ended { duration_ms: 50 }),
                (Some('2'), DtmfPhase::Started),
            ]
        );
        dec.flush();
        assert_eq!(
            drain(&mut dec)[0].phase,
            DtmfPhase::Ended { duration_ms: 20 }
        );
    }

    #[test]
    fn same_digit_pressed_twice_is_two_events() {
        let mut dec = DtmfDecoder::new();
        feed(&mut dec, 1000, ev(3, true, 800));
        feed(&mut dec, 1000, ev(3, true, 800));
        feed(&mut dec, 9000, ev(3, true, 800));
        let starts = drain(&mut dec)
            .iter()
            .filter(|e| e.phase == DtmfPhase::Started)
            .count();
        assert_eq!(starts, 2);
    }

    #[test]
    fn late_packet_of_an_older_event_is_ignored() {
        let mut dec = DtmfDecoder::new();
        feed(&mut dec, 9000, ev(4, false, 160));
        drain(&mut dec);
        feed(&mut dec, 1000, ev(9, true, 800));
        assert!(drain(&mut dec).is_empty());
    }

    #[test]
    fn encoder_sends_updates_then_three_end_packets() {
        let packets = encode_digit('#', 100, 20, 10).unwrap();
        assert_eq!(packets.len(), 5 + 3);
        assert!(packets[0].marker);
        assert!(packets[1..].iter().all(|p| !p.marker));
        let durations: Vec<u16> = packets.iter().map(|p| p.event.duration).collect();
        assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800, 800]);
        assert!(
            packets[5..]
                .iter()
                .all(|p| p.event.end && p.offset_ms == 100)
        );
        assert!(packets.iter().all(|p| p.event.event == 11));
        assert_eq!(
            encode_digit('1', 10_000, 20, 10),
            Err(DtmfError::DurationTooLong(10_000))
        );
        assert_eq!(encode_digit('1', 100, 0, 10), Err(DtmfError::ZeroInterval));
    }

    #[test]
    fn encoded_packets_decode_back_to_one_press_of_the_same_length() {
        let packets = encode_digit('9', 160, 20, 10).unwrap();
        let rtp = to_rtp(&packets, 101, 0xABCD, 65534, 4242).unwrap();
        let mut dec = DtmfDecoder::new();
        let mut seqs = Vec::new();
        for (_, bytes) in &rtp {
            let r = RtpReader::new(bytes).unwrap();
            assert_eq!(r.payload_type(), 101);
            assert_eq!(r.timestamp(), 4242);
            seqs.push(u16::from(r.sequence_number()));
            dec.handle(r.timestamp(), r.payload()).unwrap();
        }
        assert_eq!(&seqs[..3], &[65534, 65535, 0]);
        let got = drain(&mut dec);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].digit(), Some('9'));
        assert_eq!(got[1].phase, DtmfPhase::Ended { duration_ms: 160 });
    }
}
