//! Attack classes on claims and key binding: unicode confusables, weak and empty keys, time
//! claim overflow and type confusion, audience arrays, issuer case/slash/substring, the
//! key–issuer–tenant scope of Storm-0558, key windows and typ confusion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod common;

use common::fixture::*;
use common::*;
use keywarden_token::{Rejection, TrustPolicy, Validator};

#[test]
fn unicode_confusables_are_not_normalised() {
    let f = fx();
    // Cyrillic 'о' in the host, fullwidth slash, Cyrillic 'е' in the audience.
    let iss = ISS.replace("microsoftonline", "micrоsoftonline");
    assert_eq!(
        f.check(
            &f.ec
                .token("ES256", &with_claims(&[("iss", &format!("\"{iss}\""))]))
        ),
        "untrusted-issuer"
    );
    let iss = ISS.replace("/v2.0", "／v2.0");
    assert_eq!(
        f.check(
            &f.ec
                .token("ES256", &with_claims(&[("iss", &format!("\"{iss}\""))]))
        ),
        "untrusted-issuer"
    );
    assert_eq!(
        f.check(
            &f.ec
                .token("ES256", &with_claims(&[("aud", "\"api://wеbmail\"")]))
        ),
        "audience-mismatch"
    );
    let tid = TENANT.replace('a', "а");
    assert_eq!(
        f.check(
            &f.ec
                .token("ES256", &with_claims(&[("tid", &format!("\"{tid}\""))]))
        ),
        "bad-tid"
    );
}

#[test]
fn zero_length_hmac_key_and_weak_rsa_are_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let weak = std::fs::read_to_string(shared_dir().join("wycheproof-jose/json_web_key_test.json"))
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&weak).unwrap();
    let small = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["comment"] == "keysize_too_small")
        .map(|g| g["private"]["keys"][0].clone())
        .unwrap();
    let good = TestKey::rsa("good");
    std::fs::write(
        dir.path().join("k.json"),
        format!(r#"{{"keys":[{small},{}]}}"#, good.jwk()),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("h.json"),
        r#"{"keys":[{"kty":"oct","kid":"z","k":""}]}"#,
    )
    .unwrap();
    let p = TrustPolicy::from_toml(&format!(
        "[[issuer]]\nid='x'\nissuer='https://x.example'\naudiences=['a']\nalgorithms=['RS256']\njwks_file='{}'\n\
         [[issuer]]\nid='h'\nissuer='https://h.example'\naudiences=['a']\nalgorithms=['HS256']\njwks_file='{}'\n",
        dir.path().join("k.json").display(),
        dir.path().join("h.json").display()
    ))
    .unwrap();
    let v = Validator::from_policy(&p, NOW).unwrap();
    let w: Vec<String> = v.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("RS256_1024") && w[0].contains("1024 bits"),
        "{w:?}"
    );
    assert!(w[1].contains("zero-length"), "{w:?}");
    let claims = format!(
        r#"{{"iss":"https://h.example","aud":"a","exp":{}}}"#,
        NOW + 10
    );
    let empty = TestKey::hmac("z", b"");
    assert_eq!(
        code(v.validate_at(&empty.token("HS256", &claims), NOW)),
        "unknown-kid"
    );
    let ok = good.token(
        "RS256",
        &format!(
            r#"{{"iss":"https://x.example","aud":"a","exp":{}}}"#,
            NOW + 10
        ),
    );
    assert_eq!(
        code(v.validate_at(&ok, NOW)),
        "ok",
        "the rest of the set still loads"
    );
}

