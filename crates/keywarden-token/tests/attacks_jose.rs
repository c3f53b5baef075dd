//! Attack classes on the JOSE layer: alg none, HS/RS key confusion, header-supplied keys, kid
//! injection, psychic and DER/malleated ECDSA signatures, duplicate JSON members, nested JWTs,
//! b64=false and crit, empty signatures, base64 strictness, oversized tokens and the JWS JSON
//! serialisation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use common::fixture::*;
use common::*;
use keywarden_token::{Rejection, TrustPolicy, Validator};

#[test]
fn valid_tokens_for_every_algorithm() {
    let f = fx();
    for (k, alg) in [
        (&f.rsa, "RS256"),
        (&f.rsa, "PS256"),
        (&f.ec, "ES256"),
        (&f.ed, "EdDSA"),
        (&f.bound, "ES256"),
    ] {
        let t = k.token(alg, &claims());
        let ok =
            f.v.validate_at(&t, NOW)
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(ok.issuer_id, "contoso");
        assert_eq!(ok.tid.as_deref(), Some(TENANT));
        assert_eq!(ok.sub.as_deref(), Some("alice"));
    }
    let hs = f.hs.token(
        "HS256",
        &format!(
            r#"{{"iss":"https://hmac.example","aud":"app","exp":{}}}"#,
            NOW + 10
        ),
    );
    assert_eq!(f.check(&hs), "ok");
    assert!(f.v.warnings().is_empty(), "{:?}", f.v.warnings());
}

