//! Planner building blocks: the slot grid, "next free slot" union-find arrays and a fast hasher
//! for the planner's id lookups.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Slot grid from `now`: slot `s` is `[t0 + s·len, t0 + (s+1)·len)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    pub t0: i64,
    pub len: i64,
    pub slots: u32,
}

impl Grid {
    pub fn start(&self, s: u32) -> i64 {
        self.t0 + i64::from(s) * self.len
    }

    /// First slot starting at or after `t` (may be `slots`, meaning none).
    pub fn ceil(&self, t: i64) -> u32 {
        if t <= self.t0 {
            return 0;
        }
        let s = (t - self.t0 + self.len - 1) / self.len;
        u32::try_from(s).unwrap_or(u32::MAX).min(self.slots)
    }

    /// The slot containing `t`, if within the horizon.
    pub fn containing(&self, t: i64) -> Option<u32> {
        if t < self.t0 {
            return None;
        }
        u32::try_from((t - self.t0) / self.len)
            .ok()
            .filter(|&s| s < self.slots)
    }
}

/// "Next unmarked index at or after s" with path halving; index `n` is the end sentinel.
#[derive(Debug)]
pub(crate) struct NextFree(Vec<u32>);

impl NextFree {
    pub fn new(n: u32, free: impl Fn(u32) -> bool) -> Self {
        NextFree(
            (0..=n)
                .map(|s| if s == n || free(s) { s } else { s + 1 })
                .collect(),
        )
    }

    pub fn find(&mut self, mut s: u32) -> u32 {
        let v = &mut self.0;
        while v[s as usize] != s {
            let up = v[v[s as usize] as usize];
            v[s as usize] = up;
            s = up;
        }
        s
    }

    pub fn mark(&mut self, s: u32) {
        self.0[s as usize] = s + 1;
    }
}

/// FNV-1a: the planner looks up short ids once per task, where SipHash's DoS resistance buys
/// nothing (keys come from our own store) and costs a noticeable share of the run.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_free_skips_marked_slots_and_ends_at_the_sentinel() {
        let mut f = NextFree::new(6, |s| s != 2);
        assert_eq!(f.find(2), 3);
        f.mark(3);
        f.mark(4);
        assert_eq!(f.find(0), 0);
        assert_eq!(f.find(2), 5);
        f.mark(5);
        assert_eq!(f.find(1), 1);
        assert_eq!(f.find(2), 6, "sentinel: nothing free");
    }

    #[test]
    fn grid_rounds_up_to_the_next_slot_start() {
        let g = Grid {
            t0: 1_000,
            len: 300,
            slots: 10,
        };
        assert_eq!(g.ceil(500), 0);
        assert_eq!(g.ceil(1_000), 0);
        assert_eq!(g.ceil(1_001), 1);
        assert_eq!(g.ceil(1_300), 1);
        assert_eq!(g.ceil(1_000_000), 10);
        assert_eq!(g.containing(1_299), Some(0));
        assert_eq!(g.containing(999), None);
        assert_eq!(g.containing(4_000), None);
        assert_eq!(g.start(2), 1_600);
    }

    #[test]
    fn fnv_hashes_differ_for_different_ids() {
        use std::hash::BuildHasher;
        let b = BuildHasherDefault::<Fnv>::default();
        assert_ne!(b.hash_one("c1"), b.hash_one("c2"));
        assert_eq!(b.hash_one("c1"), b.hash_one("c1"));
    }
}
