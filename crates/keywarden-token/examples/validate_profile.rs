//! A small driver for instruction-level profiling of whole-token validation (not a benchmark):
//! validates one real RS256 token `KW_PROFILE_N` times (default 2000) with every check on.
//! Run under callgrind and compare `Validator::validate_at` inclusive cost with the cost of the
//! aws-lc-rs verification beneath it:
//! `valgrind --tool=callgrind target/debug/examples/validate_profile` (or the release build).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use common::*;
use keywarden_token::{TrustPolicy, Validator};

fn main() {
    let n: u32 = std::env::var("KW_PROFILE_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let alg = std::env::var("KW_PROFILE_ALG").unwrap_or_else(|_| "RS256".into());
    let key = if alg.starts_with("ES") {
        TestKey::p256("ec1")
    } else {
        TestKey::rsa("rsa1")
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("k.json");
    std::fs::write(&path, jwks(&[&key])).expect("write key set");
    let policy = TrustPolicy::from_toml(&format!(
        "[[issuer]]\nid='c'\nissuer='https://login.microsoftonline.com/{{tenantid}}/v2.0'\ntenants=['{TENANT}']\n\
         audiences=['api://webmail']\nalgorithms=['RS256','PS256','ES256']\njwks_file='{}'\n",
        path.display()
    ))
    .expect("policy");
    let v = Validator::from_policy(&policy, NOW).expect("validator");
    let token = key.token(&alg, &claims());
    let mut ok = 0u32;
    for _ in 0..n {
        ok += u32::from(v.validate_at(black_box(&token), NOW).is_ok());
    }
    assert_eq!(ok, n, "every validation must pass");
    println!("{ok} {alg} tokens validated");
}