#[test]
fn alg_none() {
    let f = fx();
    for alg in ["none", "None", "NONE"] {
        let t = format!(
            "{}.{}.",
            b64(format!(r#"{{"alg":"{alg}","kid":"rsa1"}}"#).as_bytes()),
            b64(claims().as_bytes())
        );
        assert_eq!(f.check(&t), "alg-none");
    }
}

#[test]
fn hs_rs_key_confusion() {
    let f = fx();
    // HMAC keyed with the RSA public key's JWK text and with its DER bytes.
    for secret in [
        f.rsa.jwk().into_bytes(),
        b"-----BEGIN PUBLIC KEY-----".to_vec(),
    ] {
        let forger = TestKey::hmac("rsa1", &secret);
        assert_eq!(
            f.check(&forger.token("HS256", &claims())),
            "alg-not-allowed"
        );
    }
    // Even when the block allows HS256, an RSA key never verifies HMAC.
    let f2 = fx();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.json"), jwks(&[&f2.rsa])).unwrap();
    let p = TrustPolicy::from_toml(&format!(
        "[[issuer]]\nid='x'\nissuer='https://x.example'\naudiences=['a']\nalgorithms=['RS256','HS256']\njwks_file='{}'\n",
        dir.path().join("k.json").display()
    ))
    .unwrap();
    let v = Validator::from_policy(&p, NOW).unwrap();
    let forger = TestKey::hmac("rsa1", f2.rsa.jwk().as_bytes());
    let t = forger.token(
        "HS256",
        &format!(
            r#"{{"iss":"https://x.example","aud":"a","exp":{}}}"#,
            NOW + 10
        ),
    );
    assert_eq!(code(v.validate_at(&t, NOW)), "alg-not-allowed");
}

#[test]
fn header_supplied_keys_are_never_trusted() {
    let f = fx();
    let attacker = TestKey::p256("ec1");
    for (member, value) in [
        ("jwk", attacker.jwk()),
        ("jku", r#""https://attacker.example/jwks.json""#.to_string()),
        ("x5u", r#""https://attacker.example/cert.pem""#.to_string()),
        ("x5c", r#"["MIIB"]"#.to_string()),
    ] {
        let h = format!(r#"{{"alg":"ES256","kid":"ec1","{member}":{value}}}"#);
        assert_eq!(
            f.check(&attacker.sign(&h, &claims())),
            "embedded-key",
            "{member}"
        );
    }
}

#[test]
fn kid_injection() {
    let f = fx();
    let attacker = TestKey::p256("x");
    for kid in [
        "../../../../dev/null",
        "x' UNION SELECT 'secret' --",
        "ec1 ",
        "EC1",
        "/etc/passwd",
    ] {
        let h = serde_json::json!({"alg":"ES256","kid":kid}).to_string();
        assert_eq!(
            f.check(&attacker.sign(&h, &claims())),
            "unknown-kid",
            "{kid}"
        );
    }
    for kid in ["ec1\u{0}", "", &"k".repeat(300), "a\nb"] {
        let h = serde_json::json!({"alg":"ES256","kid":kid}).to_string();
        assert_eq!(f.check(&attacker.sign(&h, &claims())), "bad-kid", "{kid:?}");
    }
    let h = r#"{"alg":"ES256","kid":{"$ne":null}}"#;
    assert_eq!(f.check(&attacker.sign(h, &claims())), "bad-kid");
    assert_eq!(
        f.check(&attacker.sign(r#"{"alg":"ES256"}"#, &claims())),
        "missing-kid"
    );
}

const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

fn raw_sig(token: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().unwrap())
        .unwrap()
}

#[test]
fn psychic_signatures() {
    let f = fx();
    let t = f.ec.token("ES256", &claims());
    assert_eq!(f.check(&resign(&t, &[0; 64])), "psychic-signature");
    let sig = raw_sig(&t);
    let mut r_zero = sig.clone();
    r_zero[..32].fill(0);
    assert_eq!(f.check(&resign(&t, &r_zero)), "psychic-signature");
    let mut s_zero = sig;
    s_zero[32..].fill(0);
    assert_eq!(f.check(&resign(&t, &s_zero)), "psychic-signature");
    // r = s = n (the group order, which is zero mod n) is refused by the curve arithmetic.
    let n_n = [P256_N, P256_N].concat();
    assert_eq!(f.check(&resign(&t, &n_n)), "bad-signature");
}

fn der_int(v: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    let mut out = vec![2, v.len() as u8];
    out.extend(v);
    out
}

#[test]
fn ecdsa_der_and_malleability() {
    let f = fx();
    let t = f.ec.token("ES256", &claims());
    let sig = raw_sig(&t);
    let body = [der_int(&sig[..32]), der_int(&sig[32..])].concat();
    let der = [vec![0x30, body.len() as u8], body].concat();
    assert_eq!(f.check(&resign(&t, &der)), "bad-signature-length");
    // Leading/trailing padding of an otherwise valid r||s.
    assert_eq!(
        f.check(&resign(&t, &[&[0u8][..], &sig].concat())),
        "bad-signature-length"
    );
    assert_eq!(
        f.check(&resign(&t, &[&sig[..], &[0u8][..]].concat())),
        "bad-signature-length"
    );
    // s replaced by s + n does not fit; (r, n - s) is the mathematically valid twin signature:
    // JWS does not require low-s, so it verifies — over the very same claims. Callers must not
    // use signature bytes as a replay identifier (documented in docs/TOKEN.md).
    let twin = [&sig[..32], &sub_be(&P256_N, &sig[32..])[..]].concat();
    let ok = f.v.validate_at(&resign(&t, &twin), NOW).unwrap();
    assert_eq!(ok.sub.as_deref(), Some("alice"));
    // Flipping any bit of r or s breaks it.
    let mut flipped = sig.clone();
    flipped[5] ^= 1;
    assert_eq!(f.check(&resign(&t, &flipped)), "bad-signature");
}

#[test]
fn duplicate_json_keys() {
    let f = fx();
    let dup_payload = claims().replacen('{', r#"{"iss":"https://evil.example","#, 1);
    assert_eq!(f.check(&f.ec.token("ES256", &dup_payload)), "duplicate-key");
    let dup_header = r#"{"alg":"ES256","kid":"ec1","alg":"HS256"}"#;
    assert_eq!(f.check(&f.ec.sign(dup_header, &claims())), "duplicate-key");
    let nested = claims().replacen('{', r#"{"x":{"a":1,"a":2},"#, 1);
    assert_eq!(f.check(&f.ec.token("ES256", &nested)), "duplicate-key");
}

#[test]
fn nested_jwt() {
    let f = fx();
    let inner = f.ec.token("ES256", &claims());
    let h = r#"{"alg":"ES256","kid":"ec1","cty":"JWT"}"#;
    assert_eq!(f.check(&f.ec.sign(h, &claims())), "nested-jwt");
    assert_eq!(
        f.check(&f.ec.sign(r#"{"alg":"ES256","kid":"ec1"}"#, &inner)),
        "nested-jwt"
    );
}

#[test]
fn b64_false_and_crit() {
    let f = fx();
    assert_eq!(
        f.check(
            &f.ec
                .sign(r#"{"alg":"ES256","kid":"ec1","b64":false}"#, &claims())
        ),
        "b64-false"
    );
    let h = r#"{"alg":"ES256","kid":"ec1","b64":false,"crit":["b64"]}"#;
    assert_eq!(f.check(&f.ec.sign(h, &claims())), "crit-unsupported");
    let h = r#"{"alg":"ES256","kid":"ec1","crit":["http://example.invalid/UNDEFINED"],"http://example.invalid/UNDEFINED":true}"#;
    assert_eq!(f.check(&f.ec.sign(h, &claims())), "crit-unsupported");
    assert_eq!(
        f.check(
            &f.ec
                .sign(r#"{"alg":"ES256","kid":"ec1","crit":[]}"#, &claims())
        ),
        "crit-unsupported"
    );
}

#[test]
fn empty_and_truncated_signatures() {
    let f = fx();
    for (k, alg) in [(&f.rsa, "RS256"), (&f.ec, "ES256"), (&f.ed, "EdDSA")] {
        let t = k.token(alg, &claims());
        assert_eq!(f.check(&resign(&t, &[])), "empty-signature", "{alg}");
        let sig = raw_sig(&t);
        let short = f.check(&resign(&t, &sig[..sig.len() - 1]));
        assert!(
            short == "bad-signature" || short == "bad-signature-length",
            "{alg}: {short}"
        );
    }
    let hs = f.hs.token(
        "HS256",
        &format!(
            r#"{{"iss":"https://hmac.example","aud":"app","exp":{}}}"#,
            NOW + 10
        ),
    );
    assert_eq!(f.check(&resign(&hs, &[])), "empty-signature");
    assert_eq!(f.check(&resign(&hs, &raw_sig(&hs)[..16])), "bad-signature");
}

#[test]
fn base64_strictness() {
    let f = fx();
    let t = f.ec.token("ES256", &claims());
    let parts: Vec<&str> = t.split('.').collect();
    let join = |h: &str, p: &str, s: &str| format!("{h}.{p}.{s}");
    assert_eq!(
        f.check(&join(&format!("{}=", parts[0]), parts[1], parts[2])),
        "bad-base64"
    );
    assert_eq!(
        f.check(&join(parts[0], &format!("{} ", parts[1]), parts[2])),
        "bad-base64"
    );
    assert_eq!(
        f.check(&join(
            parts[0],
            parts[1],
            &parts[2].replace('-', "+").replace('_', "/")
        ))
        .as_str(),
        if parts[2].contains(['-', '_']) {
            "bad-base64"
        } else {
            "ok"
        }
    );
    assert_eq!(
        f.check(&join(parts[0], parts[1], &format!("{}==", parts[2]))),
        "bad-base64"
    );
    assert_eq!(
        f.check(&join(&format!(" {}", parts[0]), parts[1], parts[2])),
        "bad-base64"
    );
}

#[test]
fn oversized_tokens_are_refused_before_parsing() {
    let f = fx();
    let huge = "A".repeat(16 * 1024 + 1);
    let e = f.v.validate_at(&huge, NOW).unwrap_err();
    assert_eq!(
        e,
        Rejection::TooLarge {
            len: 16 * 1024 + 1,
            max: 16 * 1024
        }
    );
    let padded = f.ec.token(
        "ES256",
        &with_claims(&[("pad", &format!("\"{}\"", "x".repeat(13_000)))]),
    );
    assert_eq!(f.check(&padded), "too-large");
    let small = fixture_with("max_token_bytes = 100");
    assert_eq!(
        small.check(&small.ec.token("ES256", &claims())),
        "too-large"
    );
}

#[test]
fn jws_json_serialisation_and_shape() {
    let f = fx();
    let t = f.ec.token("ES256", &claims());
    let p: Vec<&str> = t.split('.').collect();
    let json = format!(
        r#"{{"payload":"{}","signatures":[{{"protected":"{}","signature":"{}"}}]}}"#,
        p[1], p[0], p[2]
    );
    assert_eq!(f.check(&json), "json-serialization");
    let flat = format!(
        r#"{{"payload":"{}","protected":"{}","signature":"{}"}}"#,
        p[1], p[0], p[2]
    );
    assert_eq!(f.check(&flat), "json-serialization");
    assert_eq!(f.check(&format!("{t}.")), "malformed");
    assert_eq!(f.check(&format!("{}.{}", p[0], p[1])), "malformed");
    assert_eq!(f.check(""), "malformed");
}
