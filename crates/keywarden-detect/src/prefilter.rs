//! The collection pass's pre-filter: before a record is parsed a second time, its raw bytes
//! are searched for text that every record of a wanted key must contain (a token id, a user,
//! a client app id...). A record holding none of them cannot produce a wanted key, so it is
//! passed over unparsed: the second read then costs a vectorised byte search instead of a
//! JSON parse for all but the alerts' own records.
//!
//! It must never pass over a record the collection pass would have used. So a needle is only
//! taken from a value that readers copy verbatim from the record (ids, user names, IPv4
//! addresses, up to ASCII case, which the search ignores); values that may be rewritten
//! (mailbox names decoded from Graph URLs, IPv6 addresses) are never needles; a needle is
//! restricted to characters JSON never escapes except as `\uXXXX`, and a record holding a
//! `\u` escape is always parsed. When some wanted key has no safe needle, the filter keeps
//! every record.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use rustc_hash::FxHashSet;

use crate::intern::{Interner, NONE, Sym};
use crate::keys::Key;

/// Above this many distinct needles for one kind of key, the kind falls back to its broader
/// component (all users' needles → the one client app they share), which keeps the search in
/// the vectorised small-set mode.
const MAX_NEEDLES_PER_KIND: usize = 64;

/// Needles shorter than this would match nearly every record: the key falls back.
const MIN_NEEDLE: usize = 4;

/// Which records the collection pass must parse.
#[derive(Debug, Clone)]
pub enum Prefilter {
    /// Parse every record (some wanted key has no safe needle).
    All,
    /// Parse records holding one of these needles (or a `\u` escape).
    Needles {
        /// Needles that appear in records exactly as interned (ids, IPv4 addresses).
        exact: Option<Exact>,
        /// Needles readers lower-case (user names): searched ignoring ASCII case.
        folded: Option<AhoCorasick>,
        /// Exact needles shaped like a GUID (record, session, app ids), looked up by shape.
        guids: Option<Guids>,
    },
}

