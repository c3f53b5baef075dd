//! [`RecordCopies`]: one record held more than once by the inputs, counted once.
//!
//! Real exports overlap: a responder exports the month, then the incident week again; one file
//! sits in two folders; an exporter writes the same record twice (the Management API hands a
//! record out in more than one content blob; Purview searches return duplicates). Each copy
//! used to count as a record of its own: an alert's `records` and weak-signal counts and
//! `exposure.json`'s `linked_by` doubled on a second copy of the input.
//!
//! A copy is a record of the same export shape, with the same id of its own (not its file
//! position, which two records on one line share), the same time and the same content
//! ([`Event::content_hash`]) as one already counted. The content matters: in some shapes the
//! id is not the record's alone (Graph activity falls back to the `correlationId` that one client
//! operation's requests share; generic JSON takes any `id`; Defender's `ReportId` is unique
//! only with the device and time), and two different records taken for one would lose one of
//! them, whichever a worker met second. Records without an id or a time are never copies.
//! The passes that count records (collection, exposure) ask only for records they count, so
//! memory follows the alerts' and incidents' records, not the input; which of two copies is
//! counted does not matter, they are the same record.
//!
//! The same record in **another shape** is not a copy: the Management API's record and
//! Defender's `CloudAppEvents` row of it share the UAL `Id` but not their fields (the OTRF
//! Golden SAML sample's `MailItemsAccessed` is in both, and only one names the messages read).
//! The Sigma stage's rule is looser (`keywarden_sigma::alert::merge_repeats`: id and second,
//! any shape) because it merges alerts and keeps every copy's source in `also_in`, losing
//! nothing; counting needs the same record.

use std::sync::Mutex;

use keywarden_model::Event;
use rustc_hash::FxHashSet;

/// The records already counted by one pass, shared by its workers.
#[derive(Debug, Default)]
pub struct RecordCopies {
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// (export shape, record id, time in µs, content hash) of every record counted.
    records: FxHashSet<(&'static str, Box<str>, i64, u64)>,
    /// Copies refused: records held again.
    repeated: u64,
}

impl RecordCopies {
    pub fn new() -> RecordCopies {
        RecordCopies::default()
    }

    /// `true` when `ev` is to be counted: the first copy of its record (in its shape), or a
    /// record that has no id or time of its own. `false` for a later copy, which is counted
    /// as repeated.
    pub fn first_copy(&self, ev: &Event<'_>) -> bool {
        let (Some(id), Some(time)) = (ev.fields.record_id.as_deref(), ev.fields.time) else {
            return true;
        };
        if id.is_empty() {
            return true;
        }
        let content = ev.content_hash();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen
            .records
            .insert((ev.format, Box::from(id), time.0, content))
        {
            return true;
        }
        seen.repeated += 1;
        false
    }

    /// Records remembered as counted.
    #[cfg(test)]
    pub(crate) fn remembered(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .records
            .len()
    }

    /// Later copies refused so far.
    pub fn repeated(&self) -> u64 {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).repeated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use keywarden_ingest::{IngestConfig, Processor, ingest_bytes};
    use keywarden_model::Event;

    /// The events of a UAL JSON-lines input, as `(record_id, time)`, checked one by one.
    fn firsts(input: &str, copies: &RecordCopies) -> Vec<bool> {
        struct P<'c>(&'c RecordCopies, Vec<bool>);
        impl Processor for P<'_> {
            fn process(&mut self, ev: &Event<'_>) {
                self.1.push(self.0.first_copy(ev));
            }
        }
        let mut p = P(copies, Vec::new());
        ingest_bytes(
            "in.jsonl",
            input.as_bytes().to_vec(),
            &IngestConfig::default(),
            &mut p,
        );
        p.1
    }

    const A: &str = r#"{"Id":"a","CreationTime":"2023-06-12T01:00:00","Operation":"MailItemsAccessed","Workload":"Exchange","RecordType":50}"#;
    const A_LATER: &str = r#"{"Id":"a","CreationTime":"2023-06-12T01:00:01","Operation":"MailItemsAccessed","Workload":"Exchange","RecordType":50}"#;
    const NO_ID: &str = r#"{"CreationTime":"2023-06-12T01:00:00","Operation":"MailItemsAccessed","Workload":"Exchange","RecordType":50}"#;

    #[test]
    fn a_record_counts_once_whichever_input_holds_it_again() {
        let copies = RecordCopies::new();
        assert_eq!(firsts(&format!("{A}\n{A_LATER}\n"), &copies), [true, true]);
        // The same record in a second input: a copy; another time is another record.
        assert_eq!(firsts(&format!("{A}\n{A}\n"), &copies), [false, false]);
        assert_eq!(copies.repeated(), 2);
    }

    #[test]
    fn regression_two_records_sharing_an_id_and_a_time_were_taken_for_copies() {
        // Graph activity's id falls back to the correlationId several requests share: two
        // different records with one id and one time are both counted.
        let copies = RecordCopies::new();
        let other = A.replace(
            "\"RecordType\":50",
            "\"RecordType\":50,\"ClientIP\":\"1.2.3.4\"",
        );
        assert_eq!(firsts(&format!("{A}\n{other}\n"), &copies), [true, true]);
        assert_eq!(firsts(&format!("{other}\n"), &copies), [false]);
        assert_eq!(copies.repeated(), 1);
    }

    #[test]
    fn records_without_an_id_of_their_own_are_never_copies() {
        let copies = RecordCopies::new();
        assert_eq!(
            firsts(&format!("{NO_ID}\n{NO_ID}\n"), &copies),
            [true, true]
        );
        assert_eq!(copies.repeated(), 0);
    }
}
