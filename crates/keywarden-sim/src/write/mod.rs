//! Writing a day's activities in the shapes chosen for that day.
//!
//! Layout under the output directory (one folder per shape, one file per day, so a directory
//! mixes shapes the way a real evidence collection does):
//!
//! | shape | file |
//! |---|---|
//! | `ual-json` | `ual-json/audit_YYYY-MM-DD.jsonl` |
//! | `purview-csv` | `purview-csv/AuditLog_YYYY-MM-DD.csv` (BOM, CRLF, 8 columns) |
//! | `sentinel-office-activity` | `sentinel-office-activity/OfficeActivity_YYYY-MM-DD.jsonl` |
//! | `signin-graph` | `signin-graph/signIns_YYYY-MM-DD_NNN.json` (one Graph page per file) |
//! | `azure-diagnostic` | `azure-diagnostic/{SignInLogs,NonInteractiveUserSignInLogs}_YYYY-MM-DD.jsonl` |
//! | Graph activity | `graph-activity/MicrosoftGraphActivityLogs_YYYY-MM-DD.jsonl` |
//! | Entra audit | `entra-audit/directoryAudits_YYYY-MM-DD.jsonl` (Graph `directoryAudits`) |
//!
//! With `gzip`, every file is gzip-compressed and named `<file>.gz` (hunt decompresses by magic).

pub(crate) mod audit;
pub(crate) mod graph;
pub(crate) mod sentinel;
pub(crate) mod signin;
pub(crate) mod ual;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use keywarden_model::Timestamp;
use serde::Serialize;

use crate::activity::Activity;
use crate::config::{Shape, SimError};
use crate::tenant::Tenant;
use crate::timefmt;

/// Graph returns at most this many sign-ins per page.
const PAGE_SIZE: usize = 1000;

/// One file written, for the run summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WrittenFile {
    /// Path relative to the output directory, `/`-separated.
    pub path: String,
    /// Shape name (`ual-json`... or `graph-activity`).
    pub shape: &'static str,
    pub records: u64,
}

/// Plain or gzip-compressed output.
enum Out {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Out::Plain(w) => w.write(buf),
            Out::Gzip(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Out::Plain(w) => w.flush(),
            Out::Gzip(w) => w.flush(),
        }
    }
}

impl Out {
    fn finish(self) -> std::io::Result<()> {
        match self {
            Out::Plain(mut w) => w.flush(),
            Out::Gzip(w) => w.finish()?.flush(),
        }
    }
}

/// A line-oriented file being written.
struct Lines {
    out: Out,
    rel: String,
    path: PathBuf,
    shape: &'static str,
    records: u64,
}

impl Lines {
    fn create(
        dir: &Path,
        mut rel: String,
        shape: &'static str,
        gzip: bool,
    ) -> Result<Lines, SimError> {
        if gzip {
            rel.push_str(".gz");
        }
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| io(&path, source))?;
        }
        let file = File::create(&path).map_err(|source| io(&path, source))?;
        let buffered = BufWriter::with_capacity(1 << 16, file);
        // The gzip header's mtime stays 0, so output does not depend on the clock.
        let out = if gzip {
            Out::Gzip(GzEncoder::new(buffered, Compression::best()))
        } else {
            Out::Plain(buffered)
        };
        Ok(Lines {
            out,
            rel,
            path,
            shape,
            records: 0,
        })
    }

    fn json<T: Serialize>(&mut self, v: &T) -> Result<(), SimError> {
        serde_json::to_writer(&mut self.out, v).map_err(|source| SimError::Encode {
            path: self.path.display().to_string(),
            source,
        })?;
        self.raw(b"\n")?;
        self.records += 1;
        Ok(())
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), SimError> {
        self.out
            .write_all(bytes)
            .map_err(|source| io(&self.path, source))
    }

    fn finish(self) -> Result<WrittenFile, SimError> {
        self.out.finish().map_err(|source| io(&self.path, source))?;
        Ok(WrittenFile {
            path: self.rel,
            shape: self.shape,
            records: self.records,
        })
    }
}

