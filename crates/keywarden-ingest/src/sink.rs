//! Where readers put what they read: events go to a [`Processor`], rejections are counted and
//! kept. Every record a reader sees goes through exactly one of [`Sink::event`] and
//! [`Sink::reject`]; that is what makes `records == events + rejected` hold by construction.

use std::collections::BTreeMap;

use keywarden_model::Event;

use crate::reject::Rejection;
use crate::shape::notes::NoteCode;

/// Consumes events. One instance runs per worker thread; the engine returns all instances so
/// that their results can be merged.
pub trait Processor: Send {
    fn process(&mut self, event: &Event<'_>);

    /// A pre-filter asked with a record's raw bytes before they are parsed: `false` promises
    /// that [`Processor::process`] would do nothing with the event, so the record is passed
    /// over unparsed (counted in [`Counts::passed`], not in `records`). Re-reads such as
    /// detection's collection pass use it; a first read must keep the default (`true`), or
    /// records would go unaccounted. Readers ask it for JSON texts only; other containers
    /// parse every record.
    fn wants(&mut self, _raw: &[u8]) -> bool {
        true
    }

    /// Called once on the worker thread after its last event: hand results back to the stage
    /// that made this processor.
    fn finish(&mut self) {}
}

/// A detection stage plugged into an ingest run (built-in detections, Sigma rules...). The
/// stage makes one processor per worker; processors report back to the stage in
/// [`Processor::finish`], and the caller then asks the concrete stage for its results.
pub trait Stage: Sync {
    fn worker(&self) -> Box<dyn Processor + '_>;
}

/// Feeds every event to several processors, in order.
pub struct Fanout<'s>(pub Vec<Box<dyn Processor + 's>>);

impl Processor for Fanout<'_> {
    fn process(&mut self, event: &Event<'_>) {
        for p in &mut self.0 {
            p.process(event);
        }
    }

    fn wants(&mut self, raw: &[u8]) -> bool {
        self.0.iter_mut().any(|p| p.wants(raw))
    }

    fn finish(&mut self) {
        for p in &mut self.0 {
            p.finish();
        }
    }
}

impl<'s> Fanout<'s> {
    /// One processor from each stage.
    pub fn of(stages: &[&'s dyn Stage]) -> Fanout<'s> {
        Fanout(stages.iter().map(|s| s.worker()).collect())
    }
}

/// A processor that does nothing (an ingest-only pass).
#[derive(Debug, Default)]
pub struct Discard;

impl Processor for Discard {
    fn process(&mut self, _event: &Event<'_>) {}
}

/// Counts for one input (or part of one).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
    /// Records a processor's pre-filter ([`Processor::wants`]) passed over unparsed; they are
    /// not in `records` (zero in any first read).
    pub passed: u64,
    /// Events per shape name.
    pub shapes: BTreeMap<&'static str, u64>,
    /// Per [`NoteCode`]: (events lacking the thing, events checked).
    pub notes: BTreeMap<NoteCode, (u64, u64)>,
}

impl Counts {
    pub fn merge(&mut self, other: &Counts) {
        self.records += other.records;
        self.events += other.events;
        self.rejected += other.rejected;
        self.passed += other.passed;
        for (k, v) in &other.shapes {
            *self.shapes.entry(k).or_default() += v;
        }
        for (k, (lacking, checked)) in &other.notes {
            let e = self.notes.entry(*k).or_default();
            e.0 += lacking;
            e.1 += checked;
        }
    }
}

/// The receiving end handed to readers.
pub struct Sink<'p> {
    processor: &'p mut dyn Processor,
    pub(crate) counts: Counts,
    pub(crate) rejections: Vec<Rejection>,
    /// The per-record size cap (bytes) readers must enforce.
    pub max_record_bytes: usize,
}

impl<'p> Sink<'p> {
    pub fn new(processor: &'p mut dyn Processor, max_record_bytes: usize) -> Sink<'p> {
        Sink {
            processor,
            counts: Counts::default(),
            rejections: Vec::new(),
            max_record_bytes,
        }
    }

    /// One record became an event.
    pub fn event(&mut self, event: Event<'_>) {
        self.counts.records += 1;
        self.counts.events += 1;
        *self.counts.shapes.entry(event.format).or_default() += 1;
        let notes = &mut self.counts.notes;
        crate::shape::notes::check(&event, |code, lacking| {
            let e = notes.entry(code).or_default();
            e.0 += u64::from(lacking);
            e.1 += 1;
        });
        self.processor.process(&event);
    }

    /// One record was rejected.
    pub fn reject(&mut self, rejection: Rejection) {
        self.counts.records += 1;
        self.counts.rejected += 1;
        self.rejections.push(rejection);
    }

    /// Asks the processor's pre-filter about a record's raw bytes; a record it declines is
    /// counted as passed over and must not be read further.
    pub fn wants(&mut self, raw: &[u8]) -> bool {
        let wanted = self.processor.wants(raw);
        if !wanted {
            self.counts.passed += 1;
        }
        wanted
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Takes the counts and rejections gathered so far.
    pub fn take(&mut self) -> (Counts, Vec<Rejection>) {
        (
            std::mem::take(&mut self.counts),
            std::mem::take(&mut self.rejections),
        )
    }
}
