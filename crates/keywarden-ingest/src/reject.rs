//! Why a record was not turned into an event, and where it was.

use serde::Serialize;

/// The reason a record was rejected. The `code` of each variant is stable and documented in
/// `docs/INGEST.md`; the message carries the evidence.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    #[error("invalid UTF-8 at byte {valid_up_to} of the record")]
    InvalidUtf8 { valid_up_to: usize },
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("JSON nested deeper than the parser allows")]
    TooDeep,
    #[error("record of {size} bytes exceeds the {cap}-byte record cap")]
    TooLarge { size: u64, cap: u64 },
    #[error("record is JSON but not an object ({found})")]
    NotAnObject { found: &'static str },
    #[error("malformed CSV row: {0}")]
    MalformedCsv(String),
    #[error("CSV row has {found} fields, header has {expected}")]
    CsvFieldCount { expected: usize, found: usize },
    #[error("embedded {field} is not valid JSON: {message}")]
    InvalidEmbeddedJson { field: String, message: String },
    #[error("required field {0} is missing")]
    MissingField(String),
    #[error("unparseable log line: {0}")]
    UnparseableLine(String),
    #[error("compressed stream is truncated or corrupt: {0}")]
    Decompression(String),
    #[error("could not read input: {0}")]
    Io(String),
    #[error("EVTX: {0}")]
    Evtx(String),
    #[error("not a log file: {0}")]
    NotALog(String),
    #[error("unterminated JSON at end of input")]
    Truncated,
    #[error(
        "input is larger than {cap} bytes once decompressed; the rest was not read (split it, or raise --max-input-bytes)"
    )]
    InputTooLarge { cap: u64 },
}

impl RejectReason {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::InvalidUtf8 { .. } => "invalid-utf8",
            RejectReason::InvalidJson(_) => "invalid-json",
            RejectReason::TooDeep => "too-deep",
            RejectReason::TooLarge { .. } => "too-large",
            RejectReason::NotAnObject { .. } => "not-an-object",
            RejectReason::MalformedCsv(_) => "malformed-csv",
            RejectReason::CsvFieldCount { .. } => "csv-field-count",
            RejectReason::InvalidEmbeddedJson { .. } => "invalid-embedded-json",
            RejectReason::MissingField(_) => "missing-field",
            RejectReason::UnparseableLine(_) => "unparseable-line",
            RejectReason::Decompression(_) => "decompression",
            RejectReason::Io(_) => "io",
            RejectReason::Evtx(_) => "evtx",
            RejectReason::NotALog(_) => "not-a-log",
            RejectReason::Truncated => "truncated",
            RejectReason::InputTooLarge { .. } => "input-too-large",
        }
    }

    /// Maps a JSON parse error to the right reason (depth errors get their own code).
    pub fn from_json(e: &keywarden_model::JsonError) -> RejectReason {
        if e.message.contains("recursion limit") {
            RejectReason::TooDeep
        } else {
            RejectReason::InvalidJson(e.to_string())
        }
    }
}

/// One rejected record: where it was and why. `raw` holds the record's bytes (lossy UTF-8) for
/// `rejected.jsonl`; it is not part of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub path: String,
    /// 1-based line (for line-oriented inputs and CSV rows: the row's first line).
    pub line: Option<u64>,
    /// Byte offset in the decompressed input.
    pub offset: Option<u64>,
    /// EVTX record number.
    pub record_number: Option<u64>,
    /// Stable code (`invalid-json`, `too-large`...).
    pub code: &'static str,
    /// Human-readable reason with evidence.
    pub reason: String,
    #[serde(skip)]
    pub raw: Option<String>,
    /// True when `raw` was not valid UTF-8 (so it was converted lossily).
    #[serde(skip)]
    pub raw_lossy: bool,
}

impl Rejection {
    pub fn new(path: &str, reason: RejectReason) -> Rejection {
        Rejection {
            path: path.to_string(),
            line: None,
            offset: None,
            record_number: None,
            code: reason.code(),
            reason: reason.to_string(),
            raw: None,
            raw_lossy: false,
        }
    }

    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    pub fn at_record(mut self, n: u64) -> Self {
        self.record_number = Some(n);
        self
    }

    /// Keeps the raw bytes (at most `cap` of them) for `rejected.jsonl`.
    pub fn with_raw(mut self, raw: &[u8], cap: usize) -> Self {
        let raw = &raw[..raw.len().min(cap)];
        match std::str::from_utf8(raw) {
            Ok(s) => self.raw = Some(s.to_string()),
            Err(_) => {
                self.raw = Some(String::from_utf8_lossy(raw).into_owned());
                self.raw_lossy = true;
            }
        }
        self
    }
}