fn io(path: &Path, source: std::io::Error) -> SimError {
    SimError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes one day: UAL records in `ual_shape`, sign-ins in `signin_shape`, Graph requests as
/// Log Analytics rows. Returns the files written.
pub(crate) fn write_day(
    dir: &Path,
    tenant: &Tenant,
    day: Timestamp,
    ual_shape: Shape,
    signin_shape: Shape,
    gzip: bool,
    acts: &[Activity],
) -> Result<Vec<WrittenFile>, SimError> {
    let date = timefmt::date(day);
    let mut ual_file = match ual_shape {
        Shape::PurviewCsv => {
            let mut f = Lines::create(
                dir,
                format!("purview-csv/AuditLog_{date}.csv"),
                "purview-csv",
                gzip,
            )?;
            f.raw(b"\xEF\xBB\xBFRecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n")?;
            f
        }
        Shape::SentinelOfficeActivity => Lines::create(
            dir,
            format!("sentinel-office-activity/OfficeActivity_{date}.jsonl"),
            "sentinel-office-activity",
            gzip,
        )?,
        _ => Lines::create(
            dir,
            format!("ual-json/audit_{date}.jsonl"),
            "ual-json",
            gzip,
        )?,
    };
    let mut graph_file: Option<Lines> = None;
    let mut audit_file: Option<Lines> = None;
    let mut interactive: Option<Lines> = None;
    let mut non_interactive: Option<Lines> = None;
    let mut service_principal: Option<Lines> = None;
    let mut page: Vec<signin::SignInObject<'_>> = Vec::new();
    let mut pages = Vec::new();
    let mut csv_line = String::with_capacity(4096);
    for act in acts {
        match act {
            Activity::Mail(m) => {
                let rec = ual::mail_record(tenant, m);
                match ual_shape {
                    Shape::PurviewCsv => {
                        let head = Head {
                            id: &m.id,
                            time: m.time,
                            user_id: rec.user_id,
                            record_type: rec.record_type,
                            operation: rec.operation,
                        };
                        purview_row(&mut ual_file, &head, &rec, &mut csv_line)?;
                    }
                    Shape::SentinelOfficeActivity => {
                        ual_file.json(&sentinel::mail_row(tenant, &rec, m.time))?;
                    }
                    _ => ual_file.json(&rec)?,
                }
            }
            Activity::Directory(d) => {
                let rec = ual::directory_record(tenant, d);
                match ual_shape {
                    Shape::PurviewCsv => {
                        let head = Head {
                            id: &d.id,
                            time: d.time,
                            user_id: rec.user_id,
                            record_type: rec.record_type,
                            operation: rec.operation,
                        };
                        purview_row(&mut ual_file, &head, &rec, &mut csv_line)?;
                    }
                    Shape::SentinelOfficeActivity => {
                        ual_file.json(&sentinel::directory_row(tenant, &rec, d.time))?;
                    }
                    _ => ual_file.json(&rec)?,
                }
            }
            Activity::SignIn(s) => {
                if signin_shape == Shape::AzureDiagnostic {
                    let slot = if s.service_principal.is_some() {
                        &mut service_principal
                    } else if s.interactive {
                        &mut interactive
                    } else {
                        &mut non_interactive
                    };
                    let file = match slot {
                        Some(f) => f,
                        None => slot.insert(Lines::create(
                            dir,
                            format!("azure-diagnostic/{}_{date}.jsonl", signin::category(s)),
                            "azure-diagnostic",
                            gzip,
                        )?),
                    };
                    file.json(&signin::diagnostic(tenant, s))?;
                } else {
                    page.push(signin::object(tenant, s));
                    if page.len() == PAGE_SIZE {
                        pages.push(std::mem::take(&mut page));
                    }
                }
            }
            Activity::Graph(g) => {
                let file = match &mut graph_file {
                    Some(f) => f,
                    None => graph_file.insert(Lines::create(
                        dir,
                        format!("graph-activity/MicrosoftGraphActivityLogs_{date}.jsonl"),
                        "graph-activity",
                        gzip,
                    )?),
                };
                file.json(&graph::row(tenant, g))?;
            }
            Activity::Audit(a) => {
                let file = match &mut audit_file {
                    Some(f) => f,
                    None => audit_file.insert(Lines::create(
                        dir,
                        format!("entra-audit/directoryAudits_{date}.jsonl"),
                        "entra-audit",
                        gzip,
                    )?),
                };
                file.json(&audit::record(tenant, a))?;
            }
        }
    }
    if !page.is_empty() {
        pages.push(page);
    }
    let mut written = vec![ual_file.finish()?];
    for f in [
        graph_file,
        audit_file,
        interactive,
        non_interactive,
        service_principal,
    ]
    .into_iter()
    .flatten()
    {
        written.push(f.finish()?);
    }
    let count = pages.len();
    for (n, value) in pages.into_iter().enumerate() {
        let rel = format!("signin-graph/signIns_{date}_{:03}.json", n + 1);
        let records = value.len() as u64;
        let doc = Page {
            context: "https://graph.microsoft.com/beta/$metadata#auditLogs/signIns",
            next_link: (n + 1 < count).then(|| {
                format!(
                    "https://graph.microsoft.com/beta/auditLogs/signIns?$skiptoken={date}-{:03}",
                    n + 2
                )
            }),
            value,
        };
        let mut f = Lines::create(dir, rel, "signin-graph", gzip)?;
        f.json(&doc)?;
        f.records = records;
        written.push(f.finish()?);
    }
    Ok(written)
}

/// The columns a Purview CSV row repeats outside `AuditData`.
struct Head<'a> {
    id: &'a str,
    time: Timestamp,
    user_id: &'a str,
    record_type: u32,
    operation: &'a str,
}

