//! RTP/RTCP port pairs from the configured range (default 20000-29999): an even port for RTP,
//! the next odd one for RTCP. Pure bookkeeping; the driver binds the sockets.

use std::ops::RangeInclusive;

/// The default media port range of the service.
pub const DEFAULT_RANGE: RangeInclusive<u16> = 20000..=29999;

/// Why a port pair could not be given or taken back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The range holds no even port whose odd neighbour is also inside it.
    #[error("port range {start}-{end} holds no RTP/RTCP pair")]
    EmptyRange {
        /// First port of the range.
        start: u16,
        /// Last port of the range.
        end: u16,
    },
    /// Every pair is in use.
    #[error("all {capacity} RTP port pairs are in use")]
    Exhausted {
        /// Pairs in the range.
        capacity: usize,
    },
    /// The port is not an RTP port of this allocator, or is not in use.
    #[error("RTP port {0} is not allocated")]
    NotAllocated(u16),
}

/// A pair handed out by the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortPair {
    /// Even port for RTP (and RTCP with rtcp-mux).
    pub rtp: u16,
    /// `rtp + 1`, for RTCP.
    pub rtcp: u16,
}

/// Hands out RTP/RTCP port pairs round-robin, so a port just freed is the last to be reused
/// (late packets of the old call then find no one).
#[derive(Debug, Clone)]
pub struct PortAllocator {
    first: u16,
    used: Vec<bool>,
    in_use: usize,
    next: usize,
}

impl PortAllocator {
    /// An allocator over `range`; pairs start at the first even port.
    pub fn new(range: RangeInclusive<u16>) -> Result<PortAllocator, PortError> {
        let (start, end) = (*range.start(), *range.end());
        let first = start.saturating_add(start % 2);
        // Pairs (p, p+1) with p even and p+1 <= end.
        let pairs = if first < end {
            usize::from((end - first - 1) / 2) + 1
        } else {
            0
        };
        if pairs == 0 || start > end {
            return Err(PortError::EmptyRange { start, end });
        }
        Ok(PortAllocator {
            first,
            used: vec![false; pairs],
            in_use: 0,
            next: 0,
        })
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.used.len()
    }

    /// How many pairs are handed out.
    pub fn in_use(&self) -> usize {
        self.in_use
    }

    /// The next free pair.
    pub fn allocate(&mut self) -> Result<PortPair, PortError> {
        let n = self.used.len();
        if self.in_use == n {
            return Err(PortError::Exhausted { capacity: n });
        }
        for step in 0..n {
            let i = (self.next + step) % n;
            if !self.used[i] {
                self.used[i] = true;
                self.in_use += 1;
                self.next = (i + 1) % n;
                let rtp = self.port_of(i);
                return Ok(PortPair { rtp, rtcp: rtp + 1 });
            }
        }
        Err(PortError::Exhausted { capacity: n })
    }

    /// Gives back the pair whose RTP port is `rtp`.
    pub fn release(&mut self, rtp: u16) -> Result<(), PortError> {
        let i = self.index_of(rtp).ok_or(PortError::NotAllocated(rtp))?;
        if !self.used[i] {
            return Err(PortError::NotAllocated(rtp));
        }
        self.used[i] = false;
        self.in_use -= 1;
        Ok(())
    }

    fn port_of(&self, index: usize) -> u16 {
        // index < pairs, and pairs were counted inside a u16 range, so this cannot overflow.
        self.first + 2 * index as u16
    }

    fn index_of(&self, rtp: u16) -> Option<usize> {
        if rtp < self.first || !(rtp - self.first).is_multiple_of(2) {
            return None;
        }
        let i = usize::from((rtp - self.first) / 2);
        (i < self.used.len()).then_some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_range_gives_five_thousand_even_odd_pairs() {
        let mut ports = PortAllocator::new(DEFAULT_RANGE).unwrap();
        assert_eq!(ports.capacity(), 5000);
        let p = ports.allocate().unwrap();
        assert_eq!(
            p,
            PortPair {
                rtp: 20000,
                rtcp: 20001
            }
        );
        let q = ports.allocate().unwrap();
        assert_eq!(q.rtp, 20002);
        assert_eq!(ports.in_use(), 2);
    }

    #[test]
    fn odd_start_and_end_are_trimmed_to_whole_pairs() {
        let mut ports = PortAllocator::new(10001..=10006).unwrap();
        assert_eq!(ports.capacity(), 2);
        assert_eq!(ports.allocate().unwrap().rtp, 10002);
        assert_eq!(
            ports.allocate().unwrap(),
            PortPair {
                rtp: 10004,
                rtcp: 10005
            }
        );
    }

    #[test]
    fn range_without_a_pair_is_refused() {
        assert!(matches!(
            PortAllocator::new(5000..=5000),
            Err(PortError::EmptyRange { .. })
        ));
        assert!(matches!(
            PortAllocator::new(5001..=5001),
            Err(PortError::EmptyRange { .. })
        ));
        let (high, low) = (6000, 5000);
        assert!(PortAllocator::new(high..=low).is_err(), "reversed range");
        assert_eq!(PortAllocator::new(65534..=65535).unwrap().capacity(), 1);
    }

    #[test]
    fn exhausted_range_is_an_error_until_a_pair_is_released() {
        let mut ports = PortAllocator::new(4000..=4005).unwrap();
        let a = ports.allocate().unwrap();
        let _b = ports.allocate().unwrap();
        let _c = ports.allocate().unwrap();
        assert_eq!(ports.allocate(), Err(PortError::Exhausted { capacity: 3 }));
        ports.release(a.rtp).unwrap();
        assert_eq!(ports.allocate().unwrap(), a);
    }

    #[test]
    fn freed_port_is_reused_last() {
        let mut ports = PortAllocator::new(4000..=4007).unwrap();
        let a = ports.allocate().unwrap();
        ports.release(a.rtp).unwrap();
        let order: Vec<u16> = (0..4).map(|_| ports.allocate().unwrap().rtp).collect();
        assert_eq!(order, vec![4002, 4004, 4006, 4000]);
    }

    #[test]
    fn releasing_a_foreign_or_free_port_is_an_error() {
        let mut ports = PortAllocator::new(4000..=4007).unwrap();
        assert_eq!(ports.release(4000), Err(PortError::NotAllocated(4000)));
        let a = ports.allocate().unwrap();
        assert_eq!(ports.release(a.rtcp), Err(PortError::NotAllocated(a.rtcp)));
        assert_eq!(ports.release(9000), Err(PortError::NotAllocated(9000)));
        ports.release(a.rtp).unwrap();
        assert_eq!(ports.release(a.rtp), Err(PortError::NotAllocated(a.rtp)));
        assert_eq!(ports.in_use(), 0);
    }
}
