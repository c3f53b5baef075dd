//! Office 365 Management Activity API (the Unified Audit Log).
//!
//! Per content type: make sure the subscription is started (`subscriptions/list`, then
//! `subscriptions/start` for a missing or disabled one); list `subscriptions/content` in
//! windows of at most 24 h by `contentCreated`, inside the last 7 days, following the
//! `NextPageUri` (or `NextPageUrl`) header to the end; fetch every blob not fetched before,
//! in parallel, each saved to disk and written as one unit (a JSON array, `ual-json`) with
//! records deduplicated on `Id`. A window the API refuses (AF20030 / AF20055) is halved; a blob
//! that can no longer be fetched (AF20051, expired) is a named gap and leaves its window
//! incomplete. Windows ending within `relist_recent` of `until` are listed again by the next
//! run, so blobs the API lists late are picked up; blobs already fetched are skipped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use keywarden_model::Timestamp;
use serde_json::Value;

use crate::clock::micros;
use crate::config::{Service, SourceKind};
use crate::error::CallError;
use crate::store::{Cursor, FileKind};
use crate::stream_json::for_each_in_array;
use crate::window::{Ctx, DAY, MINUTE, Scratch, StreamRun, halve, state_err, uncovered};

/// The five content types, in `collect.json` order.
pub const CONTENT_TYPES: [&str; 5] = [
    "Audit.AzureActiveDirectory",
    "Audit.Exchange",
    "Audit.SharePoint",
    "Audit.General",
    "DLP.All",
];

/// How far back content can be listed.
const RETENTION: i64 = 7 * DAY;
/// The longest window `subscriptions/content` accepts.
const MAX_WINDOW: i64 = DAY;

fn feed(ctx: &Ctx<'_>) -> String {
    format!(
        "{}/api/v1.0/{}/activity/feed",
        ctx.client.endpoints.base(Service::Manage),
        ctx.tenant_id
    )
}

/// Starts the subscriptions of `wanted` content types that are missing or not enabled.
pub(crate) fn ensure_subscriptions(
    ctx: &Ctx<'_>,
    run: &StreamRun,
) -> Result<Vec<String>, CallError> {
    let base = feed(ctx);
    let url = format!(
        "{base}/subscriptions/list?PublisherIdentifier={}",
        ctx.tenant_id
    );
    let resp = ctx
        .client
        .send(Service::Manage, "GET", &url, None, &run.counters)?;
    let mut enabled = HashSet::new();
    for_each_in_array(resp.body, &mut |v| {
        let ct = v.get("contentType").and_then(Value::as_str).unwrap_or("");
        let status = v.get("status").and_then(Value::as_str).unwrap_or("");
        if status.eq_ignore_ascii_case("enabled") {
            enabled.insert(ct.to_owned());
        }
        Ok(())
    })
    .map_err(|detail| CallError::Shape {
        url: url.clone(),
        detail,
    })?;
    let mut started = Vec::new();
    for ct in CONTENT_TYPES {
        if enabled.contains(ct) {
            continue;
        }
        let url = format!(
            "{base}/subscriptions/start?contentType={ct}&PublisherIdentifier={}",
            ctx.tenant_id
        );
        ctx.client
            .send(Service::Manage, "POST", &url, None, &run.counters)?;
        started.push(ct.to_owned());
    }
    Ok(started)
}

/// A blob named by a content listing.
struct ContentRef {
    id: String,
    uri: String,
}

/// Collects one content type.
pub(crate) fn collect(ctx: &Ctx<'_>, run: &StreamRun) -> Result<(), CallError> {
    let stream = run.stream;
    let source = SourceKind::O365;
    let oldest = Timestamp(ctx.now.0 - RETENTION + MINUTE);
    let since = if ctx.since < oldest {
        if ctx.config.sources.contains(&SourceKind::Purview) {
            // Purview covers the older part; the UAL records share one dedupe index.
            *run.covered_from
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(oldest);
        } else {
            run.gap(
                ctx.since,
                oldest.min(ctx.until),
                "older than the Management API's 7 days of content (collect it with --source purview)"
                    .into(),
                None,
            );
        }
        oldest
    } else {
        ctx.since
    };
    if since >= ctx.until {
        return Ok(());
    }
    // Re-list recent windows: the API may list a blob there late.
    let relist_after = Timestamp(ctx.until.0 - micros(ctx.config.pacing.relist_recent));
    for w in ctx.store.windows(source, stream).map_err(state_err)? {
        if w.complete && w.end > relist_after && w.start < ctx.until {
            ctx.store
                .set_window_complete(source, stream, w.start, false)
                .map_err(state_err)?;
        }
    }
    let rows = ctx.store.windows(source, stream).map_err(state_err)?;
    for (s, e) in uncovered(&rows, since, ctx.until) {
        let mut at = s;
        while at < e {
            // Day-aligned cuts keep windows stable from run to run.
            let next = Timestamp(((at.0.div_euclid(MAX_WINDOW)) + 1) * MAX_WINDOW).min(e);
            ctx.store
                .add_window(source, stream, at, next)
                .map_err(state_err)?;
            at = next;
        }
    }
    let mut work: Vec<(Timestamp, Timestamp)> = ctx
        .store
        .windows(source, stream)
        .map_err(state_err)?
        .into_iter()
        .filter(|w| !w.complete && w.end > since && w.start < ctx.until)
        .map(|w| (w.start, w.end))
        .collect();
    work.reverse();
    while let Some((start, end)) = work.pop() {
        match list(ctx, run, start, end) {
            Ok(blobs) => {
                if fetch_all(ctx, run, start, end, &blobs) {
                    ctx.store
                        .set_window_complete(source, stream, start, true)
                        .map_err(state_err)?;
                }
                (ctx.progress)(&format!(
                    "o365 {stream} {start}..{end}: {} blobs listed",
                    blobs.len()
                ));
            }
            Err(e) if matches!(e.code(), "AF20030" | "AF20055") => {
                if halve(ctx, run, (start, end), MINUTE, &mut work)?.is_none() {
                    run.gap(start, end, format!("listing content: {e}"), None);
                }
            }
            Err(e) => run.gap(start, end, format!("listing content: {e}"), None),
        }
    }
    Ok(())
}

