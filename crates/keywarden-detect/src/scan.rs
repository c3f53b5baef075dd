//! The scan pass: each ingest worker folds its events into per-key aggregates ([`Use`]);
//! [`ScanStage::into_scan`] merges them into one [`Scan`].
//!
//! Memory grows with distinct keys (tokens, sessions, app pairs, user/app and user/IP pairs,
//! app-days), never with events: an aggregate keeps first/last time, counts and the context of
//! its earliest record. Order-dependent judgement (first-seen, baselines) happens after the
//! merge, on these aggregates, because workers see records out of order.

use std::cmp::Ordering;
use std::sync::Mutex;

use keywarden_ingest::{Processor, Stage};
use keywarden_model::{Event, Timestamp};
use rustc_hash::FxHashMap;

use crate::config::Settings;
use crate::directory::Directory;
use crate::exposure::ThrottleLog;
use crate::facts::{Facts, Role};
use crate::intern::{CachedInterner, Interner, NONE, Sym, SymCache, remap};
use crate::keys::{Key, keys_of};

/// The context of a key's earliest record: who, where, with what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ctx {
    pub tenant: Sym,
    pub user: Sym,
    pub mailbox: Sym,
    pub ip: Sym,
    pub app: Sym,
    pub client: Sym,
    pub session: Sym,
    pub token: Sym,
}

impl Ctx {
    fn of(f: &Facts<'_>, syms: &mut CachedInterner<'_>) -> Ctx {
        Ctx {
            tenant: syms.opt(f.tenant.as_deref()),
            user: syms.opt(f.user.as_deref()),
            mailbox: syms.opt(f.mailbox.as_deref()),
            ip: syms.opt(f.ip.as_deref()),
            app: syms.opt(f.app_id.as_deref()),
            client: syms.opt(f.client_app_id.as_deref()),
            session: syms.opt(f.session_id.as_deref()),
            token: syms.opt(f.token_id.as_deref()),
        }
    }

    fn parts(&self) -> [Sym; 8] {
        [
            self.tenant,
            self.user,
            self.mailbox,
            self.ip,
            self.app,
            self.client,
            self.session,
            self.token,
        ]
    }

    fn remap(&self, t: &[Sym]) -> Ctx {
        let p = self.parts().map(|s| remap(t, s));
        Ctx {
            tenant: p[0],
            user: p[1],
            mailbox: p[2],
            ip: p[3],
            app: p[4],
            client: p[5],
            session: p[6],
            token: p[7],
        }
    }