impl Prefilter {
    /// The filter for a set of wanted keys over the scan's symbols.
    pub fn for_keys<'k>(keys: impl IntoIterator<Item = &'k Key>, syms: &Interner) -> Prefilter {
        let keys: Vec<&Key> = keys.into_iter().collect();
        let usable = |c: &Component| c.sym != NONE && safe(syms.text(c.sym));
        // First choice per key: its most selective safe component; per kind, the broader
        // choice when the narrow one gives too many needles.
        let narrow: Vec<Option<Component>> = keys
            .iter()
            .map(|k| components(k, true).into_iter().find(usable))
            .collect();
        let broad: Vec<Option<Component>> = keys
            .iter()
            .map(|k| components(k, false).into_iter().find(usable))
            .collect();
        let mut narrow_per_kind: [FxHashSet<Sym>; KINDS] = Default::default();
        for (k, n) in keys.iter().zip(&narrow) {
            if let Some(n) = n {
                narrow_per_kind[kind(k)].insert(n.sym);
            }
        }
        let mut exact: FxHashSet<&str> = FxHashSet::default();
        let mut folded: FxHashSet<&str> = FxHashSet::default();
        for (i, k) in keys.iter().enumerate() {
            let wide = narrow_per_kind[kind(k)].len() > MAX_NEEDLES_PER_KIND;
            let pick = if wide {
                broad[i].or(narrow[i])
            } else {
                narrow[i].or(broad[i])
            };
            let Some(c) = pick else {
                return Prefilter::All;
            };
            if c.folded {
                folded.insert(syms.text(c.sym));
            } else {
                exact.insert(syms.text(c.sym));
            }
        }
        if exact.is_empty() && folded.is_empty() {
            return Prefilter::All;
        }
        match (Exact::new(exact), searcher(folded, true)) {
            (Ok(exact), Ok(folded)) => Prefilter::Needles {
                exact,
                folded,
                guids: None,
            },
            _ => Prefilter::All,
        }
    }

    /// A filter for records holding one of `values` verbatim (ids, IPv4 addresses), for a
    /// pass that links records by value rather than by key. [`Prefilter::All`] when a value
    /// cannot be searched safely (too short, or text a reader may rewrite) or there is none.
    pub fn for_values<'v>(values: impl IntoIterator<Item = &'v str>) -> Prefilter {
        let mut exact: FxHashSet<&str> = FxHashSet::default();
        let mut guids = Guids::default();
        for v in values {
            if !safe(v) {
                return Prefilter::All;
            }
            if !guids.insert(v) {
                exact.insert(v);
            }
        }
        let guids = (!guids.0.is_empty()).then_some(guids);
        match Exact::new(exact) {
            Ok(None) if guids.is_none() => Prefilter::All,
            Ok(exact) => Prefilter::Needles {
                exact,
                folded: None,
                guids,
            },
            Err(_) => Prefilter::All,
        }
    }

    /// Whether the record whose raw bytes are `raw` may hold a wanted key.
    pub fn wants(&self, raw: &[u8]) -> bool {
        match self {
            Prefilter::All => true,
            Prefilter::Needles {
                exact,
                folded,
                guids,
            } => {
                guids.as_ref().is_some_and(|g| g.is_match(raw))
                    || exact.as_ref().is_some_and(|a| a.is_match(raw))
                    || folded.as_ref().is_some_and(|a| a.is_match(raw))
                    || memchr::memmem::find(raw, b"\\u").is_some()
            }
        }
    }

    /// Number of needles (0 when every record is parsed).
    pub fn needles(&self) -> usize {
        match self {
            Prefilter::All => 0,
            Prefilter::Needles {
                exact,
                folded,
                guids,
            } => {
                exact.as_ref().map_or(0, Exact::len)
                    + folded.as_ref().map_or(0, AhoCorasick::patterns_len)
                    + guids.as_ref().map_or(0, |g| g.0.len())
            }
        }
    }
}

/// The search for exact needles: the packed (Teddy, SIMD) searcher where the CPU and the
/// needle count allow it, which stays fast on id-dense logs where the automaton's rare-byte
/// heuristic does not (digits and hex letters are everywhere); the automaton otherwise.
#[derive(Debug, Clone)]
pub enum Exact {
    Packed(aho_corasick::packed::Searcher, usize),
    Automaton(AhoCorasick),
}

impl Exact {
    fn new(needles: FxHashSet<&str>) -> Result<Option<Exact>, aho_corasick::BuildError> {
        if needles.is_empty() {
            return Ok(None);
        }
        let list = sorted(needles);
        if let Some(p) = aho_corasick::packed::Searcher::new(list.iter()) {
            return Ok(Some(Exact::Packed(p, list.len())));
        }
        Ok(Some(Exact::Automaton(automaton(&list, false)?)))
    }

    fn is_match(&self, raw: &[u8]) -> bool {
        match self {
            Exact::Packed(p, _) => p.find(raw).is_some(),
            Exact::Automaton(a) => a.is_match(raw),
        }
    }

    fn len(&self) -> usize {
        match self {
            Exact::Packed(_, n) => *n,
            Exact::Automaton(a) => a.patterns_len(),
        }
    }
}

/// Exact needles shaped like a GUID (`8-4-4-4-12`: 36 bytes, dashes at 8, 13, 18 and 23),
/// found by shape instead of by an automaton: every dash in the raw bytes that could open
/// such a text is checked, and the 36 bytes looked up in a set. Any occurrence of a needle has
/// its first dash at its offset 8, so none is missed. A search for thousands of record ids
/// (the exposure pass of a large lead incident) costs a `memchr` and a few hash lookups per
/// record, where the automaton cost 40 % of a hunt.
#[derive(Debug, Clone, Default)]
pub struct Guids(FxHashSet<[u8; GUID_LEN]>);

