//! One collection run: check the settings, read the credentials, open the state, authenticate
//! (failures here are exit 2), start missing Management API subscriptions, collect every
//! (source, stream) on `concurrency` workers, then write `collect.json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use keywarden_model::Timestamp;

use crate::auth::{Credentials, TokenProvider};
use crate::client::Client;
use crate::clock::Clock;
use crate::config::{CollectConfig, Service, SourceKind};
use crate::error::{CallError, CollectError};
use crate::http::Transport;
use crate::manifest::{MANIFEST_VERSION, Manifest, stream_entry, write};
use crate::store::Store;
use crate::window::{Ctx, StreamRun};

/// Runs a collection and returns the manifest it wrote to `DIR/collect.json`.
/// `progress` receives one line per window (the CLI prints it or not).
pub fn collect(
    config: &CollectConfig,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Manifest, CollectError> {
    config.check()?;
    let credentials = Credentials::load(&config.credential, &config.client_id)?;
    std::fs::create_dir_all(&config.out).map_err(|e| crate::error::io_error(&config.out, e))?;
    let store = Store::open(&config.out, &config.tenant)?;
    let now = clock.now();
    // Whole seconds: every API filters at second precision, and a window that rounds to
    // nothing is refused (AF20030).
    let whole = |t: Timestamp| Timestamp::from_unix_seconds(t.unix_seconds());
    let until = whole(config.until.min(now));
    let since = whole(config.since).min(until);
    let tokens = TokenProvider::new(
        credentials,
        &config.endpoints.login,
        &config.tenant,
        transport.clone(),
        clock.clone(),
        config.pacing.token_renew_before,
    );
    let client = Client::new(config, transport, tokens, clock);
    let mut services: Vec<Service> = config
        .sources
        .iter()
        .map(|s| match s {
            SourceKind::O365 => Service::Manage,
            SourceKind::LogAnalytics => Service::LogAnalytics,
            _ => Service::Graph,
        })
        .collect();
    services.sort();
    services.dedup();
    for s in services {
        client.authenticate(s).map_err(|e| CollectError::Auth {
            url: config.endpoints.login.clone(),
            detail: e.to_string(),
        })?;
    }
    let tenant_id = resolve_tenant_id(&config.tenant, client.token_tenant_id());
    if tenant_id.is_none() {
        progress(&format!(
            "note: --tenant {} is not a tenant id and the tokens name none: the Management API \
             is addressed by the domain, and hunt applies collect.json's coverage only to \
             records whose tenant is written this way",
            config.tenant
        ));
    }
    let ctx = Ctx {
        client: &client,
        store: &store,
        config,
        tenant_id: tenant_id.as_deref().unwrap_or(&config.tenant),
        since,
        until,
        now,
        progress,
    };
    let mut sources = config.sources.clone();
    sources.sort();
    sources.dedup();
    let runs: Vec<StreamRun> = sources
        .iter()
        .flat_map(|s| s.streams().iter().map(move |st| StreamRun::new(*s, st)))
        .collect();
    let subscriptions = if sources.contains(&SourceKind::O365) {
        runs.iter()
            .find(|r| r.source == SourceKind::O365)
            .map(|r| crate::o365::ensure_subscriptions(&ctx, r))
            .transpose()
            .map_err(|e| match e {
                CallError::Status {
                    status: 401 | 403, ..
                } => Some(CollectError::Auth {
                    url: config.endpoints.manage.clone(),
                    detail: e.to_string(),
                }),
                _ => None,
            })
    } else {
        Ok(None)
    };
    let subscriptions_failed = match subscriptions {
        Ok(Some(started)) => {
            for ct in started {
                progress(&format!("o365: started the {ct} subscription"));
            }
            None
        }
        Ok(None) => None,
        Err(Some(auth)) => return Err(auth),
        Err(None) => Some("the Management API subscriptions could not be listed or started"),
    };
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..config.concurrency.min(runs.len()).max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(run) = runs.get(i) else { break };
                    if run.source == SourceKind::O365
                        && let Some(why) = subscriptions_failed
                    {
                        run.gap(since, until, why.into(), None);
                        continue;
                    }
                    let result = match run.source {
                        SourceKind::O365 => crate::o365::collect(&ctx, run),
                        SourceKind::GraphSignins => crate::graph::collect_sign_ins(&ctx, run),
                        SourceKind::GraphAudit => crate::graph::collect_directory_audits(&ctx, run),
                        SourceKind::LogAnalytics => crate::loganalytics::collect(&ctx, run),
                        SourceKind::Purview => crate::purview::collect(&ctx, run),
                    };
                    if let Err(e) = result {
                        run.gap(since, until, e.to_string(), None);
                    }
                }
            });
        }
    });
    let mut entries = Vec::new();
    for run in &runs {
        store.add_requests(run.source, run.stream, run.counters.snapshot())?;
        let from = run
            .covered_from
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .map_or(since, |f| f.max(since).min(until));
        entries.push(stream_entry(
            &store,
            run.source,
            run.stream,
            from,
            until,
            run.take_gaps(),
        )?);
    }
    let manifest = Manifest {
        keywarden_collect: MANIFEST_VERSION,
        tenant: config.tenant.clone(),
        tenant_id,
        since,
        until,
        complete: entries.iter().all(|e| e.complete),
        sources: entries,
    };
    write(&manifest, &config.out)?;
    Ok(manifest)
}

/// The directory (tenant) id of the collection: `--tenant` itself when it is one (lower
/// case), else the `tid` the identity platform wrote into our tokens (`--tenant` was a
/// domain), else unknown.
fn resolve_tenant_id(tenant: &str, from_tokens: Option<String>) -> Option<String> {
    let id = tenant.to_ascii_lowercase();
    if keywarden_token::policy::is_lower_guid(&id) {
        Some(id)
    } else {
        from_tokens
    }
}
