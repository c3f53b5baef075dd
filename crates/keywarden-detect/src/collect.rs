//! The collection pass: a second read of the inputs that gathers, for each candidate alert,
//! every record id it covers, its linking values (tokens, sessions, IPs), its weak signals and
//! the mailboxes its mail-access records reached (what they read is the exposure pass's job,
//! once incidents are known: [`crate::exposure_pass`]).
//!
//! A record the inputs hold more than once counts once ([`RecordCopies`]): the later copies
//! are counted per candidate as `repeated` and in all as [`Gathered::repeated_records`].
//!
//! It runs only when the rules produced candidates, and keeps only what the alerts report, so
//! a clean tenant never pays for it and memory stays proportional to the alerts' records.

use std::collections::BTreeSet;
use std::sync::Mutex;

use keywarden_ingest::{Processor, Stage};
use keywarden_model::Event;
use rustc_hash::FxHashMap;

use crate::config::Settings;
use crate::copies::RecordCopies;
use crate::facts::{Facts, Role};
use crate::keys::{Key, Lookup, keys_of, off_hours};
use crate::prefilter::Prefilter;
use crate::rules::Plan;

/// Everything gathered for one candidate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gather {
    pub record_ids: Vec<String>,
    pub tokens: BTreeSet<String>,
    pub sessions: BTreeSet<String>,
    pub ips: BTreeSet<String>,
    pub users: BTreeSet<String>,
    pub records: u64,
    pub rest: u64,
    pub off_hours: u64,
    pub new_ip: u64,
    /// Later copies of records already counted (held again by the inputs), not in `records`.
    pub repeated: u64,
    /// Mailboxes the candidate's mail-access records reached.
    pub mailboxes: BTreeSet<String>,
}

impl Gather {
    fn merge(&mut self, other: Gather) {
        self.record_ids.extend(other.record_ids);
        self.tokens.extend(other.tokens);
        self.sessions.extend(other.sessions);
        self.ips.extend(other.ips);
        self.users.extend(other.users);
        self.records += other.records;
        self.rest += other.rest;
        self.off_hours += other.off_hours;
        self.new_ip += other.new_ip;
        self.repeated += other.repeated;
        self.mailboxes.extend(other.mailboxes);
    }
}

/// What the collection pass gathered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gathered {
    /// Per candidate, indexed like `plan.candidates`.
    pub candidates: Vec<Gather>,
    /// Records the candidates cover that the inputs held more than once: the later copies,
    /// counted once ([`RecordCopies`]).
    pub repeated_records: u64,
}

/// The collection pass as an ingest [`Stage`].
pub struct CollectStage<'p> {
    plan: &'p Plan,
    settings: &'p Settings,
    prefilter: Prefilter,
    copies: RecordCopies,
    done: Mutex<Vec<FxHashMap<u32, Gather>>>,
}

impl<'p> CollectStage<'p> {
    pub fn new(plan: &'p Plan, settings: &'p Settings) -> CollectStage<'p> {
        let prefilter = Prefilter::for_keys(plan.wanted.keys(), &plan.scan.syms);
        CollectStage::with_prefilter(plan, settings, prefilter)
    }

    /// A stage with a given pre-filter ([`Prefilter::All`] parses every record: the reference
    /// the pre-filter is tested against).
    pub fn with_prefilter(
        plan: &'p Plan,
        settings: &'p Settings,
        prefilter: Prefilter,
    ) -> CollectStage<'p> {
        CollectStage {
            plan,
            settings,
            prefilter,
            copies: RecordCopies::new(),
            done: Mutex::new(Vec::new()),
        }
    }

    /// The raw-bytes pre-filter this pass uses (for figures and tests).
    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// A processor for single-threaded use.
    pub fn processor(&self) -> CollectWorker<'_> {
        CollectWorker {
            stage: self,
            gathered: FxHashMap::default(),
            keys: Vec::new(),
            hits: Vec::new(),
        }
    }

    /// Gathers per candidate index, merged over workers, record ids sorted and unique.
    pub fn into_gathered(self) -> Gathered {
        let mut out = vec![Gather::default(); self.plan.candidates.len()];
        for part in self.done.into_inner().unwrap_or_else(|e| e.into_inner()) {
            for (i, g) in part {
                if let Some(slot) = out.get_mut(i as usize) {
                    slot.merge(g);
                }
            }
        }
        for g in &mut out {
            g.record_ids.sort();
            g.record_ids.dedup();
        }
        Gathered {
            candidates: out,
            repeated_records: self.copies.repeated(),
        }
    }
}

impl Stage for CollectStage<'_> {
    fn worker(&self) -> Box<dyn Processor + '_> {
        Box::new(self.processor())
    }
}

/// One worker's collection.
pub struct CollectWorker<'s> {
    stage: &'s CollectStage<'s>,
    gathered: FxHashMap<u32, Gather>,
    keys: Vec<Key>,
    hits: Vec<u32>,
}

impl Processor for CollectWorker<'_> {
    fn wants(&mut self, raw: &[u8]) -> bool {
        self.stage.prefilter.wants(raw)
    }

    fn process(&mut self, ev: &Event<'_>) {
        let plan = self.stage.plan;
        let settings = self.stage.settings;
        let f = Facts::of(ev);
        self.keys.clear();
        keys_of(&f, settings, &mut Lookup(&plan.scan.syms), &mut self.keys);
        self.hits.clear();
        for k in &self.keys {
            if let Some(ids) = plan.wanted.get(k) {
                self.hits.extend_from_slice(ids);
            }
        }
        if self.hits.is_empty() {
            return;
        }
        self.hits.sort_unstable();
        self.hits.dedup();
        if !self.stage.copies.first_copy(ev) {
            for &i in &self.hits {
                self.gathered.entry(i).or_default().repeated += 1;
            }
            return;
        }
        let record = ev.record_ref();
        let rest = f.client_info.as_deref().is_some_and(|c| {
            settings
                .config
                .weak_signals
                .rest_client_info
                .iter()
                .any(|r| r.eq_ignore_ascii_case(c))
        });
        let late = f.time.is_some_and(|t| off_hours(t, settings));
        let new_ip = match (f.user.as_deref(), f.ip.as_deref()) {
            (Some(u), Some(i)) => {
                let syms = &plan.scan.syms;
                match (syms.find(u), syms.find(i)) {
                    (Some(u), Some(i)) => !plan.known.contains(&Key::UserIp(u, i), &plan.scan),
                    _ => false,
                }
            }
            _ => false,
        };
        let mailbox = match f.role {
            Role::MailAccess(_) => f.mailbox.as_deref(),
            _ => None,
        };
        for &i in &self.hits {
            let g = self.gathered.entry(i).or_default();
            g.record_ids.push(record.clone());
            g.records += 1;
            g.rest += u64::from(rest);
            g.off_hours += u64::from(late);
            g.new_ip += u64::from(new_ip);
            for (set, v) in [
                (&mut g.tokens, &f.token_id),
                (&mut g.sessions, &f.session_id),
                (&mut g.ips, &f.ip),
                (&mut g.users, &f.user),
            ] {
                if let Some(v) = v
                    && !set.contains(v.as_ref())
                {
                    set.insert(v.to_string());
                }
            }
            // Look up before allocating: most records hit a mailbox already gathered.
            if let Some(m) = mailbox
                && !g.mailboxes.contains(m)
            {
                g.mailboxes.insert(m.to_owned());
            }
        }
    }

    fn finish(&mut self) {
        let g = std::mem::take(&mut self.gathered);
        self.stage
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(g);
    }
}
