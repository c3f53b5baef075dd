//! `keywarden collect` end to end, as a user runs it, against the Microsoft API emulator of
//! `keywarden-collect`'s tests: killed with SIGKILL mid-run and resumed, nothing is lost or
//! repeated, and `hunt` on the collected directory finds the same incidents as on the
//! simulator's own export, plus the verdicts its `collect.json` (declared sign-in coverage)
//! makes possible. Exit codes: 0 complete, 2 bad credentials.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../../keywarden-collect/tests/emulator/mod.rs"]
mod emulator;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use emulator::{CLIENT_ID, Emulator, Faults, SimClock, TENANT, WORKSPACE, tenant};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keywarden"))
}

fn collect_cmd(emu: &Emulator, secret: &Path, out: &Path, now: &str) -> Command {
    let mut c = bin();
    c.args([
        "collect",
        "--tenant",
        TENANT,
        "--client-id",
        CLIENT_ID,
        "--client-secret-file",
    ])
    .arg(secret)
    .args([
        "--source",
        "o365,graph-signins,loganalytics,purview",
        "--workspace",
        WORKSPACE,
    ])
    .args(["--since", &tenant::since().to_rfc3339(), "--now", now])
    .args([
        "--max-requests-per-minute",
        "60000",
        "--purview-poll-ms",
        "5",
        "--quiet",
    ])
    .arg("--out")
    .arg(out);
    for e in emu.endpoints() {
        c.arg("--endpoint").arg(e);
    }
    c
}

/// High and critical alerts: (rule, record ids), sorted.
fn strong_alerts(out: &Path) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|a| a["severity"] == "high" || a["severity"] == "critical")
        .map(|a| {
            let mut ids: Vec<String> = a["record_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_string())
                .collect();
            ids.sort();
            (a["rule_id"].as_str().unwrap().to_string(), ids)
        })
        .collect();
    v.sort();
    v
}

fn hunt(input: &Path, out: &Path) {
    let st = bin()
        .args(["hunt", "--out"])
        .arg(out)
        .arg(input)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "hunt {}", input.display());
}

#[test]
fn killed_mid_run_resumes_exactly_once_and_hunt_finds_the_same_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let data = tenant::simulate(&export, 6);
    let ual = data.ual.len();
    let now = tenant::end().plus_seconds(2 * 3600);
    let emu = Emulator::start(
        data,
        Faults {
            throttle_every: 29,
            error_every: 31,
            token_lifetime_s: 3,
            blob_delay: Duration::from_millis(15),
            content_page: 20,
            graph_page: 200,
            ..Faults::default()
        },
        SimClock::new(now),
    );
    let secret = dir.path().join("secret");
    std::fs::write(&secret, emulator::SECRET).unwrap();
    let collected = dir.path().join("collected");

    // Wrong secret: exit 2, nothing collected, the secret never echoed.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "not-the-secret").unwrap();
    let o = collect_cmd(&emu, &bad, &dir.path().join("nothing"), &now.to_rfc3339())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("not-the-secret"));

    // Kill the first run once it has fetched some blobs.
    let mut child = collect_cmd(&emu, &secret, &collected, &now.to_rfc3339())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let blobs = emu
            .requests()
            .iter()
            .filter(|r| r.path.contains("/activity/feed/audit/"))
            .count();
        if blobs >= 25 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    let killed = child.wait().unwrap();
    assert!(!killed.success(), "the run was killed before it finished");
    let partial = emulator::written(&collected);
    assert!(partial.values().all(|ids| ids.values().all(|n| *n == 1)));

    // Resume: everything, exactly once.
    let o = collect_cmd(
        &emu,
        &secret,
        &collected,
        &now.plus_seconds(60).to_rfc3339(),
    )
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = emulator::written(&collected);
    assert_eq!(got["ual"].len(), ual);
    assert!(
        got.values().all(|ids| ids.values().all(|n| *n == 1)),
        "a record was written twice"
    );
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(collected.join("collect.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["complete"], true);

    // hunt reads the collected directory unchanged and finds what it finds in the export,
    // with one difference the manifest explains: collect.json declares the sign-in streams
    // complete over the collected range, so a token the export left unjudged for a gap in its
    // sign-ins is judged in the collected directory.
    let (h1, h2) = (dir.path().join("h-export"), dir.path().join("h-collected"));
    hunt(&export, &h1);
    hunt(&collected, &h2);
    let (a1, a2) = (strong_alerts(&h1), strong_alerts(&h2));
    assert!(
        !a1.is_empty(),
        "the simulated intrusion is found in the export"
    );
    let summary = |h: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(h.join("summary.json")).unwrap()).unwrap()
    };
    let (s1, s2) = (summary(&h1), summary(&h2));
    assert_eq!(s2["rejected"], 0, "{s2:#}");
    let (c1, c2) = (&s1["coverage"], &s2["coverage"]);
    // The same sign-ins were seen...
    assert_eq!(c1["tenants"], c2["tenants"]);
    assert_eq!(c1["traced_to_sign_in"], c2["traced_to_sign_in"]);
    // ...but only the collected directory declares its coverage: every sign-in category, for
    // the tenant the records name, over the whole collected range without a hole.
    assert_eq!(c1["declared"], serde_json::json!([]));
    for category in [
        "interactive",
        "non-interactive",
        "service-principal",
        "managed-identity",
    ] {
        let mut spans: Vec<(&str, &str)> = c2["declared"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["tenant"] == TENANT && d["category"] == category)
            .map(|d| (d["start"].as_str().unwrap(), d["end"].as_str().unwrap()))
            .collect();
        spans.sort();
        assert!(!spans.is_empty(), "{category} declared");
        let (since, until) = (
            manifest["since"].as_str().unwrap(),
            manifest["until"].as_str().unwrap(),
        );
        assert!(spans[0].0 <= since, "{category} from {since}: {spans:?}");
        assert!(
            spans.windows(2).all(|w| w[1].0 <= w[0].1),
            "{category} without a hole: {spans:?}"
        );
        assert!(spans.iter().any(|s| s.1 >= until), "{category} to {until}");
    }
    let gap = &c1["unjudged"]["time-gap"];
    let gap_tokens = gap["tokens"].as_u64().unwrap_or(0);
    assert!(gap_tokens > 0, "the export leaves a token unjudged: {c1:#}");
    assert!(c2["unjudged"].get("time-gap").is_none(), "{c2:#}");
    assert_eq!(
        c2["judged_never_issued"].as_u64().unwrap(),
        c1["judged_never_issued"].as_u64().unwrap() + gap_tokens
    );
    // Every incident of the export is found; what is added is the verdict on those tokens.
    let extra: Vec<&(String, Vec<String>)> = a2.iter().filter(|a| !a1.contains(a)).collect();
    assert!(a1.iter().all(|a| a2.contains(a)), "{a1:?}\n{a2:?}");
    assert_eq!(extra.len() as u64, gap_tokens, "{extra:?}");
    assert!(extra.iter().all(|(rule, _)| rule == "token-never-issued"));
    assert_eq!(
        extra.iter().map(|(_, ids)| ids.len() as u64).sum::<u64>(),
        gap["records"].as_u64().unwrap()
    );
}