/// Lists every blob of a window, following `NextPageUri` to the end.
fn list(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    start: Timestamp,
    end: Timestamp,
) -> Result<Vec<ContentRef>, CallError> {
    let fmt = |t: Timestamp| {
        let s = crate::window::iso(t);
        s.trim_end_matches('Z').to_owned()
    };
    let mut url = format!(
        "{}/subscriptions/content?contentType={}&startTime={}&endTime={}&PublisherIdentifier={}",
        feed(ctx),
        run.stream,
        fmt(start),
        fmt(end),
        ctx.tenant_id
    );
    let mut pages = HashSet::new();
    let mut blobs = Vec::new();
    let mut ids = HashSet::new();
    loop {
        pages.insert(url.clone());
        let resp = ctx
            .client
            .send(Service::Manage, "GET", &url, None, &run.counters)?;
        let next = resp
            .header("nextpageuri")
            .or_else(|| resp.header("nextpageurl"))
            .map(str::to_owned);
        for_each_in_array(resp.body, &mut |v| {
            let id = v.get("contentId").and_then(Value::as_str).unwrap_or("");
            let uri = v.get("contentUri").and_then(Value::as_str).unwrap_or("");
            if id.is_empty() || uri.is_empty() {
                return Err("a content entry without contentId or contentUri".into());
            }
            if ids.insert(id.to_owned()) {
                blobs.push(ContentRef {
                    id: id.to_owned(),
                    uri: uri.to_owned(),
                });
            }
            Ok(())
        })
        .map_err(|detail| CallError::Shape {
            url: url.clone(),
            detail,
        })?;
        match next {
            Some(n) if pages.contains(&n) => {
                return Err(CallError::Shape {
                    url: n,
                    detail: "NextPageUri loops back to a page already listed".into(),
                });
            }
            Some(n) => url = n,
            None => return Ok(blobs),
        }
    }
}

/// Fetches the window's blobs not fetched before, `concurrency` at a time. False when any
/// failed (each failure is a gap naming its blob).
fn fetch_all(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    start: Timestamp,
    end: Timestamp,
    blobs: &[ContentRef],
) -> bool {
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let workers = ctx.config.concurrency.min(blobs.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(blob) = blobs.get(i) else { break };
                    if let Err(e) = fetch_blob(ctx, run, blob) {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let reason = if e.code() == "AF20051" {
                            format!("content expired, can no longer be fetched: {e}")
                        } else {
                            format!("fetching content: {e}")
                        };
                        run.gap(start, end, reason, Some(blob.id.clone()));
                    }
                }
            });
        }
    });
    failed.load(Ordering::Relaxed) == 0
}

fn fetch_blob(ctx: &Ctx<'_>, run: &StreamRun, blob: &ContentRef) -> Result<(), CallError> {
    if ctx
        .store
        .blob_done(run.stream, &blob.id)
        .map_err(state_err)?
    {
        return Ok(());
    }
    let resp = ctx
        .client
        .send(Service::Manage, "GET", &blob.uri, None, &run.counters)?;
    let scratch = Scratch::save(ctx.store, resp, &blob.uri)?;
    let file = scratch.open()?;
    let mut unit = ctx
        .store
        .begin_unit(SourceKind::O365, run.stream, FileKind::JsonArray)?;
    for_each_in_array(file, &mut |v| {
        let id = v.get("Id").and_then(Value::as_str).map(str::to_owned);
        unit.record(&v, id.as_deref())
    })
    .map_err(|detail| CallError::Shape {
        url: blob.uri.clone(),
        detail,
    })?;
    unit.commit(
        &blob.id,
        &Cursor::BlobDone {
            content_id: blob.id.clone(),
        },
    )?;
    Ok(())
}
