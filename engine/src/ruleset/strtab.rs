//! A hash index of names for reading large dumps: [`NameIndex`], from chain
//! names to positions in a table's list of chains.
//!
//! It keeps each entry's hash beside it, so growing it never reads the names
//! again (a kube-proxy dump has tens of thousands of chains, and re-hashing
//! their names from scattered heap memory was a tenth of the parse). The hash
//! is rustc's Fx hash: fast and not keyed, which is fine for names that come
//! from the user's own ruleset. Nothing here knows netfilter.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// The hash of a name.
pub fn hash_str(s: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(s)
}

/// Names to positions in a list the caller owns: the index stores only the
/// position and the hash, and asks the caller for a position's name.
#[derive(Clone, Debug, Default)]
pub struct NameIndex {
    table: HashTable<(u64, u32)>,
}

impl NameIndex {
    /// The position whose name is `name`.
    pub fn get<'n>(&self, name: &str, name_at: impl Fn(usize) -> &'n str) -> Option<usize> {
        let hash = hash_str(name);
        self.table
            .find(hash, |&(h, i)| h == hash && name_at(i as usize) == name)
            .map(|&(_, i)| i as usize)
    }

    /// Record that `name` is at `pos` (the caller has checked it is not there yet).
    pub fn insert(&mut self, name: &str, pos: usize) {
        let hash = hash_str(name);
        let pos = u32::try_from(pos).expect("fewer than 2^32 names");
        self.table.insert_unique(hash, (hash, pos), |&(h, _)| h);
    }

    /// Rebuild from a list of names, in order.
    pub fn rebuild<'n>(&mut self, names: impl ExactSizeIterator<Item = &'n str>) {
        self.table.clear();
        self.table.reserve(names.len(), |&(h, _)| h);
        for (i, n) in names.enumerate() {
            self.insert(n, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_index_finds_positions_through_the_callers_names() {
        let names: Vec<String> = (0..5_000).map(|n| format!("CHAIN-{n}")).collect();
        let mut idx = NameIndex::default();
        idx.rebuild(names.iter().map(String::as_str));
        let at = |i: usize| names[i].as_str();
        assert_eq!(idx.get("CHAIN-4321", at), Some(4321));
        assert_eq!(idx.get("CHAIN-5000", at), None);
        assert_eq!(idx.get("", at), None);
    }
}
