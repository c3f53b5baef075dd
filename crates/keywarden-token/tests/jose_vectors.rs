//! The JOSE layer against Project Wycheproof's JWS/JWK vectors and the RFC 7520 cookbook in
//! `<repo>/../shared/token-vectors/`: every vector that must fail fails, every valid one with a
//! supported algorithm passes — with the deviations listed in `KNOWN_STRICTER`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use std::collections::HashSet;

use common::shared_dir;
use keywarden_token::crypto::Alg;
use keywarden_token::jose::verify_jws;
use keywarden_token::jwks::{KeyContext, KeySet, load_jwks};
use serde_json::Value;

/// Vectors Wycheproof marks valid that we refuse on purpose, with the code we refuse them with:
/// - #372/#373: a `?` inserted in the header or payload is skipped by lenient base64 decoders;
///   strict base64url refuses it.
/// - #346/#350: a PS384 token (RFC 7520 figure 20) under a JWK whose `alg` is PS256: a key's own
///   `alg` member binds it to that algorithm.
/// - #347/#351: the JWK declares `"alg":"ES521"`, which is not a registered JWS algorithm (ES512
///   is): the key is refused at load, so the kid is unknown.
const KNOWN_STRICTER: &[(&str, u64, &str)] = &[
    ("json_web_signature_test.json", 372, "bad-base64"),
    ("json_web_signature_test.json", 373, "bad-base64"),
    ("json_web_signature_test.json", 346, "alg-not-allowed"),
    ("json_web_signature_test.json", 350, "alg-not-allowed"),
    ("json_web_signature_test.json", 347, "unknown-kid"),
    ("json_web_signature_test.json", 351, "unknown-kid"),
];

/// Vectors marked invalid whose text is byte-identical to a valid vector (the padding they were
/// meant to carry is absent from the file): (file, id, identical valid id).
const VECTOR_DEFECTS: &[(&str, u64, u64)] = &[
    ("json_web_signature_test.json", 367, 357),
    ("json_web_signature_test.json", 370, 357),
];

