//! Receive statistics of one RTP stream: packets, bytes, loss from sequence gaps (RFC 3550
//! A.1/A.3) and interarrival jitter (RFC 3550 A.8).

use switchboard_core::Timestamp;

/// A jump of more than this many sequence numbers ahead is a restart, not a loss burst.
const MAX_DROPOUT: u16 = 3000;
/// Packets this far behind the highest sequence number are late or duplicates.
const MAX_MISORDER: u16 = 100;

/// A snapshot of what one leg has received.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StreamStats {
    /// RTP packets accepted (duplicates included, as RFC 3550 counts them).
    pub packets: u64,
    /// Bytes of those packets, headers included.
    pub bytes: u64,
    /// Packets expected from the sequence numbers seen.
    pub expected: u64,
    /// Expected minus received, never negative.
    pub lost: u64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
}

/// Running receive statistics for the packets of one leg. A new SSRC restarts the sequence
/// and jitter tracking; the counts and the loss add up across sources.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    clock_rate: u32,
    packets: u64,
    bytes: u64,
    /// Loss and expectations of previous sources, already closed.
    prior_expected: u64,
    prior_received: u64,
    seq: Option<SeqState>,
    /// Jitter in RTP timestamp units, as in A.8 (kept as f64 instead of the 1/16 fixed point).
    jitter: f64,
    last_transit: Option<i64>,
}

#[derive(Debug, Clone, Copy)]
struct SeqState {
    base: u16,
    max: u16,
    cycles: u64,
    received: u64,
}

impl ReceiveStats {
    /// Statistics for a stream with this RTP clock rate (8000 for G.711).
    pub fn new(clock_rate: u32) -> ReceiveStats {
        ReceiveStats {
            clock_rate: clock_rate.max(1),
            packets: 0,
            bytes: 0,
            prior_expected: 0,
            prior_received: 0,
            seq: None,
            jitter: 0.0,
            last_transit: None,
        }
    }

    /// Closes the current source: its loss is kept, sequence and jitter tracking start over.
    pub fn restart_source(&mut self) {
        if let Some(s) = self.seq.take() {
            self.prior_expected += s.expected();
            self.prior_received += s.received;
        }
        self.last_transit = None;
    }

    /// Records one packet with sequence `seq` and RTP timestamp `rtp_ts`, arrived at `now`.
    pub fn record(&mut self, seq: u16, rtp_ts: u32, len: usize, now: Timestamp) {
        self.packets += 1;
        self.bytes += len as u64;
        self.update_seq(seq);
        self.update_jitter(rtp_ts, now);
    }

    fn update_seq(&mut self, seq: u16) {
        let Some(s) = &mut self.seq else {
            self.seq = Some(SeqState {
                base: seq,
                max: seq,
                cycles: 0,
                received: 1,
            });
            return;
        };
        let delta = seq.wrapping_sub(s.max);
        if delta < MAX_DROPOUT {
            if seq < s.max {
                s.cycles += 1;
            }
            s.max = seq;
            s.received += 1;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A big jump: the sender restarted its numbering. Close the old run and start again.
            self.restart_source();
            self.seq = Some(SeqState {
                base: seq,
                max: seq,
                cycles: 0,
                received: 1,
            });
        } else {
            // Late or duplicate: counted as received, the highest number does not move.
            s.received += 1;
        }
    }

    fn update_jitter(&mut self, rtp_ts: u32, now: Timestamp) {
        // Arrival time in RTP units; only differences matter so wrapping is harmless.
        let arrival = (i128::from(now.as_millis()) * i128::from(self.clock_rate) / 1000) as i64;
        let transit = arrival.wrapping_sub(i64::from(rtp_ts));
        if let Some(last) = self.last_transit {
            // Differences are taken modulo 2^32, the width of the RTP timestamp.
            let d = (transit.wrapping_sub(last) as i32).unsigned_abs();
            self.jitter += (f64::from(d) - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }

    /// The figures so far.
    pub fn snapshot(&self) -> StreamStats {
        let (cur_expected, cur_received) = self
            .seq
            .map(|s| (s.expected(), s.received))
            .unwrap_or((0, 0));
        let expected = self.prior_expected + cur_expected;
        let received = self.prior_received + cur_received;
        StreamStats {
            packets: self.packets,
            bytes: self.bytes,
            expected,
            lost: expected.saturating_sub(received),
            jitter_ms: self.jitter * 1000.0 / f64::from(self.clock_rate),
        }
    }
}

impl SeqState {
    fn expected(&self) -> u64 {
        let extended_max = (self.cycles << 16) + u64::from(self.max);
        extended_max + 1 - u64::from(self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn steady_stream_has_no_loss_and_no_jitter() {
        let mut s = ReceiveStats::new(8000);
        for i in 0..100u16 {
            s.record(1000 + i, 160 * u32::from(i), 172, at(20 * i64::from(i)));
        }
        let snap = s.snapshot();
        assert_eq!(snap.packets, 100);
        assert_eq!(snap.bytes, 17200);
        assert_eq!(snap.expected, 100);
        assert_eq!(snap.lost, 0);
        assert_eq!(snap.jitter_ms, 0.0);
    }

    #[test]
    fn sequence_gaps_count_as_loss_across_wraparound() {
        let mut s = ReceiveStats::new(8000);
        let mut t = 0;
        // 65530 .. 65535, then 0 .. 9, skipping every fourth number.
        for n in 0..16u32 {
            let seq = 65530u16.wrapping_add(n as u16);
            if n % 4 == 3 {
                continue;
            }
            s.record(seq, n * 160, 172, at(t));
            t += 20;
        }
        let snap = s.snapshot();
        assert_eq!(snap.expected, 15, "65530 through 8 inclusive");
        assert_eq!(snap.packets, 12);
        assert_eq!(snap.lost, 3);
    }

    #[test]
    fn late_packets_are_not_counted_as_lost() {
        let mut s = ReceiveStats::new(8000);
        for (i, seq) in [1u16, 2, 4, 3, 5].iter().enumerate() {
            s.record(*seq, u32::from(*seq) * 160, 172, at(i as i64 * 20));
        }
        assert_eq!(s.snapshot().lost, 0);
        assert_eq!(s.snapshot().expected, 5);
    }

    #[test]
    fn jitter_follows_rfc3550_a8_for_alternating_delay() {
        // Packets every 20 ms of media, arriving alternately on time and 10 ms late: every
        // transit difference is 80 units (10 ms), so J converges towards 80 by J += (D-J)/16.
        let mut s = ReceiveStats::new(8000);
        let mut want = 0.0f64;
        for i in 0..200i64 {
            let late = if i % 2 == 1 { 10 } else { 0 };
            s.record(i as u16, (i * 160) as u32, 172, at(i * 20 + late));
            if i > 0 {
                want += (80.0 - want) / 16.0;
            }
        }
        let got = s.snapshot().jitter_ms;
        assert!((got - want / 8.0).abs() < 1e-9, "{got} vs {}", want / 8.0);
        assert!((got - 10.0).abs() < 0.01, "converges to 10 ms, got {got}");
    }

    #[test]
    fn new_source_keeps_earlier_loss_and_restarts_tracking() {
        let mut s = ReceiveStats::new(8000);
        s.record(10, 0, 172, at(0));
        s.record(12, 320, 172, at(40)); // one lost
        s.restart_source();
        s.record(40000, 999, 172, at(60));
        s.record(40001, 1159, 172, at(80));
        let snap = s.snapshot();
        assert_eq!(snap.expected, 5);
        assert_eq!(snap.lost, 1);
        assert_eq!(snap.packets, 4);
    }
}