const GUID_LEN: usize = 36;
const GUID_DASHES: [usize; 4] = [8, 13, 18, 23];

impl Guids {
    /// Adds `v` if it is shaped like a GUID; false (not added) otherwise.
    fn insert(&mut self, v: &str) -> bool {
        match guid_at(v.as_bytes(), 0) {
            Some(g) if v.len() == GUID_LEN => {
                self.0.insert(g);
                true
            }
            _ => false,
        }
    }

    fn is_match(&self, raw: &[u8]) -> bool {
        memchr::memchr_iter(b'-', raw).any(|dash| {
            dash.checked_sub(GUID_DASHES[0])
                .and_then(|start| guid_at(raw, start))
                .is_some_and(|g| self.0.contains(&g))
        })
    }
}

/// Whether `text` is shaped like a GUID (`8-4-4-4-12`): the one test of that shape, used by
/// the search above and by incident linking (a record id of that shape is globally unique).
pub(crate) fn guid_shaped(text: &str) -> bool {
    text.len() == GUID_LEN && guid_at(text.as_bytes(), 0).is_some()
}

/// The 36 bytes at `start` if they have a GUID's dashes.
fn guid_at(raw: &[u8], start: usize) -> Option<[u8; GUID_LEN]> {
    let text = raw.get(start..start.checked_add(GUID_LEN)?)?;
    let dashes = GUID_DASHES.iter().all(|&d| text.get(d) == Some(&b'-'));
    if !dashes {
        return None;
    }
    text.try_into().ok()
}

/// One component of a key: its symbol, and whether readers fold its case (user names).
#[derive(Debug, Clone, Copy)]
struct Component {
    sym: Sym,
    folded: bool,
}

/// A searcher for a set of needles (`None` for an empty set). Exact needles keep the
/// vectorised packed search; folded ones (user names, lower-cased by the readers) are found
/// whatever their case in the record.
fn searcher(
    needles: FxHashSet<&str>,
    ignore_case: bool,
) -> Result<Option<AhoCorasick>, aho_corasick::BuildError> {
    if needles.is_empty() {
        return Ok(None);
    }
    automaton(&sorted(needles), ignore_case).map(Some)
}

/// The needles in a fixed order (the automaton's match order does not depend on hashing).
fn sorted(needles: FxHashSet<&str>) -> Vec<&str> {
    let mut list: Vec<&str> = needles.into_iter().collect();
    list.sort_unstable();
    list
}

/// Needle text above which the automaton is an NFA rather than a DFA (memory: a DFA state per
/// needle byte, ~150 bytes each; 18 339 record ids of 36 bytes, 660 KB, cost about 100 MB).
const MAX_DFA_NEEDLE_BYTES: usize = 512 * 1024;

fn automaton(list: &[&str], ignore_case: bool) -> Result<AhoCorasick, aho_corasick::BuildError> {
    // A DFA: the default for large sets is an NFA behind a rare-byte prefilter, and on
    // id-dense logs (digits and hex letters everywhere) both are slow per byte: the exposure
    // pass's search for thousands of record ids took 40 % of a hunt (`perf`), 2x its wall time.
    let bytes: usize = list.iter().map(|n| n.len()).sum();
    let kind = if bytes <= MAX_DFA_NEEDLE_BYTES {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    };
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(ignore_case)
        .match_kind(MatchKind::LeftmostFirst)
        .kind(Some(kind))
        .prefilter(false)
        .build(list)
}

/// Key kinds, for the per-kind needle budget.
const KINDS: usize = 11;

fn kind(k: &Key) -> usize {
    match k {
        Key::SignIn(..) => 0,
        Key::SignInHour(..) | Key::SignInResource(..) | Key::SignInSession(..) => 1,
        Key::Token(..) => 2,
        Key::Pair(..) => 3,
        Key::MailboxPair(..) => 4,
        Key::UserApp(..) => 5,
        Key::AppDay(..) => 6,
        Key::Reader(..) => 7,
        Key::UserIp(..) => 8,
        Key::Flag(..) => 9,
        Key::ClaimToken(..) => 10,
    }
}

