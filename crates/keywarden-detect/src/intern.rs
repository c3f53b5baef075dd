//! String interning and stable hashing.
//!
//! Per-worker aggregates key their maps by small integer symbols instead of strings, so that
//! the hot path hashes each field once and allocates only for a value it has never seen.
//! Aggregates from different workers are merged by re-interning the other worker's strings.
//!
//! [`stable_hash`] gives deterministic ids (alerts, incidents) that do not depend on the
//! process, the platform or the order in which workers saw records.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// An interned string (an index into an [`Interner`]).
pub(crate) type Sym = u32;

/// The symbol of "absent": interned strings are never empty, so index 0 is reserved.
pub(crate) const NONE: Sym = 0;

/// A string table: each distinct string is stored once and named by a [`Sym`]. The index
/// holds only symbols (hashed by their text), so a new string costs one allocation.
#[derive(Debug, Clone)]
pub struct Interner {
    strings: Vec<Box<str>>,
    index: HashTable<Sym>,
}

impl Default for Interner {
    fn default() -> Self {
        Interner {
            strings: vec!["".into()],
            index: HashTable::new(),
        }
    }
}

fn hash(s: &str) -> u64 {
    FxBuildHasher.hash_one(s)
}

impl Interner {
    /// The symbol of `s`, adding it when new; empty text is [`NONE`].
    pub fn intern(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return NONE;
        }
        let h = hash(s);
        let strings = &self.strings;
        if let Some(&sym) = self
            .index
            .find(h, |&x| strings.get(x as usize).is_some_and(|t| **t == *s))
        {
            return sym;
        }
        let sym = Sym::try_from(self.strings.len()).unwrap_or(Sym::MAX);
        self.strings.push(s.into());
        let strings = &self.strings;
        self.index
            .insert_unique(h, sym, |&x| hash(strings.get(x as usize).map_or("", |t| t)));
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
        let strings = &self.strings;
        self.index
            .find(hash(s), |&x| {
                strings.get(x as usize).is_some_and(|t| **t == *s)
            })
            .copied()
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
        let strings = &self.strings;
        self.index.reserve(other.strings.len(), |&x| {
            hash(strings.get(x as usize).map_or("", |t| t))
        });
        self.strings.reserve(other.strings.len());
        other.strings.iter().map(|s| self.intern(s)).collect()
    }
}

/// The scan's symbol source: an [`Interner`] behind two caches that spare the string table's
/// hashing and memory traffic on the hot path.
///
/// - Per event: a record's facts name the same text several times (the user is also the
///   reader identity; every field again for the earliest-record context). Those texts are
///   the same slices, so they are found by address and length (then compared) until
///   [`SymCache::next_event`].
/// - Across events: a small direct-mapped table of recent values catches the few values most
///   records repeat (the tenant, Exchange's app id, the common client apps).
///
/// Both only return a symbol after comparing its text with the value, so a cache can never
/// give a wrong symbol.
#[derive(Debug, Clone)]
pub(crate) struct SymCache {
    /// (address, length, symbol) of texts resolved for the current event.
    event: Vec<(usize, usize, Sym)>,
    /// (fingerprint, symbol) slots.
    recent: Vec<(u64, Sym)>,
}

const RECENT_SLOTS: usize = 4096;

impl Default for SymCache {
    fn default() -> Self {
        SymCache {
            event: Vec::with_capacity(16),
            recent: vec![(0, NONE); RECENT_SLOTS],
        }
    }
}

impl SymCache {
    /// Forgets the per-event addresses (call before each event: its slices are new).
    pub(crate) fn next_event(&mut self) {
        self.event.clear();
    }

    /// The interner as seen through this cache.
    pub(crate) fn over<'a>(&'a mut self, syms: &'a mut Interner) -> CachedInterner<'a> {
        CachedInterner { syms, cache: self }
    }
}

/// An [`Interner`] seen through a [`SymCache`].
#[derive(Debug)]
pub(crate) struct CachedInterner<'a> {
    pub syms: &'a mut Interner,
    cache: &'a mut SymCache,
}

impl CachedInterner<'_> {
    /// The symbol of `s` (interning it when new); empty text is [`NONE`].
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if s.is_empty() {
            return NONE;
        }
        let c = &mut *self.cache;
        let at = (s.as_ptr() as usize, s.len());
        // The text is compared even on an address hit: a slice freed and another allocated
        // at the same place must not inherit its symbol. Both are in cache by now.
        if let Some(&(_, _, sym)) = c.event.iter().find(|e| (e.0, e.1) == at)
            && self.syms.text(sym) == s
        {
            return sym;
        }
        let fp = fingerprint(s);
        let slot = (fp >> 52) as usize % RECENT_SLOTS;
        let sym = match c.recent.get(slot) {
            Some(&(f, sym)) if f == fp && sym != NONE && self.syms.text(sym) == s => sym,
            _ => {
                let sym = self.syms.intern(s);
                if let Some(e) = c.recent.get_mut(slot) {
                    *e = (fp, sym);
                }
                sym
            }
        };
        if c.event.len() < 32 {
            c.event.push((at.0, at.1, sym));
        }
        sym
    }

    /// Interns an optional value (`None` → [`NONE`]).
    pub(crate) fn opt(&mut self, s: Option<&str>) -> Sym {
        s.map_or(NONE, |s| self.intern(s))
    }
}

/// A cheap fingerprint of a text from its length and its first and last eight bytes: enough
/// to tell most different values apart before any string comparison.
fn fingerprint(s: &str) -> u64 {
    let b = s.as_bytes();
    let word = |w: &[u8]| {
        let mut x = [0u8; 8];
        let n = w.len().min(8);
        x[..n].copy_from_slice(&w[..n]);
        u64::from_le_bytes(x)
    };
    let head = word(b);
    let tail = word(&b[b.len().saturating_sub(8)..]);
    (head ^ tail.rotate_left(29) ^ (b.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_mul(0xff51_afd7_ed55_8ccd)
}

/// Maps a symbol through a translation table from [`Interner::absorb`].
pub(crate) fn remap(table: &[Sym], sym: Sym) -> Sym {
    table.get(sym as usize).copied().unwrap_or(NONE)
}

/// FNV-1a over the parts, separated so that `("ab","c")` and `("a","bc")` differ.
pub(crate) fn stable_hash(parts: &[&str]) -> u64 {
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
    fn cached_interner_gives_the_interner_symbols() {
        let mut cache = SymCache::default();
        let mut syms = Interner::default();
        let texts: Vec<String> = (0..2000).map(|i| format!("value-{}", i % 700)).collect();
        for (i, t) in texts.iter().enumerate() {
            if i % 5 == 0 {
                cache.next_event();
            }
            let mut c = cache.over(&mut syms);
            let sym = c.intern(t);
            assert_eq!(c.syms.text(sym), t);
            // The same text again (another slice) and the same slice again.
            let copy = t.clone();
            assert_eq!(c.intern(&copy), sym);
            assert_eq!(c.intern(t), sym);
        }
        assert_eq!(syms.len(), 701);
        let mut c = cache.over(&mut syms);
        assert_eq!(c.intern(""), NONE);
        assert_eq!(c.opt(None), NONE);
    }

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
