//! A fast hasher for maps whose keys the server chooses.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A folded-multiply mix of the key's bytes, a fraction of SipHash's cost. Only for keys
/// a client cannot choose at will — random session ids, event names registered at startup
/// (a client can look them up, not insert them) — since it has no per-process key.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const MIX: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // Folded multiply: the high half of the product carries into the low bits too.
        let product = u128::from(self.0.rotate_left(5) ^ n) * u128::from(MIX);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn spreads_similar_keys() {
        let b = BuildHasherDefault::<FastHasher>::default();
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            // hashbrown uses the top 7 bits and the low bits: both must vary.
            let h = b.hash_one(format!("event-{i}"));
            seen.insert((h >> 57, h & 0xFFF));
        }
        assert!(seen.len() > 9_000, "{}", seen.len());
        let map: FastMap<String, usize> = (0..100).map(|i| (format!("e{i}"), i)).collect();
        assert!((0..100).all(|i| map[&format!("e{i}")] == i));
    }
}
