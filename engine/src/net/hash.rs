//! The hasher for the engine's small, trusted keys: FNV-1a, and [`NameMap`],
//! a map keyed by names. Fast and not keyed (names and tuples come from the
//! user's own ruleset and packets, not from an attacker on a network).
//!
//! It knows nothing of netfilter. It sits in the network-state layer because
//! that is the lowest layer that uses it (the host's interface index, the
//! connection table's tuple index, the walk's and the pipeline's rule
//! indexes); the ruleset layer uses rustc-hash's Fx hash instead (see
//! [`crate::ruleset::strtab`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: chain names are short and trusted, so a fast non-keyed hash is fine.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf29ce484222325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ *b as u64).wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}

/// A map keyed by chain names.
pub type NameMap<V> = HashMap<String, V, BuildHasherDefault<Fnv>>;