/// A key's components that readers copy verbatim, most selective first (`narrow`) or the
/// broader, shared ones first. Mailboxes are never listed: Graph readers decode them from
/// request URLs. Users are lower-cased by the readers, so they are searched ignoring case.
fn components(k: &Key, narrow: bool) -> Vec<Component> {
    let id = |sym| Component { sym, folded: false };
    let user = |sym| Component { sym, folded: true };
    let ordered = |a: Vec<Component>| {
        if narrow {
            a
        } else {
            a.into_iter().rev().collect()
        }
    };
    match *k {
        Key::SignIn(t) => vec![id(t)],
        Key::SignInHour(t, ..) => vec![id(t)],
        Key::SignInResource(t, r) => ordered(vec![id(r), id(t)]),
        Key::SignInSession(t, se, ..) => ordered(vec![id(se), id(t)]),
        Key::Token(tenant, t) => ordered(vec![id(t), id(tenant)]),
        Key::Pair(tenant, app, client) => ordered(vec![id(client), id(app), id(tenant)]),
        Key::MailboxPair(tenant, _, app, client) => ordered(vec![id(client), id(app), id(tenant)]),
        Key::UserApp(u, client) => ordered(vec![user(u), id(client)]),
        Key::AppDay(tenant, client, _) => ordered(vec![id(client), id(tenant)]),
        // The identity is a user or, without one, the client app id.
        Key::Reader(identity, _) => vec![user(identity)],
        Key::UserIp(u, ip) => ordered(vec![user(u), id(ip)]),
        Key::Flag(_, tenant, indicator, _) => ordered(vec![id(indicator), id(tenant)]),
        Key::ClaimToken(tenant, _, _, t) => ordered(vec![id(t), id(tenant)]),
    }
}

