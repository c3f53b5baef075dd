//! `keywarden verify`: the JSON output contract, the human-readable explanation (insta
//! snapshot) and the exit codes (0 all valid, 1 any rejected, 2 usage or policy error).
//! Fixture keys are Ed25519 public keys; the tokens were minted once with their private halves
//! (discarded), so nothing here can sign anything new.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use std::io::Write;
use std::process::{Command, Stdio};

const CONTOSO_JWKS: &str = r#"{"keys":[{"kty":"OKP","kid":"ed1","crv":"Ed25519","x":"s_IR0YJGbbHfvDZqVAmxckClHJcRkEXztOExnXJHf0k"}]}"#;
const CONSUMER_JWKS: &str = r#"{"keys":[{"kty":"OKP","kid":"msa1","crv":"Ed25519","x":"mW1K8cwRLVGaRAmt9TBG7_Dp4DkZAAATJDvkFq7S7_c"}]}"#;
/// Ed25519 token from the enterprise key for tenant 72f988bf…, exp 1800003600.
const VALID: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2xvZ2luLm1pY3Jvc29mdG9ubGluZS5jb20vNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3L3YyLjAiLCJ0aWQiOiI3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDciLCJhdWQiOiJhcGk6Ly93ZWJtYWlsIiwic3ViIjoiYWxpY2UiLCJleHAiOjE4MDAwMDM2MDAsIm5iZiI6MTc5OTk5OTk0MCwiaWF0IjoxNzk5OTk5OTQwfQ.Ts83CH2BJt6mf1RM9nLBika6pWC3RjkW4aawNoWGZomd3IxqEGvxFsOb9AEV-SQ0vY2htQgiIMQjGTBiDCcqDw";
/// Same claims, signed by the consumer key: a valid signature from the wrong issuer's key.
const FORGED: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Im1zYTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJodHRwczovL2xvZ2luLm1pY3Jvc29mdG9ubGluZS5jb20vNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3L3YyLjAiLCJ0aWQiOiI3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDciLCJhdWQiOiJhcGk6Ly93ZWJtYWlsIiwic3ViIjoiYWxpY2UiLCJleHAiOjE4MDAwMDM2MDAsIm5iZiI6MTc5OTk5OTk0MCwiaWF0IjoxNzk5OTk5OTQwfQ.9v_qxlkFJd4n7QKkhhYbGm7B_hLDEqnZUkVsQiwafoqOO52D66oR8WISGswZCkIVLaqD3KccLQqzGtXcdHwsDA";
/// Enterprise token that expired at 1799996400.
const EXPIRED: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImVkMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2xvZ2luLm1pY3Jvc29mdG9ubGluZS5jb20vNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3L3YyLjAiLCJ0aWQiOiI3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDciLCJhdWQiOiJhcGk6Ly93ZWJtYWlsIiwic3ViIjoiYWxpY2UiLCJleHAiOjE3OTk5OTY0MDAsIm5iZiI6MTc5OTk5OTk0MCwiaWF0IjoxNzk5OTk5OTQwfQ.tt2J7Aw0fIGXkz1AdfNBPeHrLvYRK9nAWUWT8dBUyJ5vQ8MAZnEaR-D70mSjX3L7w8-3CjQ3oeyx4VT1MzBjAA";
/// Consumer token for https://login.live.com.
const CONSUMER: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6Im1zYTEiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJodHRwczovL2xvZ2luLmxpdmUuY29tIiwiYXVkIjoiYXBpOi8vd2VibWFpbCIsInN1YiI6ImJvYiIsImV4cCI6MTgwMDAwMzYwMH0.4axB5cBZBFdcZKNqDvSpjb0zHNlVltmiZEowdeSwBqlZcF9sbCivckiX_VaQCvxhhMK0Jqask4fvnD4COuiVBg";
/// `{"alg":"none","kid":"ed1"}` over the enterprise claims, empty signature.
const NONE: &str = "eyJhbGciOiJub25lIiwia2lkIjoiZWQxIn0.eyJpc3MiOiJodHRwczovL2xvZ2luLm1pY3Jvc29mdG9ubGluZS5jb20vNzJmOTg4YmYtODZmMS00MWFmLTkxYWItMmQ3Y2QwMTFkYjQ3L3YyLjAiLCJ0aWQiOiI3MmY5ODhiZi04NmYxLTQxYWYtOTFhYi0yZDdjZDAxMWRiNDciLCJhdWQiOiJhcGk6Ly93ZWJtYWlsIiwic3ViIjoiYWxpY2UiLCJleHAiOjE4MDAwMDM2MDAsIm5iZiI6MTc5OTk5OTk0MCwiaWF0IjoxNzk5OTk5OTQwfQ.";
const NOW: &str = "1800000000";

const POLICY: &str = r#"
leeway_seconds = 60

[[issuer]]
id = "contoso"
issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
tenants = ["72f988bf-86f1-41af-91ab-2d7cd011db47"]
audiences = ["api://webmail"]
algorithms = ["EdDSA", "ES256"]
jwks_file = "contoso.jwks.json"

[[issuer]]
id = "consumer"
issuer = "https://login.live.com"
audiences = ["api://webmail"]
algorithms = ["EdDSA"]
jwks_file = "consumer.jwks.json"
"#;

