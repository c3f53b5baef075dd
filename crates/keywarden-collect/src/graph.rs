//! Microsoft Graph reports: `beta/auditLogs/signIns` once per `signInEventTypes` value (v1.0
//! returns interactive sign-ins only) and `v1.0/auditLogs/directoryAudits`, each sliced by time
//! (`createdDateTime` / `activityDateTime`, `ge start and lt end`) and paged with
//! `@odata.nextLink` until it is absent. Every page is one unit (a Graph page file, which
//! `hunt` reads as `signin-graph` / `entra-audit`), committed with the next link as the cursor,
//! so a re-run resumes mid-window. A link seen twice in one window is a loop: the window stays
//! incomplete and is named as a gap.
//!
//! Windows adapt: a window that took more than [`MANY_PAGES`] pages halves the next one, one
//! that took at most [`FEW_PAGES`] doubles it (up to [`MAX_WINDOW`]): a small tenant's day of
//! sign-ins is one window of a few pages.

use std::collections::HashSet;

use keywarden_model::Timestamp;
use serde_json::Value;

use crate::config::Service;
use crate::error::CallError;
use crate::store::{Cursor, FileKind};
use crate::stream_json::for_each_in_page;
use crate::window::{
    Ctx, DAY, MINUTE, Scratch, StreamRun, encode_query_value, iso, state_err, uncovered,
};

/// Every `signInEventTypes` value, in `collect.json` order.
pub const SIGN_IN_EVENT_TYPES: [&str; 4] = [
    "interactiveUser",
    "nonInteractiveUser",
    "servicePrincipal",
    "managedIdentity",
];

const FEW_PAGES: u32 = 2;
const MANY_PAGES: u32 = 50;
const MAX_WINDOW: i64 = 7 * DAY;
const MIN_WINDOW: i64 = 5 * MINUTE;
const FIRST_WINDOW: i64 = DAY;

/// How one windowed, paged Graph collection is asked for.
pub(crate) struct PagedQuery<'q> {
    /// The first page's URL of a window.
    pub first_url: &'q dyn Fn(Timestamp, Timestamp) -> String,
    /// The record's id member.
    pub id_key: &'q str,
    /// What is written per record (Purview writes the `auditData` it carries).
    pub file_kind: FileKind,
    pub transform: &'q dyn Fn(Value) -> Value,
}

/// Sign-ins of one event type.
pub(crate) fn collect_sign_ins(ctx: &Ctx<'_>, run: &StreamRun) -> Result<(), CallError> {
    let base = ctx.client.endpoints.base(Service::Graph).to_owned();
    let event_type = run.stream;
    let first_url = move |s: Timestamp, e: Timestamp| {
        let filter = format!(
            "createdDateTime ge {} and createdDateTime lt {} and signInEventTypes/any(t: t eq '{event_type}')",
            iso(s),
            iso(e)
        );
        format!(
            "{base}/beta/auditLogs/signIns?$filter={}&$top=1000",
            encode_query_value(&filter)
        )
    };
    collect_windows(
        ctx,
        run,
        &PagedQuery {
            first_url: &first_url,
            id_key: "id",
            file_kind: FileKind::GraphPage,
            transform: &|v| v,
        },
    )
}

/// Directory audits.
pub(crate) fn collect_directory_audits(ctx: &Ctx<'_>, run: &StreamRun) -> Result<(), CallError> {
    let base = ctx.client.endpoints.base(Service::Graph).to_owned();
    let first_url = move |s: Timestamp, e: Timestamp| {
        let filter = format!(
            "activityDateTime ge {} and activityDateTime lt {}",
            iso(s),
            iso(e)
        );
        format!(
            "{base}/v1.0/auditLogs/directoryAudits?$filter={}",
            encode_query_value(&filter)
        )
    };
    collect_windows(
        ctx,
        run,
        &PagedQuery {
            first_url: &first_url,
            id_key: "id",
            file_kind: FileKind::GraphPage,
            transform: &|v| v,
        },
    )
}