fn load(path: &str) -> Value {
    let p = shared_dir().join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

fn keyset(keys_doc: &Value) -> KeySet {
    let deny: HashSet<String> = HashSet::new();
    let ctx = KeyContext {
        issuer_id: "vectors",
        block_issuer: "https://vectors.example",
        algorithms: &Alg::ALL,
        min_rsa_bits: 2048,
        deny: &deny,
        overrides: &[],
        allow_symmetric: true,
    };
    let doc = if keys_doc.get("keys").is_some() {
        keys_doc.clone()
    } else {
        serde_json::json!({ "keys": [keys_doc] })
    };
    load_jwks(doc.to_string().as_bytes(), &ctx)
        .map(|(s, _)| s)
        .unwrap_or_default()
}

struct Tally {
    valid_ok: usize,
    invalid_refused: usize,
    stricter: usize,
}

fn run_file(file: &str) -> Tally {
    let doc = load(&format!("wycheproof-jose/{file}"));
    let mut t = Tally {
        valid_ok: 0,
        invalid_refused: 0,
        stricter: 0,
    };
    let mut failures = Vec::new();
    for g in doc["testGroups"].as_array().unwrap() {
        let key = g.get("public").or_else(|| g.get("private")).unwrap();
        let set = keyset(key);
        for case in g["tests"].as_array().unwrap() {
            let id = case["tcId"].as_u64().unwrap();
            let Some(jws) = case.get("jws").and_then(Value::as_str) else {
                // JWE vectors: we verify signatures only; a JWE must never pass as a JWS.
                let jwe = case["jwe"].as_str().unwrap_or("");
                assert!(
                    verify_jws(jwe, &set, 16384).is_err(),
                    "{file} #{id}: JWE accepted"
                );
                t.invalid_refused += usize::from(case["result"] == "invalid");
                continue;
            };
            if let Some((_, _, twin)) = VECTOR_DEFECTS
                .iter()
                .find(|(f, n, _)| *f == file && *n == id)
            {
                let twin_jws = g["tests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["tcId"] == *twin)
                    .unwrap();
                assert_eq!(
                    twin_jws["jws"].as_str(),
                    Some(jws),
                    "{file} #{id} is no longer a duplicate"
                );
                t.stricter += 1;
                continue;
            }
            let r = verify_jws(jws, &set, 16384);
            let want_valid = case["result"] == "valid";
            if let Some((_, _, code)) = KNOWN_STRICTER
                .iter()
                .find(|(f, n, _)| *f == file && *n == id)
            {
                assert_eq!(
                    r.as_ref().err().map(|e| e.code()),
                    Some(*code),
                    "{file} #{id}"
                );
                t.stricter += 1;
                continue;
            }
            match (want_valid, &r) {
                (true, Ok(_)) => t.valid_ok += 1,
                (false, Err(_)) => t.invalid_refused += 1,
                (true, Err(e)) => {
                    failures.push(format!("#{id} {} should pass: {e}", case["comment"]))
                }
                (false, Ok(_)) => failures.push(format!("#{id} {} should fail", case["comment"])),
            }
        }
    }
    assert!(failures.is_empty(), "{file}: {failures:#?}");
    t
}

#[test]
fn wycheproof_json_web_signature() {
    let t = run_file("json_web_signature_test.json");
    assert_eq!(t.stricter, 8);
    assert!(
        t.valid_ok >= 40 && t.invalid_refused >= 340,
        "{} valid, {} invalid",
        t.valid_ok,
        t.invalid_refused
    );
}

#[test]
fn wycheproof_json_web_key() {
    let t = run_file("json_web_key_test.json");
    assert_eq!((t.valid_ok, t.invalid_refused), (5, 21));
}

#[test]
fn wycheproof_json_web_crypto() {
    let t = run_file("json_web_crypto_test.json");
    assert!(t.valid_ok >= 4, "{}", t.valid_ok);
}

#[test]
fn rfc7520_cookbook() {
    let dir = shared_dir().join("rfc7520-cookbook");
    let mut compact_ok = 0;
    for file in [
        "jws/4_1.rsa_v15_signature.json",
        "jws/4_2.rsa-pss_signature.json",
        "jws/4_3.ecdsa_signature.json",
        "jws/4_4.hmac-sha2_integrity_protection.json",
        "jws/4_5.signature_with_detached_content.json",
        "jws/4_6.protecting_specific_header_fields.json",
        "jws/4_7.protecting_content_only.json",
        "jws/4_8.multiple_signatures.json",
        "rfc7797/hmac-sha2_b64_false.json",
        "rfc7797/4.2.hmac-sha2_b64_false.json",
        "curve25519/jws.json",
    ] {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let keys = &doc["input"]["key"];
        let set = if keys.is_array() {
            keyset(&serde_json::json!({ "keys": keys }))
        } else {
            keyset(keys)
        };
        // The JSON serialisations are never accepted.
        for form in ["json", "json_flat"] {
            if let Some(j) = doc["output"].get(form) {
                let e = verify_jws(&j.to_string(), &set, 1 << 16).unwrap_err();
                assert_eq!(e.code(), "json-serialization", "{file} {form}");
            }
        }
        let Some(compact) = doc["output"].get("compact").and_then(Value::as_str) else {
            continue;
        };
        let r = verify_jws(compact, &set, 1 << 16);
        match file {
            // Detached content: the compact form carries an empty payload.
            "jws/4_5.signature_with_detached_content.json" => {
                assert_eq!(r.unwrap_err().code(), "bad-signature")
            }
            "rfc7797/hmac-sha2_b64_false.json" => {
                assert_eq!(r.unwrap_err().code(), "crit-unsupported")
            }
            // No kid in the example: kid is mandatory for us; the signature itself is checked below.
            "curve25519/jws.json" => assert_eq!(r.unwrap_err().code(), "missing-kid"),
            _ => {
                let ok = r.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert_eq!(
                    ok.payload,
                    doc["input"]["payload"].as_str().unwrap().as_bytes(),
                    "{file}"
                );
                compact_ok += 1;
            }
        }
    }
    assert_eq!(compact_ok, 4);
    // The Ed25519 example at the crypto layer, and again through the JOSE layer with a kid.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("curve25519/jws.json")).unwrap())
            .unwrap();
    let mut key = doc["input"]["key"].clone();
    key["kid"] = "ed".into();
    let set = keyset(&key);
    let k = &set.keys["ed"].key;
    let sig_input = doc["signing"]["sig-input"].as_str().unwrap();
    let sig =
        keywarden_token::jose::b64_decode(doc["signing"]["sig"].as_str().unwrap(), "signature")
            .unwrap();
    k.verify(Alg::EdDSA, sig_input.as_bytes(), &sig, "ed")
        .unwrap();
    let mut bad = sig.clone();
    bad[0] ^= 1;
    assert_eq!(
        k.verify(Alg::EdDSA, sig_input.as_bytes(), &bad, "ed")
            .unwrap_err()
            .code(),
        "bad-signature"
    );
}
