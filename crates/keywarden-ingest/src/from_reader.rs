//! Reading one input from a reader of bytes already decoded by the caller (`serve` unwraps a
//! body's compression layers itself, under one cap): [`ingest_reader`].
//!
//! The input is read the way a file is: JSON lines and access-log text are streamed in blocks
//! of `chunk_bytes` (memory stays bounded whatever the input's length); other containers
//! (arrays, Graph pages, CSV, EVTX, UTF-16 text) are read whole, up to `max_input_bytes`.
//! Unlike [`crate::ingest_bytes`], the bytes are never sniffed for gzip/zstd again: a
//! compressed stream the caller chose not to unwrap is read as it is (and is not a log).

use std::io::Read;

use crate::engine::{IngestConfig, Observer, Shared, load_opened, prefix_len, worker};
use crate::load::{InputSource, read_prefix};
use crate::reject::Rejection;
use crate::sink::{Counts, Processor};

/// What [`ingest_reader`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct ReaderOutcome {
    pub counts: Counts,
    /// The first `max_listed_rejections` rejections, without raw bytes (every rejection, with
    /// its raw bytes, went to the observer).
    pub listed: Vec<Rejection>,
    /// Rejections not listed.
    pub unlisted: u64,
    /// The container label (`json`, `csv`, `evtx`, `empty`, `not-a-log`...).
    pub container: &'static str,
    /// Set when the bytes are not a log at all.
    pub skipped: Option<String>,
}

/// Reads one input named `name` from `reader` on the calling thread, feeding `processor`
/// (its [`Processor::finish`] is called at the end) and `observer` (every rejection, with its
/// raw bytes). `read_errors_are_decompression` classifies a failing read as a
/// `decompression` rejection rather than an `io` one.
pub fn ingest_reader(
    name: &str,
    reader: Box<dyn Read + Send>,
    read_errors_are_decompression: bool,
    cfg: &IngestConfig,
    processor: &mut dyn Processor,
    observer: &dyn Observer,
) -> ReaderOutcome {
    let inputs = [InputSource {
        name: name.to_string(),
        path: None,
    }];
    let cfg = IngestConfig {
        threads: 1,
        ..cfg.clone()
    };
    let shared = Shared::new(&inputs, &cfg, observer, false);
    let opened = read_prefix(reader, read_errors_are_decompression, prefix_len(&cfg));
    load_opened(&shared, 0, opened, processor);
    shared.load_done();
    // The chunk tasks the load queued (a large array's elements, the last line blocks).
    worker(&shared, processor);
    processor.finish();
    let (counts, labels, skipped, mut listed, unlisted) = shared.into_parts();
    listed.sort_by_key(|(_, r)| (r.offset, r.line, r.record_number));
    ReaderOutcome {
        counts: counts.into_iter().next().unwrap_or_default(),
        listed: listed.into_iter().map(|(_, r)| r).collect(),
        unlisted,
        container: labels.first().copied().unwrap_or("empty"),
        skipped: skipped.into_iter().next().flatten(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Count(u64);
    impl Processor for Count {
        fn process(&mut self, _e: &keywarden_model::Event<'_>) {
            self.0 += 1;
        }
    }

    #[derive(Default)]
    struct Keep(Mutex<Vec<Rejection>>);
    impl Observer for Keep {
        fn rejected(&self, r: &Rejection) {
            self.0.lock().unwrap().push(r.clone());
        }
    }

    #[test]
    fn a_long_json_lines_reader_is_streamed_and_accounted() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("{{\"Id\":\"r{i}\",\"RecordType\":50}}\n"));
            if i % 5_000 == 0 {
                text.push_str("{not json\n");
            }
        }
        let cfg = IngestConfig {
            chunk_bytes: 64 * 1024,
            max_listed_rejections: 2,
            ..IngestConfig::default()
        };
        let (mut p, obs) = (Count::default(), Keep::default());
        let reader = Box::new(std::io::Cursor::new(text.into_bytes()));
        let out = ingest_reader("body", reader, false, &cfg, &mut p, &obs);
        assert_eq!(out.container, "json");
        assert_eq!(
            (p.0, out.counts.events, out.counts.rejected),
            (20_000, 20_000, 4)
        );
        assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
        assert_eq!((out.listed.len(), out.unlisted), (2, 2));
        assert!(out.listed.iter().all(|r| r.raw.is_none()));
        let seen = obs.0.lock().unwrap();
        assert_eq!(seen.len(), 4);
        assert!(seen.iter().all(|r| r.raw.is_some() && r.line.is_some()));
    }

    #[test]
    fn compressed_bytes_are_not_unwrapped_again() {
        let gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
        let mut p = Count::default();
        let out = ingest_reader(
            "b",
            Box::new(std::io::Cursor::new(gz)),
            true,
            &IngestConfig::default(),
            &mut p,
            &crate::Quiet,
        );
        assert_eq!(p.0, 0);
        assert_ne!(out.container, "json-lines");
    }
}
