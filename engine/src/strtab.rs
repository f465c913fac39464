//! Hash tables of names for reading large dumps: an [`Interner`] that lets rules
//! share equal strings, and a [`NameIndex`] from chain names to positions.
//!
//! Both keep each entry's hash beside it, so growing a table never reads the
//! strings again (a kube-proxy dump has tens of thousands of chain names and
//! comments, and re-hashing them from scattered heap memory was a tenth of the
//! parse). The hash is rustc's Fx hash: fast and not keyed, which is fine for
//! names that come from the user's own ruleset. Nothing here knows netfilter.

use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The hash both tables use.
pub fn hash_str(s: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(s)
}

/// A set of shared strings: equal text, one allocation.
#[derive(Default)]
pub struct Interner {
    table: HashTable<(u64, Arc<str>)>,
}

impl Interner {
    /// An interner sized for about `n` distinct strings.
    pub fn with_capacity(n: usize) -> Interner {
        Interner {
            table: HashTable::with_capacity(n),
        }
    }

    /// The shared copy of `s`, made on first sight.
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        let hash = hash_str(s);
        match self.table.find(hash, |(h, e)| *h == hash && **e == *s) {
            Some((_, shared)) => shared.clone(),
            None => {
                let new: Arc<str> = Arc::from(s);
                self.table
                    .insert_unique(hash, (hash, new.clone()), |(h, _)| *h);
                new
            }
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
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
    fn interner_shares_equal_strings_and_keeps_distinct_ones() {
        let mut i = Interner::default();
        let a = i.intern("KUBE-MARK-MASQ");
        let b = i.intern(&String::from("KUBE-MARK-MASQ"));
        let c = i.intern("KUBE-MARK-DROP");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*c, "KUBE-MARK-DROP");
        // Growth keeps every entry findable.
        let many: Vec<Arc<str>> = (0..10_000)
            .map(|n| i.intern(&format!("KUBE-SEP-{n}")))
            .collect();
        assert_eq!(i.len(), 10_002);
        for (n, s) in many.iter().enumerate() {
            assert!(Arc::ptr_eq(s, &i.intern(&format!("KUBE-SEP-{n}"))));
        }
    }

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