    /// Total order by text, so that ties between equally early records resolve the same way
    /// whatever worker saw them.
    pub(crate) fn cmp_text(&self, other: &Ctx, syms: &Interner) -> Ordering {
        let (a, b) = (self.parts(), other.parts());
        a.iter()
            .zip(b.iter())
            .map(|(x, y)| syms.text(*x).cmp(syms.text(*y)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

/// The aggregate of one key.
#[derive(Debug, Clone, Default)]
pub struct Use {
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Records.
    pub count: u64,
    /// Sum of `OperationCount`.
    pub ops: i64,
    /// Context of the earliest record.
    pub ctx: Ctx,
    /// Inputs holding the key's records (interned input names), so that the collection pass
    /// re-reads only those.
    pub files: Vec<Sym>,
    /// Earliest and latest `IssuedAtTime` the key's records carry (token keys).
    pub issued: Option<(Timestamp, Timestamp)>,
    /// The input last added (always in `files`): records arrive input by input, so this spares
    /// the scan a look into `files` (another cache line) for almost every record.
    last_file: Option<Sym>,
}

impl Use {
    /// Whether a record at `time` with context `ctx` would be this key's earliest.
    fn is_earlier(&self, time: Option<Timestamp>, ctx: &dyn Fn() -> Ctx, syms: &Interner) -> bool {
        match (time, self.first) {
            _ if self.count == 0 => true,
            (Some(t), Some(f)) => {
                t < f || (t == f && ctx().cmp_text(&self.ctx, syms) == Ordering::Less)
            }
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => ctx().cmp_text(&self.ctx, syms) == Ordering::Less,
        }
    }

    fn add(&mut self, time: Option<Timestamp>, ops: i64, ctx: Option<Ctx>, file: Sym) {
        if let Some(ctx) = ctx {
            self.ctx = ctx;
        }
        if let Some(t) = time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        self.count += 1;
        self.ops = self.ops.saturating_add(ops);
        if self.last_file != Some(file) {
            if !self.files.contains(&file) {
                self.files.push(file);
            }
            self.last_file = Some(file);
        }
    }

    /// Notes an `IssuedAtTime` carried by one of the key's records.
    fn note_issued(&mut self, t: Timestamp) {
        self.issued = Some(match self.issued {
            None => (t, t),
            Some((a, b)) => (a.min(t), b.max(t)),
        });
    }

    fn merge(&mut self, other: &Use, syms: &Interner) {
        if other.count == 0 {
            return;
        }
        if let Some((a, b)) = other.issued {
            self.note_issued(a);
            self.note_issued(b);
        }
        if self.is_earlier(other.first, &|| other.ctx, syms) {
            self.ctx = other.ctx;
        }
        for t in [other.first, other.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        self.count += other.count;
        self.ops = self.ops.saturating_add(other.ops);
        for f in &other.files {
            if !self.files.contains(f) {
                self.files.push(*f);
            }
        }
    }
}

/// Everything the scan pass learned.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub syms: Interner,
    pub uses: FxHashMap<Key, Use>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub events: u64,
    /// The input of the last record folded in (a cache; any symbol is correct, it is checked).
    pub last_file: Sym,
    /// Token ids some sign-in issued, as a bit per symbol: `token-never-issued` only asks
    /// whether a token was issued, so these (the most numerous keys) need no aggregate.
    issued: Vec<u64>,
    /// Throttled mail-access times per mailbox, whoever's records (for exposure).
    pub throttling: ThrottleLog,
    /// UPN ↔ object id and app display names, from the sign-ins.
    pub identities: crate::identity::Directory,
    /// Directory changes and AD FS key theft records (rare; kept whole).
    pub directory: Directory,
    /// The hot path's symbol caches (worker-local; not merged).
    cache: SymCache,
}

impl Scan {
    /// Folds one event in.
    pub fn add(&mut self, ev: &Event<'_>, settings: &Settings, scratch: &mut Vec<Key>) {
        let f = Facts::of(ev);
        self.events += 1;
        self.directory.observe(
            ev,
            f.client_app_id.as_deref(),
            matches!(f.role, Role::MailAccess(_)),
        );
        self.throttling.observe(&f);
        self.identities.observe(ev);
        if let Some(t) = f.time {
            self.first = Some(self.first.map_or(t, |x| x.min(t)));
            self.last = Some(self.last.map_or(t, |x| x.max(t)));
        }
        scratch.clear();
        self.cache.next_event();
        keys_of(&f, settings, &mut self.cache.over(&mut self.syms), scratch);
        if scratch.is_empty() {
            return;
        }
        // Records arrive input by input: compare with the last input's name before hashing.
        let file = if self.last_file != NONE && self.syms.text(self.last_file) == ev.origin.path {
            self.last_file
        } else {
            self.last_file = self.syms.intern(ev.origin.path);
            self.last_file
        };
        let mut ctx: Option<Ctx> = None;
        for k in scratch.iter() {
            if let Key::SignIn(t) = *k {
                self.mark_issued(t);
                continue;
            }
            let u = self.uses.entry(*k).or_default();
            // The context is interned only for a record that is its key's earliest so far.
            let earlier = match (f.time, u.first) {
                _ if u.count == 0 => true,
                (Some(t), Some(first)) => t <= first,
                (Some(_), None) | (None, None) => true,
                (None, Some(_)) => false,
            };
            let this = if earlier {
                let c =
                    *ctx.get_or_insert_with(|| Ctx::of(&f, &mut self.cache.over(&mut self.syms)));
                u.is_earlier(f.time, &|| c, &self.syms).then_some(c)
            } else {
                None
            };
            u.add(f.time, f.operations, this, file);
            if let (Key::Token(..), Some(t)) = (k, f.token_issued_at) {
                u.note_issued(t);
            }
        }
    }

    /// Whether a sign-in issued the token id `token`.
    pub fn is_issued(&self, token: Sym) -> bool {
        self.issued
            .get(token as usize / 64)
            .is_some_and(|w| w & (1 << (token % 64)) != 0)
    }

    /// Number of distinct token ids sign-ins issued.
    pub fn issued_count(&self) -> usize {
        self.issued.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn mark_issued(&mut self, token: Sym) {
        let i = token as usize / 64;
        if self.issued.len() <= i {
            self.issued.resize(i + 1, 0);
        }
        if let Some(w) = self.issued.get_mut(i) {
            *w |= 1 << (token % 64);
        }
    }

    /// Merges another worker's scan into this one.
    pub fn merge(&mut self, other: Scan) {
        let t = self.syms.absorb(&other.syms);
        for (i, w) in other.issued.iter().enumerate() {
            let mut w = *w;
            while w != 0 {
                let bit = w.trailing_zeros();
                w &= w - 1;
                let sym = (i * 64) as u32 + bit;
                self.mark_issued(remap(&t, sym));
            }
        }
        // One growth up front instead of repeated re-hashing of the larger map.
        self.uses.reserve(other.uses.len());
        for (k, u) in other.uses {
            let k = remap_key(&k, &t);
            let mut u = u;
            u.ctx = u.ctx.remap(&t);
            for f in &mut u.files {
                *f = remap(&t, *f);
            }
            self.uses.entry(k).or_default().merge(&u, &self.syms);
        }
        self.throttling.merge(other.throttling);
        self.identities.merge(other.identities);
        self.events += other.events;
        self.directory.merge(other.directory);
        for t in [other.first, other.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |x| x.min(t)));
            self.last = Some(self.last.map_or(t, |x| x.max(t)));
        }
    }

    /// The aggregate of a key (sign-ins are not aggregated: see [`Scan::is_issued`]).
    pub fn get(&self, key: &Key) -> Option<&Use> {
        self.uses.get(key)
    }

    /// Text of a symbol.
    pub fn text(&self, s: Sym) -> &str {
        self.syms.text(s)
    }
}

fn remap_key(k: &Key, t: &[Sym]) -> Key {
    let r = |s: Sym| remap(t, s);
    match *k {
        Key::SignIn(a) => Key::SignIn(r(a)),
        Key::SignInHour(a, c, h) => Key::SignInHour(r(a), c, h),
        Key::SignInResource(a, b) => Key::SignInResource(r(a), r(b)),
        Key::SignInSession(a, b, c, d) => Key::SignInSession(r(a), r(b), r(c), r(d)),
        Key::Token(a, b) => Key::Token(r(a), r(b)),
        Key::Pair(a, b, c) => Key::Pair(r(a), r(b), r(c)),
        Key::MailboxPair(a, b, c, d) => Key::MailboxPair(r(a), r(b), r(c), r(d)),
        Key::UserApp(a, b) => Key::UserApp(r(a), r(b)),
        Key::AppDay(a, b, d) => Key::AppDay(r(a), r(b), d),
        Key::Reader(a, b) => Key::Reader(r(a), r(b)),
        Key::UserIp(a, b) => Key::UserIp(r(a), r(b)),
        Key::Flag(f, a, b, c) => Key::Flag(f, r(a), r(b), r(c)),
        Key::ClaimToken(a, b, c, d) => Key::ClaimToken(r(a), r(b), r(c), r(d)),
    }
}

/// The scan pass as an ingest [`Stage`].
pub struct ScanStage<'s> {
    settings: &'s Settings,
    done: Mutex<Vec<Scan>>,
}

impl<'s> ScanStage<'s> {
    pub fn new(settings: &'s Settings) -> ScanStage<'s> {
        ScanStage {
            settings,
            done: Mutex::new(Vec::new()),
        }
    }

    /// A processor for single-threaded use ([`keywarden_ingest::ingest_bytes`]).
    pub fn processor(&self) -> ScanWorker<'_> {
        ScanWorker {
            stage: self,
            scan: Scan::default(),
            scratch: Vec::new(),
        }
    }

    /// The merged scan of every worker (deterministic whatever the worker count).
    pub fn into_scan(self) -> Scan {
        self.take_scan()
    }

    /// Takes the merged scan out of a stage still borrowed elsewhere (a stage list).
    pub fn take_scan(&self) -> Scan {
        let mut parts = std::mem::take(&mut *self.done.lock().unwrap_or_else(|e| e.into_inner()));
        // Largest first, so that the biggest map is not re-hashed.
        parts.sort_by_key(|s| std::cmp::Reverse(s.uses.len()));
        let mut it = parts.into_iter();
        let mut scan = it.next().unwrap_or_default();
        for p in it {
            scan.merge(p);
        }
        scan
    }
}

impl Stage for ScanStage<'_> {
    fn worker(&self) -> Box<dyn Processor + '_> {
        Box::new(self.processor())
    }
}

/// One worker's scan.
pub struct ScanWorker<'s> {
    stage: &'s ScanStage<'s>,
    scan: Scan,
    scratch: Vec<Key>,
}

impl Processor for ScanWorker<'_> {
    fn process(&mut self, event: &Event<'_>) {
        self.scan.add(event, self.stage.settings, &mut self.scratch);
    }

    fn finish(&mut self) {
        let scan = std::mem::take(&mut self.scan);
        self.stage
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(scan);
    }
}