/// Whether a value can only appear in a record as itself: characters JSON never escapes
/// (other than as `\uXXXX`, which forces a parse), and long enough to be selective. An IPv6
/// address (it holds `:`) is excluded, since readers may rewrite its text.
fn safe(text: &str) -> bool {
    text.len() >= MIN_NEEDLE
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syms(texts: &[&str]) -> (Interner, Vec<Sym>) {
        let mut i = Interner::default();
        let s = texts.iter().map(|t| i.intern(t)).collect();
        (i, s)
    }

    #[test]
    fn token_keys_search_for_their_exact_token() {
        let (i, s) = syms(&["tenant-0001", "TokenAbc_123-xyz"]);
        let f = Prefilter::for_keys(&[Key::Token(s[0], s[1])], &i);
        assert_eq!(f.needles(), 1);
        assert!(f.wants(br#"{"UniqueTokenId":"TokenAbc_123-xyz"}"#));
        assert!(!f.wants(br#"{"UniqueTokenId":"other-token"}"#));
        // Readers keep ids as written, so another case is another token.
        assert!(!f.wants(br#"{"UniqueTokenId":"tokenabc_123-XYZ"}"#));
    }

    #[test]
    fn records_with_unicode_escapes_are_always_parsed() {
        let (i, s) = syms(&["tenant-0001", "TokenAbc_123-xyz"]);
        let f = Prefilter::for_keys(&[Key::Token(s[0], s[1])], &i);
        assert!(f.wants(br#"{"UniqueTokenId":"\u0054okenAbc_123-xyz"}"#));
    }

    #[test]
    fn unsafe_values_fall_back_to_parsing_everything() {
        // A mailbox-only key (Reader with an IPv6 identity) has no verbatim component.
        let (i, s) = syms(&["2001:db8::1", "ceo@contoso.com"]);
        let f = Prefilter::for_keys(&[Key::Reader(s[0], s[1])], &i);
        assert!(matches!(f, Prefilter::All));
        assert!(f.wants(b"anything"));
    }

    #[test]
    fn many_users_of_one_app_search_for_the_app() {
        let mut i = Interner::default();
        let client = i.intern("11111111-2222-3333-4444-555555555555");
        let keys: Vec<Key> = (0..200)
            .map(|n| Key::UserApp(i.intern(&format!("user{n}@contoso.com")), client))
            .collect();
        let f = Prefilter::for_keys(&keys, &i);
        assert_eq!(f.needles(), 1);
        assert!(f.wants(br#"{"ClientAppId":"11111111-2222-3333-4444-555555555555"}"#));
        assert!(!f.wants(br#"{"UserId":"user7@contoso.com"}"#));
    }

    #[test]
    fn guid_values_are_found_by_shape_wherever_they_stand() {
        let ids: Vec<String> = (0..5000)
            .map(|n| format!("{n:08x}-b018-4684-9cc6-65c462bcfa53"))
            .collect();
        let f = Prefilter::for_values(ids.iter().map(String::as_str).chain(["TokenAbc_123"]));
        assert_eq!(f.needles(), 5001);
        assert!(matches!(&f, Prefilter::Needles { guids: Some(g), .. } if g.0.len() == 5000));
        let hit = format!(r#"{{"Id":"{}","x":1}}"#, ids[4321]);
        assert!(f.wants(hit.as_bytes()));
        // At the very start and end of the bytes, after other dashes, and next to other GUIDs.
        assert!(f.wants(ids[0].as_bytes()));
        assert!(f.wants(format!("--{}", ids[7]).as_bytes()));
        assert!(f.wants(format!("ffffffff-{}", ids[9]).as_bytes()));
        assert!(f.wants(br#"{"t":"TokenAbc_123"}"#));
        // Another GUID, one differing in case or a byte, a truncated one: passed over.
        assert!(!f.wants(br#"{"Id":"00000000-b018-4684-9cc6-65c462bcfa54"}"#));
        assert!(!f.wants(br#"{"Id":"00000000-B018-4684-9cc6-65c462bcfa53"}"#));
        assert!(!f.wants(br#"{"Id":"00000000-b018-4684-9cc6-65c462bcfa5"}"#));
        assert!(!f.wants(b"-"));
        // Only GUIDs: still a filter.
        let only = Prefilter::for_values([ids[1].as_str()]);
        assert!(only.wants(ids[1].as_bytes()) && !only.wants(ids[2].as_bytes()));
    }

    #[test]
    fn few_users_are_searched_by_user() {
        let mut i = Interner::default();
        let client = i.intern("11111111-2222-3333-4444-555555555555");
        let keys: Vec<Key> = (0..3)
            .map(|n| Key::UserApp(i.intern(&format!("user{n}@contoso.com")), client))
            .collect();
        let f = Prefilter::for_keys(&keys, &i);
        assert_eq!(f.needles(), 3);
        assert!(!f.wants(br#"{"ClientAppId":"11111111-2222-3333-4444-555555555555"}"#));
        assert!(f.wants(br#"{"UserId":"USER1@contoso.com"}"#));
    }

    #[test]
    fn values_are_searched_verbatim_and_unsafe_ones_parse_everything() {
        let f = Prefilter::for_values(["TokenAbc_123", "203.0.113.9"]);
        assert_eq!(f.needles(), 2);
        assert!(f.wants(br#"{"ClientIP":"203.0.113.9"}"#));
        assert!(!f.wants(br#"{"ClientIP":"203.0.113.8"}"#));
        assert!(matches!(
            Prefilter::for_values(["TokenAbc_123", "2001:db8::1"]),
            Prefilter::All
        ));
        assert!(matches!(Prefilter::for_values([]), Prefilter::All));
    }

    #[test]
    fn no_keys_means_parse_everything() {
        let i = Interner::default();
        assert!(matches!(Prefilter::for_keys(&[], &i), Prefilter::All));
    }
}
