//! `adfs-key-theft` (medium): the steps of stealing an AD FS token-signing key, where the logs
//! hold them (see [`crate::directory::KeyTheft`]): the DKM key read over LDAP, the AD FS
//! configuration database read for its signing certificate, a certificate export, and
//! directory replication requested by a host that is not a domain controller (a configured
//! one, or one that receives replication requests in the input).
//!
//! One alert per signal and host. Medium, not high: the AD FS service itself reads its DKM key
//! and configuration, and keywarden does not know which account runs it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, json};

use super::Candidate;
use super::finding::Finding;
use crate::config::Settings;
use crate::directory::{KeyTheft, TheftSignal};
use crate::scan::{Ctx, Scan};

/// Evidence lists are capped at this many entries.
const LIST_CAP: usize = 50;

pub(crate) fn candidates(scan: &Scan, s: &Settings) -> Vec<Candidate> {
    let cfg = &s.config.rules.adfs_key_theft;
    let thefts = &scan.directory.thefts;
    if !cfg.enabled || thefts.is_empty() {
        return Vec::new();
    }
    let short = |h: &str| h.split('.').next().unwrap_or(h).to_ascii_lowercase();
    let mut dcs: BTreeSet<String> = cfg.domain_controllers.iter().map(|d| short(d)).collect();
    dcs.extend(
        thefts
            .iter()
            .filter(|t| t.signal == TheftSignal::ReplicationFromNonDc)
            .filter_map(|t| t.destination.as_deref().map(short)),
    );
    let mut groups: BTreeMap<(TheftSignal, String), Vec<&KeyTheft>> = BTreeMap::new();
    for t in thefts {
        let host = t.host.as_deref().map(short);
        if t.signal == TheftSignal::ReplicationFromNonDc {
            // A request from an unknown host, or from a domain controller, is no evidence.
            match &host {
                Some(h) if !dcs.contains(h) => {}
                _ => continue,
            }
        }
        groups
            .entry((t.signal, host.unwrap_or_default()))
            .or_default()
            .push(t);
    }
    groups
        .into_iter()
        .map(|((signal, host), records)| {
            let finding = Finding::AdfsKeyTheft { signal };
            let actors: BTreeSet<&str> =
                records.iter().filter_map(|r| r.actor.as_deref()).collect();
            let details: BTreeSet<&str> = records.iter().map(|r| r.detail.as_str()).collect();
            let mut ev = Map::new();
            ev.insert("signal".into(), json!(signal));
            ev.insert("host".into(), json!(host));
            ev.insert(
                "actors".into(),
                json!(actors.iter().take(LIST_CAP).collect::<Vec<_>>()),
            );
            ev.insert(
                "details".into(),
                json!(details.iter().take(LIST_CAP).collect::<Vec<_>>()),
            );
            if signal == TheftSignal::ReplicationFromNonDc {
                let to: BTreeSet<&str> = records
                    .iter()
                    .filter_map(|r| r.destination.as_deref())
                    .collect();
                ev.insert("replicated_from".into(), json!(to));
                ev.insert("domain_controllers".into(), json!(dcs));
            }
            ev.insert("count".into(), json!(records.len()));
            Candidate {
                rule: finding.rule(),
                title: finding.title(),
                severity: finding.severity(),
                score: finding.score(),
                keys: Vec::new(),
                linked: Vec::new(),
                ctx: Ctx::default(),
                first: records.iter().filter_map(|r| r.time).min(),
                last: records.iter().filter_map(|r| r.time).max(),
                evidence: ev,
                records: records.iter().map(|r| r.record.clone()).collect(),
                user: actors.iter().next().map(|a| a.to_string()),
            }
        })
        .collect()
}