/// A Graph `auditLogs/signIns` response page.
#[derive(Serialize)]
struct Page<'a> {
    #[serde(rename = "@odata.context")]
    context: &'static str,
    #[serde(rename = "@odata.nextLink", skip_serializing_if = "Option::is_none")]
    next_link: Option<String>,
    value: Vec<signin::SignInObject<'a>>,
}

/// One Purview CSV row: `RecordId,CreationDate,RecordType,Operation,UserId,AuditData,
/// AssociatedAdminUnits,AssociatedAdminUnitsNames`, quoted per RFC 4180, CRLF-terminated.
fn purview_row<R: Serialize>(
    file: &mut Lines,
    head: &Head<'_>,
    rec: &R,
    line: &mut String,
) -> Result<(), SimError> {
    let audit = serde_json::to_string(rec).map_err(|source| SimError::Encode {
        path: file.path.display().to_string(),
        source,
    })?;
    line.clear();
    csv_field(line, head.id);
    line.push(',');
    timefmt::us_locale(head.time, line);
    line.push(',');
    line.push_str(&head.record_type.to_string());
    line.push(',');
    csv_field(line, head.operation);
    line.push(',');
    csv_field(line, head.user_id);
    line.push(',');
    csv_field(line, &audit);
    line.push_str(",,\r\n");
    file.raw(line.as_bytes())?;
    file.records += 1;
    Ok(())
}

/// Appends `field`, quoted (with `"` doubled) when it holds a comma, quote or line break.
pub(crate) fn csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "plain");
        s.push(',');
        csv_field(&mut s, r#"{"a":"b,c"}"#);
        s.push(',');
        csv_field(&mut s, "two\r\nlines");
        assert_eq!(s, "plain,\"{\"\"a\"\":\"\"b,c\"\"}\",\"two\r\nlines\"");
        let text = format!("h1,h2,h3\n{s}\n");
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(&row[1], r#"{"a":"b,c"}"#);
        assert_eq!(&row[2], "two\r\nlines");
    }
}
