//! Nonces that need no table to validate (HMAC-signed, carrying their issue time), plus a
//! bounded table of the highest nonce count seen per nonce for replay protection
//! (RFC 7616 §3.4: the nc must increase with each request that reuses a nonce).

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use switchboard_core::Timestamp;

type HmacSha256 = Hmac<Sha256>;

/// What a received nonce (and its count) amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Ours, in date, and the count moved forward.
    Fresh,
    /// Ours but too old (or pushed out of the table): challenge again with `stale=true`.
    Stale,
    /// Not ours (bad signature, bad format, or another server's key).
    Invalid,
    /// The count did not increase: a replayed request.
    Replay,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    issued: i64,
    last_nc: u32,
}

/// Issues and checks nonces.
#[derive(Debug)]
pub struct Nonces {
    key: [u8; 32],
    ttl: Duration,
    capacity: usize,
    seen: HashMap<String, Seen>,
    /// Nonces issued at or before this time (ms) that are not in `seen` were evicted, so their
    /// last count is unknown: they are treated as stale rather than trusted afresh.
    floor: i64,
}

const SIG_LEN: usize = 16;

impl Nonces {
    /// `key` signs nonces (random per process unless configured, so that several nodes can share
    /// it); `ttl` is how long a nonce lives; `capacity` bounds the replay table.
    pub fn new(key: [u8; 32], ttl: Duration, capacity: usize) -> Self {
        Nonces {
            key,
            ttl,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            floor: i64::MIN,
        }
    }

    /// A random signing key.
    pub fn random_key() -> [u8; 32] {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        key
    }

    /// A fresh nonce: hex of issue time (ms), 8 random bytes and a truncated HMAC of both.
    pub fn issue(&self, now: Timestamp) -> String {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&now.as_millis().to_be_bytes());
        rand::thread_rng().fill_bytes(&mut body[8..]);
        let sig = self.sign(&body);
        format!("{}{}", hex::encode(body), hex::encode(&sig[..SIG_LEN]))
    }

    fn sign(&self, body: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; this cannot fail for a 32-byte key.
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return Vec::new();
        };
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks signature and age only (before spending a hash on the digest).
    pub fn validate(&self, nonce: &str, now: Timestamp) -> NonceCheck {
        let Some(issued) = self.issued_at(nonce) else {
            return NonceCheck::Invalid;
        };
        let age = now.as_millis().saturating_sub(issued);
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        // A nonce from the future is as suspicious as one from long ago.
        if !(-1000..=ttl).contains(&age) {
            return NonceCheck::Stale;
        }
        NonceCheck::Fresh
    }

    /// Records `nc` for a valid nonce after the digest matched; `Replay` if it did not
    /// increase.
    pub fn record_count(&mut self, nonce: &str, nc: u32, now: Timestamp) -> NonceCheck {
        match self.validate(nonce, now) {
            NonceCheck::Fresh => {}
            other => return other,
        }
        let Some(issued) = self.issued_at(nonce) else {
            return NonceCheck::Invalid;
        };
        if let Some(seen) = self.seen.get_mut(nonce) {
            if nc <= seen.last_nc {
                return NonceCheck::Replay;
            }
            seen.last_nc = nc;
            return NonceCheck::Fresh;
        }
        if issued <= self.floor {
            return NonceCheck::Stale;
        }
        if self.seen.len() >= self.capacity {
            self.evict(now);
        }
        self.seen.insert(
            nonce.to_owned(),
            Seen {
                issued,
                last_nc: nc,
            },
        );
        NonceCheck::Fresh
    }

    /// Drops expired entries; if none expired, drops the oldest and raises the floor so it
    /// cannot be replayed.
    fn evict(&mut self, now: Timestamp) {
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now.as_millis().saturating_sub(ttl);
        self.seen.retain(|_, s| s.issued >= cutoff);
        if self.seen.len() >= self.capacity
            && let Some((oldest, issued)) = self
                .seen
                .iter()
                .min_by_key(|(_, s)| s.issued)
                .map(|(k, s)| (k.clone(), s.issued))
        {
            self.seen.remove(&oldest);
            self.floor = self.floor.max(issued);
        }
    }

    /// Nonces currently tracked for replay protection.
    pub fn tracked(&self) -> usize {
        self.seen.len()
    }

    fn issued_at(&self, nonce: &str) -> Option<i64> {
        if nonce.len() != 2 * (16 + SIG_LEN) {
            return None;
        }
        let raw = hex::decode(nonce).ok()?;
        let (body, sig) = raw.split_at(16);
        let expected = self.sign(body);
        if !bool::from(expected.get(..SIG_LEN)?.ct_eq(sig)) {
            return None;
        }
        let ts: [u8; 8] = body[..8].try_into().ok()?;
        Some(i64::from_be_bytes(ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn issued_nonce_is_fresh_then_stale_after_its_ttl() {
        let n = Nonces::new([7; 32], Duration::from_secs(300), 100);
        let nonce = n.issue(at(1000));
        assert_eq!(n.validate(&nonce, at(1299)), NonceCheck::Fresh);
        assert_eq!(n.validate(&nonce, at(1301)), NonceCheck::Stale);
    }

    #[test]
    fn forged_or_foreign_nonces_are_invalid() {
        let n = Nonces::new([7; 32], Duration::from_secs(300), 100);
        let other = Nonces::new([8; 32], Duration::from_secs(300), 100);
        let mut nonce = n.issue(at(0));
        assert_eq!(other.validate(&nonce, at(0)), NonceCheck::Invalid);
        nonce.replace_range(0..1, if nonce.starts_with('0') { "1" } else { "0" });
        assert_eq!(n.validate(&nonce, at(0)), NonceCheck::Invalid);
        assert_eq!(n.validate("zz", at(0)), NonceCheck::Invalid);
    }

    #[test]
    fn nonce_count_must_increase_for_each_reuse() {
        let mut n = Nonces::new([7; 32], Duration::from_secs(300), 100);
        let nonce = n.issue(at(0));
        assert_eq!(n.record_count(&nonce, 1, at(1)), NonceCheck::Fresh);
        assert_eq!(n.record_count(&nonce, 1, at(2)), NonceCheck::Replay);
        assert_eq!(n.record_count(&nonce, 2, at(3)), NonceCheck::Fresh);
        assert_eq!(n.record_count(&nonce, 1, at(4)), NonceCheck::Replay);
    }

    #[test]
    fn a_full_table_forgets_the_oldest_nonce_and_treats_it_as_stale() {
        let mut n = Nonces::new([7; 32], Duration::from_secs(300), 2);
        let a = n.issue(at(0));
        let b = n.issue(at(1));
        let c = n.issue(at(2));
        assert_eq!(n.record_count(&a, 1, at(3)), NonceCheck::Fresh);
        assert_eq!(n.record_count(&b, 1, at(3)), NonceCheck::Fresh);
        assert_eq!(n.record_count(&c, 1, at(3)), NonceCheck::Fresh);
        assert_eq!(n.tracked(), 2);
        // `a` was evicted: replaying it must not be accepted as new.
        assert_eq!(n.record_count(&a, 1, at(4)), NonceCheck::Stale);
    }
}