#[test]
fn time_claims_overflow_and_type_confusion() {
    let f = fx();
    let t = |edit: &[(&str, &str)]| f.check(&f.ec.token("ES256", &with_claims(edit)));
    assert_eq!(t(&[("exp", "\"9999999999\"")]), "bad-time");
    assert_eq!(t(&[("exp", "true")]), "bad-time");
    assert_eq!(t(&[("exp", "null")]), "bad-time");
    assert_eq!(t(&[("exp", "[1]")]), "bad-time");
    assert_eq!(t(&[("exp", "9223372036854775808")]), "bad-time");
    assert_eq!(t(&[("exp", "1e300")]), "bad-time");
    assert_eq!(t(&[("exp", "-9223372036854775808")]), "expired");
    assert_eq!(t(&[("exp", "DELETE")]), "missing-claim");
    assert_eq!(t(&[("exp", &(NOW - 61).to_string())]), "expired");
    assert_eq!(t(&[("exp", &(NOW - 59).to_string())]), "ok");
    assert_eq!(t(&[("exp", &format!("{}.5", NOW + 10))]), "ok");
    assert_eq!(t(&[("nbf", "9223372036854775807")]), "not-yet-valid");
    assert_eq!(t(&[("nbf", &(NOW + 61).to_string())]), "not-yet-valid");
    assert_eq!(t(&[("nbf", &(NOW + 59).to_string())]), "ok");
    assert_eq!(t(&[("nbf", "\"0\"")]), "bad-time");
    assert_eq!(t(&[("iat", &(NOW + 120).to_string())]), "iat-in-future");
    assert_eq!(t(&[("iat", "18446744073709551615")]), "bad-time");
    assert_eq!(t(&[("sub", "42")]), "bad-claim-type");
    assert_eq!(t(&[("tid", "42")]), "bad-claim-type");
    // 1e400 is not representable at all: the payload is not valid JSON for us.
    let raw = claims().replacen('{', r#"{"huge":1e400,"#, 1);
    assert_eq!(f.check(&f.ec.token("ES256", &raw)), "bad-json");
}

#[test]
fn audience_arrays() {
    let f = fx();
    let t = |aud: &str| f.check(&f.ec.token("ES256", &with_claims(&[("aud", aud)])));
    assert_eq!(t(r#"["other","api://webmail"]"#), "ok");
    assert_eq!(t(r#"["other"]"#), "audience-mismatch");
    assert_eq!(t("[]"), "bad-aud");
    assert_eq!(t(r#"["api://webmail",1]"#), "bad-aud");
    assert_eq!(t(r#"[["api://webmail"]]"#), "bad-aud");
    assert_eq!(t(r#"{"aud":"api://webmail"}"#), "bad-aud");
    assert_eq!(t(r#""API://webmail""#), "audience-mismatch");
    assert_eq!(t(r#""api://webmail/""#), "audience-mismatch");
    assert_eq!(t("DELETE"), "missing-aud");
}

#[test]
fn issuer_case_trailing_slash_and_substring() {
    let f = fx();
    let t = |iss: &str| f.check(&f.ec.token("ES256", &with_claims(&[("iss", iss)])));
    assert_eq!(
        t(&format!("\"{}\"", ISS.replace("login", "LOGIN"))),
        "untrusted-issuer"
    );
    assert_eq!(t(&format!("\"{ISS}/\"")), "untrusted-issuer");
    assert_eq!(t(&format!("\"{ISS}.evil.example\"")), "untrusted-issuer");
    assert_eq!(t(&format!("\"x{ISS}\"")), "untrusted-issuer");
    assert_eq!(
        t(&format!(
            "\"{}\"",
            ISS.replace(TENANT, &format!("{TENANT}/x"))
        )),
        "untrusted-issuer"
    );
    assert_eq!(t(&format!("[\"{ISS}\"]")), "missing-iss");
    assert_eq!(t("DELETE"), "missing-iss");
    let msa = |iss: &str| {
        f.check(&f.msa.token(
            "RS256",
            &format!(
                r#"{{"iss":"{iss}","aud":"api://webmail","exp":{}}}"#,
                NOW + 10
            ),
        ))
    };
    assert_eq!(msa("https://login.live.com"), "ok");
    assert_eq!(msa("https://login.live.com/"), "untrusted-issuer");
    assert_eq!(msa("https://login.live.co"), "untrusted-issuer");
}

#[test]
fn key_issuer_tenant_scope_storm_0558() {
    let f = fx();
    // The consumer key signs an enterprise token: the signature is fine, the binding is not.
    let forged = f.msa.token("RS256", &claims());
    let e = f.v.validate_at(&forged, NOW).unwrap_err();
    assert_eq!(
        e,
        Rejection::KeyNotBoundToIssuer {
            kid: "msa1".into(),
            owner: "consumer".into(),
            issuer_id: "contoso".into()
        }
    );
    // The Storm-0558 key id is on the built-in deny list whatever the key set says.
    let storm = TestKey::rsa("1LTMzakihiRla_8z2BEJVXeWMqo");
    assert_eq!(f.check(&storm.token("RS256", &claims())), "denied-key");
    // Tenant rules.
    let other_iss = ISS.replace(TENANT, OTHER_TENANT);
    let t = |edit: &[(&str, &str)], k: &TestKey| f.check(&k.token("ES256", &with_claims(edit)));
    assert_eq!(t(&[("tid", "DELETE")], &f.ec), "missing-tid");
    assert_eq!(
        t(&[("tid", &format!("\"{}\"", TENANT.to_uppercase()))], &f.ec),
        "bad-tid"
    );
    assert_eq!(
        t(
            &[
                ("iss", &format!("\"{other_iss}\"")),
                ("tid", &format!("\"{OTHER_TENANT}\""))
            ],
            &f.ec
        ),
        "tenant-not-allowed"
    );
    assert_eq!(
        t(&[("iss", &format!("\"{other_iss}\""))], &f.ec),
        "tid-iss-mismatch"
    );
    // A key with its own templated issuer: after substitution it must equal iss.
    assert_eq!(t(&[("tid", "DELETE")], &f.bound), "key-issuer-mismatch");
    assert_eq!(
        t(&[("iss", &format!("\"{other_iss}\""))], &f.bound),
        "key-issuer-mismatch"
    );
    assert_eq!(t(&[], &f.bound), "ok");
}

#[test]
fn key_whose_issuer_disagrees_with_its_block_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let k = TestKey::p256("k").with_extra(r#""issuer":"https://login.live.com""#);
    let ok = TestKey::p256("ok");
    std::fs::write(dir.path().join("k.json"), jwks(&[&k, &ok])).unwrap();
    let p = TrustPolicy::from_toml(&format!(
        "[[issuer]]\nid='c'\nissuer='https://login.microsoftonline.com/{{tenantid}}/v2.0'\ntenants=['{TENANT}']\naudiences=['api://webmail']\nalgorithms=['ES256']\njwks_file='{}'\n",
        dir.path().join("k.json").display()
    ))
    .unwrap();
    let v = Validator::from_policy(&p, NOW).unwrap();
    assert_eq!(v.warnings().len(), 1);
    assert!(v.warnings()[0].reason.contains("disagrees"));
    assert_eq!(
        code(v.validate_at(&k.token("ES256", &claims()), NOW)),
        "unknown-kid"
    );
    assert_eq!(
        code(v.validate_at(&ok.token("ES256", &claims()), NOW)),
        "ok"
    );
}

#[test]
fn key_windows_and_per_key_algorithms() {
    let f = fixture_with("");
    // ec1 is valid from 2026-01-01 to NOW + 1 day.
    let t = f.ec.token("ES256", &claims());
    assert_eq!(code(f.v.validate_at(&t, NOW)), "ok");
    assert_eq!(
        code(f.v.validate_at(&t, 1_767_225_599)),
        "key-not-yet-valid"
    );
    assert_eq!(code(f.v.validate_at(&t, NOW + 86_401)), "key-expired");
    // A block allowing ES256 only cannot be talked into EdDSA or RS256 for an EC key.
    assert_eq!(
        f.check(&f.ec.sign(r#"{"alg":"ES384","kid":"ec1"}"#, &claims())),
        "alg-not-allowed"
    );
    assert_eq!(
        f.check(&f.ed.sign(r#"{"alg":"Ed25519","kid":"ed1"}"#, &claims())),
        "unsupported-alg"
    );
    assert_eq!(f.check(&f.rsa.token("RS512", &claims())), "alg-not-allowed");
}

#[test]
fn typ_confusion() {
    let f = fx();
    for (typ, want) in [
        ("JWT", "ok"),
        ("jwt", "ok"),
        ("application/at+jwt", "ok"),
        ("at+JWT", "ok"),
        ("JWE", "bad-typ"),
        ("secevent+jwt", "bad-typ"),
        ("logout+jwt", "bad-typ"),
        ("dpop+jwt", "bad-typ"),
    ] {
        let h = format!(r#"{{"alg":"ES256","kid":"ec1","typ":"{typ}"}}"#);
        assert_eq!(f.check(&f.ec.sign(&h, &claims())), want, "{typ}");
    }
}

/// The holder claims the validator keeps from its one parse of the payload are exactly what a
/// second, full parse (`claims()`) reads for those names; the checked claims are not among them.
#[test]
fn holder_claims_are_kept_from_the_one_parse() {
    let f = fx();
    let t = f.ec.token(
        "ES256",
        &with_claims(&[
            ("oid", "\"00000000-0000-0000-0000-00000000000a\""),
            ("upn", "\"alice@contoso.com\""),
            ("scp", "\"Mail.Read  Mail.Send\""),
            ("roles", "[\"Admin\", 7, {\"x\": [1]}]"),
            ("azp", "\"app\""),
            ("jti", "\"j\\u0000\""),
            ("other", "{\"nested\": true}"),
        ]),
    );
    let v = f.v.validate_at(&t, NOW).unwrap();
    let all = v.claims();
    for name in keywarden_token::jose::HOLDER_CLAIMS {
        assert_eq!(v.holder.get(name), all.get(*name), "{name}");
    }
    assert!(v.holder.get("roles").is_some() && v.holder.get("uti").is_none());
    for checked in ["iss", "tid", "aud", "sub", "exp", "nbf", "iat", "other"] {
        assert_eq!(v.holder.get(checked), None, "{checked}");
    }
}
