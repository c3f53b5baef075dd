//! Every attack class of the contract, against a policy with a Microsoft-style templated
//! enterprise issuer, a consumer issuer and an HMAC application.

mod common;

use common::*;
use keywarden_token::{Rejection, TrustPolicy, Validator};

struct Fx {
    rsa: TestKey,
    ec: TestKey,
    ed: TestKey,
    bound: TestKey,
    msa: TestKey,
    hs: TestKey,
    v: Validator,
    _dir: tempfile::TempDir,
}

const ISS: &str = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";

fn fixture_with(extra_policy: &str) -> Fx {
    let rsa = TestKey::rsa("rsa1");
    let ec = TestKey::p256("ec1");
    let ed = TestKey::ed("ed1");
    let bound = TestKey::p256("bound1")
        .with_extra(r#""issuer":"https://login.microsoftonline.com/{tenantid}/v2.0""#);
    let msa = TestKey::rsa("msa1");
    let hs = TestKey::hmac("hs1", &[0x42; 32]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("contoso.json"),
        jwks(&[&rsa, &ec, &ed, &bound]),
    )
    .unwrap();
    std::fs::write(dir.path().join("msa.json"), jwks(&[&msa])).unwrap();
    std::fs::write(dir.path().join("hs.json"), jwks(&[&hs])).unwrap();
    let policy = format!(
        r#"
leeway_seconds = 60
{extra_policy}
[[issuer]]
id = "contoso"
issuer = "https://login.microsoftonline.com/{{tenantid}}/v2.0"
tenants = ["{TENANT}"]
audiences = ["api://webmail"]
algorithms = ["RS256", "PS256", "ES256", "EdDSA"]
jwks_file = "contoso.json"

[[issuer.key]]
kid = "ec1"
not_before = "2026-01-01T00:00:00Z"
not_after = {not_after}

[[issuer]]
id = "consumer"
issuer = "https://login.live.com"
audiences = ["api://webmail"]
algorithms = ["RS256"]
jwks_file = "msa.json"

[[issuer]]
id = "app"
issuer = "https://hmac.example"
audiences = ["app"]
algorithms = ["HS256"]
jwks_file = "hs.json"
"#,
        not_after = NOW + 86_400
    );
    let path = dir.path().join("trust.toml");
    std::fs::write(&path, policy).unwrap();
    let p = TrustPolicy::from_file(&path).unwrap();
    let v = Validator::from_policy(&p).unwrap();
    Fx {
        rsa,
        ec,
        ed,
        bound,
        msa,
        hs,
        v,
        _dir: dir,
    }
}

fn fx() -> Fx {
    fixture_with("")
}

fn code(r: Result<keywarden_token::VerifiedToken, Rejection>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

impl Fx {
    fn check(&self, token: &str) -> String {
        code(self.v.validate_at(token, NOW))
    }
}

fn with_claims(edit: &[(&str, &str)]) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&claims()).unwrap();
    for (k, val) in edit {
        if *val == "DELETE" {
            v.as_object_mut().unwrap().remove(*k);
        } else {
            v[*k] = serde_json::from_str(val).unwrap();
        }
    }
    v.to_string()
}

/// Replaces the signature part.
fn resign(token: &str, sig: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(sig))
}

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
    let v = Validator::from_policy(&p).unwrap();
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
    let v = Validator::from_policy(&p).unwrap();
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
    let v = Validator::from_policy(&p).unwrap();
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