/// Resumes the stream's incomplete windows, then covers the rest of `[since, until)` with
/// adaptively sized windows.
fn collect_windows(ctx: &Ctx<'_>, run: &StreamRun, q: &PagedQuery<'_>) -> Result<(), CallError> {
    let source = run.source;
    let rows = ctx.store.windows(source, run.stream).map_err(state_err)?;
    for w in rows
        .iter()
        .filter(|w| !w.complete && w.end > ctx.since && w.start < ctx.until)
    {
        let first = (q.first_url)(w.start, w.end);
        run_window(
            ctx,
            run,
            q,
            w.start,
            w.end,
            &first,
            w.next_link.clone(),
            w.page,
        );
    }
    let mut size = FIRST_WINDOW;
    for (s, e) in uncovered(&rows, ctx.since, ctx.until) {
        let mut at = s;
        while at < e {
            let end = Timestamp(at.0.saturating_add(size)).min(e);
            ctx.store
                .add_window(source, run.stream, at, end)
                .map_err(state_err)?;
            let first = (q.first_url)(at, end);
            let pages = run_window(ctx, run, q, at, end, &first, None, 0);
            if pages > MANY_PAGES {
                size = (size / 2).max(MIN_WINDOW);
            } else if pages <= FEW_PAGES {
                size = (size * 2).min(MAX_WINDOW);
            }
            at = end;
        }
    }
    Ok(())
}

/// Pages one window to its end (or its first failure, which becomes a gap). Returns the pages
/// read in this run.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_window(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    q: &PagedQuery<'_>,
    start: Timestamp,
    end: Timestamp,
    first_url: &str,
    resume: Option<String>,
    page: u32,
) -> u32 {
    let resumed = resume.is_some();
    let mut url = resume.unwrap_or_else(|| first_url.to_owned());
    let mut page = page;
    let mut read = 0;
    let mut links: HashSet<String> = HashSet::new();
    loop {
        links.insert(url.clone());
        let next = match page_once(ctx, run, q, start, &url, page) {
            Ok(next) => next,
            Err(_) if resumed && read == 0 => {
                // A saved link can expire between runs: start the window again (records
                // already written are dropped as duplicates).
                return run_window(ctx, run, q, start, end, first_url, None, 0);
            }
            Err(e) => {
                run.gap(start, end, format!("page {}: {e}", page + 1), None);
                return read;
            }
        };
        read += 1;
        page += 1;
        match next {
            None => {
                (ctx.progress)(&format!(
                    "{} {} {start}..{end}: {page} pages",
                    run.source, run.stream
                ));
                return read;
            }
            Some(n) if links.contains(&n) => {
                let _ = ctx
                    .store
                    .set_window_complete(run.source, run.stream, start, false);
                run.gap(
                    start,
                    end,
                    format!("@odata.nextLink loops back to page {page} or earlier"),
                    None,
                );
                return read;
            }
            Some(n) => url = n,
        }
    }
}

/// Fetches one page, writes it as a unit with its next link as the cursor.
fn page_once(
    ctx: &Ctx<'_>,
    run: &StreamRun,
    q: &PagedQuery<'_>,
    window_start: Timestamp,
    url: &str,
    page: u32,
) -> Result<Option<String>, CallError> {
    let resp = ctx
        .client
        .send(Service::Graph, "GET", url, None, &run.counters)?;
    let scratch = Scratch::save(ctx.store, resp, url)?;
    let file = scratch.open()?;
    let mut unit = ctx.store.begin_unit(run.source, run.stream, q.file_kind)?;
    let links = for_each_in_page(file, &mut |v| {
        let id = v.get(q.id_key).and_then(Value::as_str).map(str::to_owned);
        unit.record(&(q.transform)(v), id.as_deref())
    })
    .map_err(|detail| CallError::Shape {
        url: url.to_owned(),
        detail,
    })?;
    let label = format!("{}-p{:05}", iso(window_start), page + 1);
    unit.commit(
        &label,
        &Cursor::Page {
            window_start,
            next_link: links.next_link.clone(),
            page: page + 1,
        },
    )?;
    Ok(links.next_link)
}
