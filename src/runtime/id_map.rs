//! Hash maps keyed by the library's own sequential ids (calls, proxies). The keys are
//! ours, never a peer's, so SipHash's flood resistance buys nothing here, and hashing
//! showed in per-call profiles.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    /// Fibonacci hashing: odd multiplier, so consecutive ids never share low bits and the
    /// high bits (hashbrown's control byte) are well mixed.
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_buckets() {
        let low: std::collections::HashSet<u64> = (1..=1024u64)
            .map(|n| {
                let mut h = IdHasher::default();
                h.write_u64(n);
                h.finish() & 1023
            })
            .collect();
        assert_eq!(low.len(), 1024, "1,024 consecutive ids fill 1,024 buckets");
        let mut m: IdMap<u64> = IdMap::default();
        for n in 0..10_000 {
            m.insert(n, n * 2);
        }
        assert!((0..10_000).all(|n| m[&n] == n * 2));
    }
}
