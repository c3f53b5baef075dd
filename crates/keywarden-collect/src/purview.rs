//! Purview audit search through Graph (`beta/security/auditLog/queries`), for history beyond the
//! Management API's 7 days (180 days by default). Per window: create a query
//! (`filterStartDateTime`, `filterEndDateTime`), poll it until `succeeded` (a `failed` query,
//! or one that never finishes, is a gap), then page `queries/{id}/records` with
//! `@odata.nextLink`. A query that reports `isRecordCountLimitExceeded` is truncated: it is
//! never accepted, the window is halved and both halves are queried.
//!
//! Each record's `auditData` is the Unified Audit Log record itself (the Management API
//! shape), so that is what is written, one per line (`ual-json`); a record without it is
//! written whole. Records are deduplicated on `id` in the same family as the Management API
//! (the same UAL record keeps its id in both).

use std::time::Duration;

use keywarden_model::Timestamp;
use serde_json::Value;

use crate::config::Service;
use crate::error::CallError;
use crate::graph::{PagedQuery, run_window};
use crate::store::FileKind;
use crate::window::{Ctx, DAY, MINUTE, StreamRun, halve, iso, state_err, uncovered};

const WINDOW: i64 = DAY;

enum Created {
    Ready(String),
    Truncated,
}

/// Collects the audit log through Purview queries.
pub(crate) fn collect(ctx: &Ctx<'_>, run: &StreamRun) -> Result<(), CallError> {
    let source = run.source;
    let rows = ctx.store.windows(source, run.stream).map_err(state_err)?;
    // An interrupted window is queried again (a query's records link does not outlive the
    // query); records already written are dropped as duplicates.
    let mut work: Vec<(Timestamp, Timestamp)> = rows
        .iter()
        .filter(|w| !w.complete && w.end > ctx.since && w.start < ctx.until)
        .map(|w| (w.start, w.end))
        .collect();
    for (s, e) in uncovered(&rows, ctx.since, ctx.until) {
        let mut at = s;
        while at < e {
            let end = Timestamp(at.0.saturating_add(WINDOW)).min(e);
            ctx.store
                .add_window(source, run.stream, at, end)
                .map_err(state_err)?;
            work.push((at, end));
            at = end;
        }
    }
    work.reverse();
    let base = ctx.client.endpoints.base(Service::Graph).to_owned();
    while let Some((start, end)) = work.pop() {
        let query_id = match create_and_wait(ctx, run, &base, start, end) {
            Ok(Created::Ready(id)) => id,
            Ok(Created::Truncated) => {
                if halve(ctx, run, (start, end), MINUTE, &mut work)?.is_none() {
                    run.gap(
                        start,
                        end,
                        "isRecordCountLimitExceeded even for a one-minute window".into(),
                        None,
                    );
                }
                continue;
            }
            Err(e) => {
                run.gap(start, end, format!("audit log query: {e}"), None);
                continue;
            }
        };
        page_records(ctx, run, &base, start, end, &query_id);
    }
    Ok(())
}

fn page_records(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    base: &str,
    start: Timestamp,
    end: Timestamp,
    query_id: &str,
) {
    let first = format!("{base}/beta/security/auditLog/queries/{query_id}/records");
    let first_url = move |_: Timestamp, _: Timestamp| first.clone();
    let q = PagedQuery {
        first_url: &first_url,
        id_key: "id",
        file_kind: FileKind::JsonLines,
        transform: &|v: Value| match v.get("auditData") {
            Some(Value::Object(_)) => v.get("auditData").cloned().unwrap_or(v),
            _ => v,
        },
    };
    let url = first_url(start, end);
    run_window(ctx, run, &q, start, end, &url, None, 0);
}

fn create_and_wait(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    base: &str,
    start: Timestamp,
    end: Timestamp,
) -> Result<Created, CallError> {
    let url = format!("{base}/beta/security/auditLog/queries");
    let body = serde_json::json!({
        "@odata.type": "#microsoft.graph.security.auditLogQuery",
        "displayName": format!("keywarden collect {} {}", iso(start), iso(end)),
        "filterStartDateTime": iso(start),
        "filterEndDateTime": iso(end),
    });
    let created = read_object(
        ctx.client
            .send(Service::Graph, "POST", &url, Some(&body), &run.counters)?,
        &url,
    )?;
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .ok_or_else(|| CallError::Shape {
            url: url.clone(),
            detail: "the created query has no usable id".into(),
        })?
        .to_owned();
    let status_url = format!("{url}/{id}");
    let mut doc = created;
    for poll in 0..=ctx.config.pacing.purview_max_polls {
        let status = doc.get("status").and_then(Value::as_str).unwrap_or("");
        match status {
            "succeeded" => {
                let truncated = doc
                    .get("isRecordCountLimitExceeded")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                return Ok(if truncated {
                    Created::Truncated
                } else {
                    Created::Ready(id)
                });
            }
            "failed" | "cancelled" => {
                return Err(CallError::Shape {
                    url: status_url,
                    detail: format!("the query ended {status}"),
                });
            }
            _ if poll == ctx.config.pacing.purview_max_polls => break,
            _ => {}
        }
        ctx.client
            .clock
            .sleep(ctx.config.pacing.purview_poll.max(Duration::from_millis(1)));
        doc = read_object(
            ctx.client
                .send(Service::Graph, "GET", &status_url, None, &run.counters)?,
            &status_url,
        )?;
    }
    Err(CallError::Shape {
        url: status_url,
        detail: "the query did not finish in time".into(),
    })
}

fn read_object(resp: crate::http::Response, url: &str) -> Result<Value, CallError> {
    let bytes = resp
        .read_body(1 << 20)
        .map_err(|detail| CallError::Transport {
            url: url.to_owned(),
            detail,
        })?;
    serde_json::from_slice(&bytes).map_err(|e| CallError::Shape {
        url: url.to_owned(),
        detail: e.to_string(),
    })
}