fn setup(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trust.toml"), policy).unwrap();
    std::fs::write(dir.path().join("contoso.jwks.json"), CONTOSO_JWKS).unwrap();
    std::fs::write(dir.path().join("consumer.jwks.json"), CONSUMER_JWKS).unwrap();
    dir
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(dir: &tempfile::TempDir, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keywarden"));
    cmd.arg("verify")
        .arg("--trust")
        .arg(dir.path().join("trust.toml"))
        .args(args)
        .env("NO_COLOR", "1");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

const MEMBERS: [&str; 9] = [
    "valid", "reason", "kid", "alg", "iss", "tid", "aud", "sub", "exp",
];

#[test]
fn json_contract_one_object_per_token_in_order() {
    let dir = setup(POLICY);
    let o = run(
        &dir,
        &[
            "--now",
            NOW,
            "--json",
            VALID,
            FORGED,
            EXPIRED,
            NONE,
            "not-a-token",
        ],
        None,
    );
    assert_eq!(o.code, 1, "{}", o.stderr);
    let lines = json_lines(&o.stdout);
    let reasons: Vec<&str> = lines
        .iter()
        .map(|l| l["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "ok",
            "key-not-bound-to-issuer",
            "expired",
            "alg-none",
            "malformed"
        ]
    );
    for (l, raw) in lines.iter().zip(o.stdout.lines()) {
        let mut keys: Vec<&str> = l.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut sorted_members = MEMBERS.to_vec();
        sorted_members.sort_unstable();
        assert_eq!(keys, sorted_members, "exactly the contract members");
        // Member order on the wire is the documented one.
        let positions: Vec<usize> = MEMBERS
            .iter()
            .map(|m| raw.find(&format!("\"{m}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    }
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[0]["kid"], "ed1");
    assert_eq!(lines[0]["alg"], "EdDSA");
    assert_eq!(lines[0]["tid"], "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(lines[0]["aud"], "api://webmail");
    assert_eq!(lines[0]["sub"], "alice");
    assert_eq!(lines[0]["exp"], 1_800_003_600);
    // Rejected tokens still report the claims that could be read.
    assert_eq!(lines[1]["valid"], false);
    assert_eq!(lines[1]["kid"], "msa1");
    assert_eq!(
        lines[1]["iss"],
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
    );
    assert_eq!(lines[3]["alg"], "none");
    assert!(lines[4]["kid"].is_null() && lines[4]["iss"].is_null());
}

#[test]
fn exit_zero_when_all_valid_and_rfc3339_now() {
    let dir = setup(POLICY);
    let o = run(
        &dir,
        &["--now", "2027-01-15T08:00:00Z", "--json", VALID, CONSUMER],
        None,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(json_lines(&o.stdout).iter().all(|l| l["valid"] == true));
    // Two hours later both have expired.
    let o = run(
        &dir,
        &["--now", "2027-01-15T10:00:00Z", "--json", VALID, CONSUMER],
        None,
    );
    assert_eq!(o.code, 1);
    assert!(
        json_lines(&o.stdout)
            .iter()
            .all(|l| l["reason"] == "expired")
    );
}

#[test]
fn tokens_from_stdin_one_per_line() {
    let dir = setup(POLICY);
    let input = format!("{VALID}\r\n\n{FORGED}\n  {CONSUMER}  \n");
    let o = run(&dir, &["--now", NOW, "--json"], Some(&input));
    assert_eq!(o.code, 1);
    let reasons: Vec<String> = json_lines(&o.stdout)
        .iter()
        .map(|l| l["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["ok", "key-not-bound-to-issuer", "ok"]);
}

#[test]
fn usage_and_policy_errors_exit_two() {
    let dir = setup(POLICY);
    let o = run(&dir, &["--now", "yesterday", VALID], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--now"), "{}", o.stderr);
    let o = run(&dir, &["--now", NOW], Some(""));
    assert_eq!(o.code, 2, "no tokens at all");
    let bad = setup(
        "leeway_seconds = 9999\n[[issuer]]\nid='x'\nissuer='https://x'\naudiences=['a']\nalgorithms=['EdDSA']\njwks_file='contoso.jwks.json'\n",
    );
    let o = run(&bad, &[VALID], None);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("leeway"), "{}", o.stderr);
    let missing = setup(&POLICY.replace("consumer.jwks.json", "nowhere.json"));
    assert_eq!(run(&missing, &[VALID], None).code, 2);
    let o = Command::new(env!("CARGO_BIN_EXE_keywarden"))
        .args(["verify", VALID])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "--trust is required");
}

#[test]
fn refused_keys_warn_and_the_rest_still_loads() {
    let dir = setup(POLICY);
    let weak = r#"{"keys":[{"kty":"RSA","kid":"weak","n":"rJBIp6T1YK-RtPyvYqFFlcucqewSAA_IReSFchE8qyiQrbARqRlXWkB2DR8j_pJQnIpYELbQWZC5Cd0PTGAU8rMbar2AW6zpmBbi7aQf17lUBdt8XI9M9rq7FPVQ1dDdUXm1SVH_9qqWhvMPR422SbfHBEzCAtzK0ANDRo6qz78","e":"AQAB"},"#;
    std::fs::write(
        dir.path().join("contoso.jwks.json"),
        CONTOSO_JWKS.replacen(r#"{"keys":["#, weak, 1),
    )
    .unwrap();
    let o = run(&dir, &["--now", NOW, "--json", VALID], None);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains("warning") && o.stderr.contains("weak") && o.stderr.contains("1024"),
        "{}",
        o.stderr
    );
}

#[test]
fn human_output_explains_each_token() {
    let dir = setup(POLICY);
    let o = run(&dir, &["--now", NOW, VALID, FORGED, EXPIRED, NONE], None);
    assert_eq!(o.code, 1);
    insta::assert_snapshot!(o.stdout);
}
