//! Whole-token validation per second, per algorithm: keywarden's `Validator::validate_at`
//! against raw aws-lc-rs verification of the same signing input and signature (key pre-parsed,
//! signature pre-decoded) and against `jsonwebtoken` (aws_lc_rs backend, `DecodingKey` built
//! once). Rates are per second of on-CPU time of the benchmark thread. `overhead µs` is the whole-token time minus the raw verification time. Run:
//! `cargo bench -p keywarden-token --bench validate` (`KW_BENCH_MS` sets the time per method).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use common::*;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use keywarden_token::{TrustPolicy, Validator};

const ISS: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";

const ROUNDS: u32 = 24;

/// Nanoseconds this thread has spent on a CPU (`/proc/thread-self/schedstat`), so that time
/// spent descheduled on a busy shared machine is not counted; `None` where unavailable.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Runs `f` repeatedly for about `budget` (wall time) and returns operations per second of
/// on-CPU time (wall time when the CPU clock is unavailable).
fn rate(budget: Duration, mut f: impl FnMut() -> bool) -> f64 {
    for _ in 0..50 {
        assert!(f(), "warm-up failed");
    }
    let start = Instant::now();
    let cpu0 = thread_cpu_ns();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..64 {
            assert!(black_box(f()));
        }
        n += 64;
    }
    let wall = start.elapsed().as_secs_f64();
    let secs = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
        _ => wall,
    };
    n as f64 / secs
}

fn parts(token: &str) -> (String, Vec<u8>) {
    let (input, s) = token.rsplit_once('.').unwrap();
    (
        input.to_owned(),
        keywarden_token::jose::b64_decode(s, "signature").unwrap(),
    )
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("KW_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3000),
    );
    let rsa = TestKey::rsa("rsa1");
    let p256 = TestKey::p256("ec1");
    let p384 = TestKey::p384("ec2");
    let ed = TestKey::ed("ed1");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.json"), jwks(&[&rsa, &p256, &p384, &ed])).unwrap();
    let policy = TrustPolicy::from_toml(&format!(
        "[[issuer]]\nid='c'\nissuer='https://login.microsoftonline.com/{{tenantid}}/v2.0'\ntenants=['{TENANT}']\n\
         audiences=['api://webmail']\nalgorithms=['RS256','PS256','ES256','ES384','EdDSA']\njwks_file='{}'\n",
        dir.path().join("k.json").display()
    ))
    .unwrap();
    let v = Validator::from_policy(&policy, NOW).unwrap();
    let jwk = |k: &TestKey| serde_json::from_str::<serde_json::Value>(&k.jwk()).unwrap();

    println!(
        "{:<7} {:>14} {:>14} {:>14} {:>9} {:>9} {:>12}",
        "alg", "keywarden/s", "aws-lc raw/s", "jsonwebtoken/s", "kw/raw", "kw/jwt", "overhead µs"
    );
    let cases: Vec<(&str, &TestKey, Algorithm)> = vec![
        ("RS256", &rsa, Algorithm::RS256),
        ("PS256", &rsa, Algorithm::PS256),
        ("ES256", &p256, Algorithm::ES256),
        ("ES384", &p384, Algorithm::ES384),
        ("EdDSA", &ed, Algorithm::EdDSA),
    ];
    for (alg, key, jalg) in cases {
        let token = key.token(alg, &claims());
        assert!(v.validate_at(&token, NOW).is_ok(), "{alg}");
        let (input, signature) = parts(&token);
        let j = jwk(key);
        let s = |m: &str| j[m].as_str().unwrap().to_owned();
        let (raw_alg, raw_bytes): (&'static dyn sig::VerificationAlgorithm, Vec<u8>) = match alg {
            "RS256" | "PS256" => {
                let n = keywarden_token::jose::b64_decode(&s("n"), "n").unwrap();
                let e = keywarden_token::jose::b64_decode(&s("e"), "e").unwrap();
                let a: &'static dyn sig::VerificationAlgorithm = if alg == "RS256" {
                    &sig::RSA_PKCS1_2048_8192_SHA256
                } else {
                    &sig::RSA_PSS_2048_8192_SHA256
                };
                (a, keywarden_token::crypto::rsa_public_der(&n, &e))
            }
            "ES256" | "ES384" => {
                let mut p = vec![4u8];
                p.extend(keywarden_token::jose::b64_decode(&s("x"), "x").unwrap());
                p.extend(keywarden_token::jose::b64_decode(&s("y"), "y").unwrap());
                let a: &'static dyn sig::VerificationAlgorithm = if alg == "ES256" {
                    &sig::ECDSA_P256_SHA256_FIXED
                } else {
                    &sig::ECDSA_P384_SHA384_FIXED
                };
                (a, p)
            }
            _ => (
                &sig::ED25519,
                keywarden_token::jose::b64_decode(&s("x"), "x").unwrap(),
            ),
        };
        let raw = ParsedPublicKey::new(raw_alg, &raw_bytes).unwrap();
        let dk = match alg {
            "RS256" | "PS256" => DecodingKey::from_rsa_components(&s("n"), &s("e")).unwrap(),
            "ES256" | "ES384" => DecodingKey::from_ec_components(&s("x"), &s("y")).unwrap(),
            _ => DecodingKey::from_ed_components(&s("x")).unwrap(),
        };
        let mut val = Validation::new(jalg);
        val.set_audience(&["api://webmail"]);
        val.set_issuer(&[ISS]);
        assert!(
            jsonwebtoken::decode::<serde_json::Value>(&token, &dk, &val).is_ok(),
            "jsonwebtoken {alg}"
        );

        // Interleaved rounds, best of each: the machine is shared, so load drifts during a run.
        let (mut kw, mut rw, mut jw) = (0f64, 0f64, 0f64);
        let slice = budget / ROUNDS;
        for _ in 0..ROUNDS {
            kw = kw.max(rate(slice, || {
                v.validate_at(black_box(&token), NOW).is_ok()
            }));
            rw = rw.max(rate(slice, || {
                raw.verify_sig(black_box(input.as_bytes()), black_box(&signature))
                    .is_ok()
            }));
            jw = jw.max(rate(slice, || {
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &dk, &val).is_ok()
            }));
        }
        if std::env::var_os("KW_BENCH_PARTS").is_some() {
            let us = |r: f64| 1e6 / r;
            let p: Vec<&str> = token.split('.').collect();
            let b64 = rate(slice, || {
                p.iter()
                    .all(|x| keywarden_token::jose::b64_decode(black_box(x), "p").is_ok())
            });
            let hd = rate(slice, || {
                keywarden_token::jose::Header::parse(black_box(p[0])).is_ok()
            });
            let cl = rate(slice, || {
                keywarden_token::jose::parse_claims(black_box(p[1])).is_ok()
            });
            println!(
                "  µs: base64 all parts {:.2}, header {:.2}, claims {:.2}",
                us(b64),
                us(hd),
                us(cl)
            );
        }
        println!(
            "{alg:<7} {kw:>14.0} {rw:>14.0} {jw:>14.0} {:>8.3}x {:>8.3}x {:>12.2}",
            kw / rw,
            kw / jw,
            (1.0 / kw - 1.0 / rw) * 1e6
        );
    }
}
