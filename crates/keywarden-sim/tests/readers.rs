//! Every file the simulator writes, in every shape, reads through `keywarden_ingest` with zero
//! rejections, and what the readers extract agrees with `truth.json`: the attacker's records
//! are there with forged consumer-tenant tokens that no sign-in issued, every benign token id
//! traces to a sign-in, and the exposure recomputed from the *read* events equals the truth's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use common::{read_back, simulate};
use keywarden_model::{SourceKind, TimeWindow};
use keywarden_sim::tenant::CONSUMER_TENANT;
use keywarden_sim::{Attack, Shape};

/// Messages, synced folders and throttled windows of one mailbox.
type Exposed = (BTreeSet<String>, BTreeSet<String>, Vec<TimeWindow>);

/// Each UAL shape with each sign-in shape.
fn combinations() -> Vec<[Shape; 2]> {
    let mut out = Vec::new();
    for u in Shape::UAL {
        for s in Shape::SIGN_IN {
            out.push([u, s]);
        }
    }
    out
}

#[test]
fn every_shape_reads_back_without_rejection() {
    for (n, shapes) in combinations().into_iter().enumerate() {
        let (dir, report) = simulate(100 + n as u64, 12, 9, Attack::Storm0558, &shapes);
        let back = read_back(dir.path());
        assert!(
            back.rejections.is_empty(),
            "{shapes:?}: {:#?}",
            back.rejections
        );
        assert_eq!(back.records, report.records, "{shapes:?}: counts add up");
        assert_eq!(
            back.events.len() as u64,
            report.records,
            "{shapes:?}: ids unique"
        );
        // The shape written is the shape the reader recognised.
        for shape in shapes {
            assert!(
                back.formats.contains_key(shape.as_str()),
                "{shape} not recognised: {:?}",
                back.formats
            );
        }
        assert!(back.formats.contains_key("graph-activity"));
    }
}

#[test]
fn readers_agree_with_the_truth() {
    for (n, shapes) in combinations().into_iter().enumerate() {
        let (dir, report) = simulate(200 + n as u64, 15, 10, Attack::Storm0558, &shapes);
        let truth = &report.truth;
        let back = read_back(dir.path());
        let issued: HashSet<&str> = back
            .events
            .values()
            .filter(|s| s.source == SourceKind::EntraSignIn)
            .filter_map(|s| s.token_id.as_deref())
            .collect();
        assert!(!issued.is_empty());
        let attacker: HashSet<&str> = truth
            .attacker_record_ids
            .iter()
            .map(String::as_str)
            .collect();
        assert!(!attacker.is_empty());
        for id in &truth.attacker_record_ids {
            let seen = back
                .events
                .get(id)
                .unwrap_or_else(|| panic!("{shapes:?}: {id} not read"));
            let token = seen
                .token_id
                .as_deref()
                .expect("attacker records carry a token id");
            assert!(
                !issued.contains(token),
                "forged token {token} has a sign-in"
            );
            if seen.source == SourceKind::UnifiedAuditLog {
                assert_eq!(seen.operation.as_deref(), Some("MailItemsAccessed"));
                assert_eq!(
                    seen.token_tenant.as_deref(),
                    Some(CONSUMER_TENANT),
                    "{shapes:?}"
                );
            } else {
                assert_eq!(seen.source, SourceKind::GraphActivity);
            }
        }
        // Benign: every token id that is logged traces to a sign-in; system records log none.
        for (id, seen) in &back.events {
            if attacker.contains(id.as_str()) || seen.source == SourceKind::EntraSignIn {
                continue;
            }
            if let Some(t) = &seen.token_id {
                assert!(
                    issued.contains(t.as_str()),
                    "{shapes:?}: benign {id} token {t} unissued"
                );
            }
            if seen.logon_type == Some(4) {
                assert_eq!(seen.token_id, None, "system record {id} has a token");
            }
        }
        // Exposure recomputed from the events as read.
        let mut exposed: BTreeMap<String, Exposed> = BTreeMap::new();
        for id in &truth.attacker_record_ids {
            let seen = &back.events[id];
            if seen.source != SourceKind::UnifiedAuditLog {
                continue;
            }
            let owner = seen.mailbox_owner.clone().expect("mailbox owner");
            let e = exposed.entry(owner).or_default();
            match seen.mail_access_type.as_deref() {
                Some("Bind") => {
                    for (_, ids) in &seen.folders {
                        e.0.extend(ids.iter().cloned());
                    }
                }
                Some("Sync") => {
                    for (path, _) in &seen.folders {
                        e.1.insert(path.clone().expect("folder path"));
                    }
                }
                other => panic!("unexpected access type {other:?}"),
            }
            if seen.throttled == Some(true) {
                let start = seen.time.expect("time");
                e.2.push(TimeWindow {
                    start,
                    end: start.plus_seconds(86_400),
                });
            }
        }
        let incident = &truth.exposure.incidents[0];
        assert_eq!(incident.mailboxes.len(), exposed.len(), "{shapes:?}");
        for mb in &incident.mailboxes {
            let (messages, folders, windows) = &exposed[&mb.mailbox];
            assert_eq!(&mb.messages, &messages.iter().cloned().collect::<Vec<_>>());
            assert_eq!(
                &mb.folders_synced,
                &folders.iter().cloned().collect::<Vec<_>>()
            );
            assert_eq!(&mb.throttled_windows, windows);
        }
    }
}

#[test]
fn a_clean_tenant_has_no_attacker_and_no_unissued_token() {
    let (dir, report) = simulate(7, 15, 9, Attack::None, &[]);
    assert!(report.truth.attacker_record_ids.is_empty());
    assert!(report.truth.exposure.incidents.is_empty());
    let back = read_back(dir.path());
    assert!(back.rejections.is_empty(), "{:#?}", back.rejections);
    let issued: HashSet<&str> = back
        .events
        .values()
        .filter(|s| s.source == SourceKind::EntraSignIn)
        .filter_map(|s| s.token_id.as_deref())
        .collect();
    for (id, seen) in &back.events {
        if let Some(t) = &seen.token_id {
            assert!(issued.contains(t.as_str()), "{id}: {t}");
        }
        assert_ne!(seen.token_tenant.as_deref(), Some(CONSUMER_TENANT), "{id}");
    }
}
