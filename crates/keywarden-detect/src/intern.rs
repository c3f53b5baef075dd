//! String interning and stable hashing.
//!
//! Per-worker aggregates key their maps by small integer symbols instead of strings, so that
//! the hot path hashes each field once and allocates only for a value it has never seen.
//! Aggregates from different workers are merged by re-interning the other worker's strings.
//!
//! [`stable_hash`] gives deterministic ids (alerts, incidents) that do not depend on the
//! process, the platform or the order in which workers saw records.

use rustc_hash::FxHashMap;

/// An interned string (an index into an [`Interner`]).
pub type Sym = u32;

/// The symbol of "absent": interned strings are never empty, so index 0 is reserved.
pub const NONE: Sym = 0;

/// A string table: each distinct string is stored once and named by a [`Sym`].
#[derive(Debug, Clone)]
pub struct Interner {
    strings: Vec<Box<str>>,
    index: FxHashMap<Box<str>, Sym>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            strings: vec!["".into()],
            index: FxHashMap::default(),
        }
    }
}

impl Interner {
    /// The symbol of `s`, adding it when new; empty text is [`NONE`].
    pub fn intern(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return NONE;
        }
        if let Some(&sym) = self.index.get(s) {
            return sym;
        }
        let sym = Sym::try_from(self.strings.len()).unwrap_or(Sym::MAX);
        self.strings.push(s.into());
        self.index.insert(s.into(), sym);
        sym
    }

    /// Interns an optional value (`None` → [`NONE`]).
    pub fn opt(&mut self, s: Option<&str>) -> Sym {
        s.map_or(NONE, |s| self.intern(s))
    }

    /// The symbol of `s` if it was ever interned (read-only lookup for the second pass).
    pub fn find(&self, s: &str) -> Option<Sym> {
        if s.is_empty() {
            return Some(NONE);
        }
        self.index.get(s).copied()
    }

    /// The text of a symbol (`""` for [`NONE`] or an unknown symbol).
    pub fn text(&self, sym: Sym) -> &str {
        self.strings.get(sym as usize).map_or("", |s| s)
    }

    /// The text of a symbol, `None` for [`NONE`].
    pub fn get(&self, sym: Sym) -> Option<&str> {
        if sym == NONE {
            None
        } else {
            self.strings.get(sym as usize).map(|s| &**s)
        }
    }

    /// An owned copy for an alert field.
    pub fn owned(&self, sym: Sym) -> Option<String> {
        self.get(sym).map(str::to_owned)
    }

    /// Number of distinct strings (including the reserved empty one).
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.len() <= 1
    }

    /// A translation table from `other`'s symbols to this interner's, interning as needed.
    pub fn absorb(&mut self, other: &Interner) -> Vec<Sym> {
        other.strings.iter().map(|s| self.intern(s)).collect()
    }
}

/// Maps a symbol through a translation table from [`Interner::absorb`].
pub fn remap(table: &[Sym], sym: Sym) -> Sym {
    table.get(sym as usize).copied().unwrap_or(NONE)
}

/// FNV-1a over the parts, separated so that `("ab","c")` and `("a","bc")` differ.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_empty_is_none() {
        let mut i = Interner::default();
        let a = i.intern("alice");
        assert_eq!(i.intern("alice"), a);
        assert_eq!(i.intern(""), NONE);
        assert_eq!(i.text(a), "alice");
        assert_eq!(i.get(NONE), None);
        assert_eq!(i.find("bob"), None);
        assert_eq!(i.find("alice"), Some(a));
    }

    #[test]
    fn absorb_translates_symbols() {
        let mut a = Interner::default();
        let mut b = Interner::default();
        a.intern("x");
        let by = b.intern("y");
        let bx = b.intern("x");
        let t = a.absorb(&b);
        assert_eq!(a.text(remap(&t, by)), "y");
        assert_eq!(remap(&t, bx), a.find("x").unwrap_or(NONE));
        assert_eq!(remap(&t, 999), NONE);
    }

    #[test]
    fn stable_hash_separates_parts() {
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(stable_hash(&["x"]), stable_hash(&["x"]));
        // Pinned: ids in alerts.jsonl must not change between releases.
        assert_eq!(stable_hash(&[]), 0xcbf2_9ce4_8422_2325);
    }
}
