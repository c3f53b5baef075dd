//! Azure Monitor Logs query API (workspaces that already receive Entra and Microsoft 365 logs:
//! Log Analytics, Sentinel). One KQL query per table and window,
//! `T | where TimeGenerated >= datetime(start) and TimeGenerated < datetime(end)`, with the same
//! `timespan`; the rows of the primary table are written as JSON lines (the rows `hunt` reads as
//! `signin-log-analytics`, `graph-activity`, `sentinel-office-activity`...). An answer carrying
//! a `PartialError` (result set too large, ~500 000 rows / ~64 MB) or holding exactly the row
//! cap is truncated: it is discarded and the window is halved, down to one second. After a
//! window that was not truncated the next one doubles (up to a day).

use keywarden_model::Timestamp;
use serde_json::Value;

use crate::config::Service;
use crate::error::CallError;
use crate::store::{Cursor, FileKind};
use crate::stream_json::for_each_row;
use crate::window::{Ctx, DAY, SECOND, Scratch, StreamRun, halve, iso, state_err, uncovered};

/// The tables collected, in `collect.json` order.
pub const TABLES: [&str; 6] = [
    "SigninLogs",
    "AADNonInteractiveUserSignInLogs",
    "AADServicePrincipalSignInLogs",
    "MicrosoftGraphActivityLogs",
    "OfficeActivity",
    "CloudAppEvents",
];

/// The service's row cap per answer.
pub(crate) const ROW_CAP: u64 = 500_000;
const MAX_WINDOW: i64 = DAY;

/// The column that identifies a row of each table (dedupe key); other rows hash.
fn id_column(table: &str) -> &'static str {
    match table {
        "OfficeActivity" => "OfficeId",
        "CloudAppEvents" => "ReportId",
        "MicrosoftGraphActivityLogs" => "RequestId",
        _ => "Id",
    }
}

enum Outcome {
    Written,
    Truncated,
}

/// Collects one table.
pub(crate) fn collect(ctx: &Ctx<'_>, run: &StreamRun) -> Result<(), CallError> {
    let source = run.source;
    let rows = ctx.store.windows(source, run.stream).map_err(state_err)?;
    let mut work: Vec<(Timestamp, Timestamp)> = rows
        .iter()
        .filter(|w| !w.complete && w.end > ctx.since && w.start < ctx.until)
        .map(|w| (w.start, w.end))
        .collect();
    let mut size = MAX_WINDOW;
    let mut spans = uncovered(&rows, ctx.since, ctx.until);
    spans.reverse();
    work.reverse();
    loop {
        let (start, end) = match work.pop() {
            Some(w) => w,
            None => match spans.pop() {
                None => return Ok(()),
                Some((s, e)) => {
                    let end = Timestamp(s.0.saturating_add(size)).min(e);
                    if end < e {
                        spans.push((end, e));
                    }
                    ctx.store
                        .add_window(source, run.stream, s, end)
                        .map_err(state_err)?;
                    (s, end)
                }
            },
        };
        match query(ctx, run, start, end) {
            Ok(Outcome::Written) => {
                size = (size * 2).min(MAX_WINDOW);
                (ctx.progress)(&format!("loganalytics {} {start}..{end}", run.stream));
            }
            Ok(Outcome::Truncated) => match halve(ctx, run, (start, end), SECOND, &mut work)? {
                Some(mid) => size = (mid.0 - start.0).max(SECOND),
                None => run.gap(
                    start,
                    end,
                    "result truncated even for a one-second window".into(),
                    None,
                ),
            },
            Err(e) => run.gap(start, end, format!("query: {e}"), None),
        }
    }
}

fn query(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    start: Timestamp,
    end: Timestamp,
) -> Result<Outcome, CallError> {
    let workspace = ctx.config.workspace.as_deref().unwrap_or("");
    let url = format!(
        "{}/v1/workspaces/{workspace}/query",
        ctx.client.endpoints.base(Service::LogAnalytics)
    );
    let (s, e) = (micro_iso(start), micro_iso(end));
    let body = serde_json::json!({
        "query": format!(
            "{} | where TimeGenerated >= datetime({s}) and TimeGenerated < datetime({e})",
            run.stream
        ),
        "timespan": format!("{}/{}", iso(start), iso(Timestamp(end.0 + SECOND - 1))),
    });
    let resp = ctx.client.send(
        Service::LogAnalytics,
        "POST",
        &url,
        Some(&body),
        &run.counters,
    )?;
    let scratch = Scratch::save(ctx.store, resp, &url)?;
    // A first pass finds out whether the answer is truncated before anything is written.
    let outcome =
        for_each_row(scratch.open()?, &mut |_| Ok(())).map_err(|detail| CallError::Shape {
            url: url.clone(),
            detail,
        })?;
    if outcome.error_code.is_some() || outcome.rows >= ROW_CAP {
        return Ok(Outcome::Truncated);
    }
    let key = id_column(run.stream);
    let mut unit = ctx
        .store
        .begin_unit(run.source, run.stream, FileKind::JsonLines)?;
    for_each_row(scratch.open()?, &mut |v: Value| {
        let id = v.get(key).and_then(Value::as_str).map(str::to_owned);
        unit.record(&v, id.as_deref())
    })
    .map_err(|detail| CallError::Shape {
        url: url.clone(),
        detail,
    })?;
    unit.commit(
        &iso(start),
        &Cursor::WindowDone {
            window_start: start,
        },
    )?;
    Ok(Outcome::Written)
}

/// KQL `datetime()` literal with microseconds, so halved windows stay exact.
fn micro_iso(t: Timestamp) -> String {
    let secs = Timestamp::from_unix_seconds(t.unix_seconds()).to_rfc3339();
    format!(
        "{}.{:06}Z",
        secs.trim_end_matches('Z'),
        t.0.rem_euclid(SECOND)
    )
}
