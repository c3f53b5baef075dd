//! Test key material generated at test time with aws-lc-rs, and a token minting helper.
#![allow(dead_code)]

pub mod fixture;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn shared_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/token-vectors")
}

pub enum Priv {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair, &'static str),
    Ed(Ed25519KeyPair),
    Hmac(Vec<u8>),
}

/// A private key with its public JWK.
pub struct TestKey {
    pub kid: String,
    pub priv_: Priv,
    /// Extra JWK members, e.g. `"issuer":"..."`.
    pub extra: String,
}

impl TestKey {
    pub fn rsa(kid: &str) -> TestKey {
        Self::rsa_sized(kid, KeySize::Rsa2048)
    }
    pub fn rsa_sized(kid: &str, size: KeySize) -> TestKey {
        TestKey {
            kid: kid.into(),
            priv_: Priv::Rsa(RsaKeyPair::generate(size).unwrap()),
            extra: String::new(),
        }
    }
    pub fn p256(kid: &str) -> TestKey {
        let k = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        TestKey {
            kid: kid.into(),
            priv_: Priv::Ec(k, "P-256"),
            extra: String::new(),
        }
    }
    pub fn p384(kid: &str) -> TestKey {
        let k = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        TestKey {
            kid: kid.into(),
            priv_: Priv::Ec(k, "P-384"),
            extra: String::new(),
        }
    }
    pub fn ed(kid: &str) -> TestKey {
        TestKey {
            kid: kid.into(),
            priv_: Priv::Ed(Ed25519KeyPair::generate().unwrap()),
            extra: String::new(),
        }
    }
    pub fn hmac(kid: &str, secret: &[u8]) -> TestKey {
        TestKey {
            kid: kid.into(),
            priv_: Priv::Hmac(secret.to_vec()),
            extra: String::new(),
        }
    }
    pub fn with_extra(mut self, extra: &str) -> TestKey {
        self.extra = extra.into();
        self
    }

    /// Public JWK JSON.
    pub fn jwk(&self) -> String {
        let extra = if self.extra.is_empty() {
            String::new()
        } else {
            format!(",{}", self.extra)
        };
        match &self.priv_ {
            Priv::Rsa(k) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(k.public_key());
                format!(
                    r#"{{"kty":"RSA","kid":"{}","n":"{}","e":"{}"{extra}}}"#,
                    self.kid,
                    b64(&c.n),
                    b64(&c.e)
                )
            }
            Priv::Ec(k, crv) => {
                let p = k.public_key().as_ref();
                let n = (p.len() - 1) / 2;
                format!(
                    r#"{{"kty":"EC","kid":"{}","crv":"{crv}","x":"{}","y":"{}"{extra}}}"#,
                    self.kid,
                    b64(&p[1..1 + n]),
                    b64(&p[1 + n..])
                )
            }
            Priv::Ed(k) => format!(
                r#"{{"kty":"OKP","kid":"{}","crv":"Ed25519","x":"{}"{extra}}}"#,
                self.kid,
                b64(k.public_key().as_ref())
            ),
            Priv::Hmac(s) => format!(
                r#"{{"kty":"oct","kid":"{}","k":"{}"{extra}}}"#,
                self.kid,
                b64(s)
            ),
        }
    }

    /// Raw signature over `input` with `alg`.
    pub fn sign_raw(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.priv_ {
            Priv::Rsa(k) => {
                let enc: &'static dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(enc, &rng, input, &mut sig).unwrap();
                sig
            }
            Priv::Ec(k, _) => k.sign(&rng, input).unwrap().as_ref().to_vec(),
            Priv::Ed(k) => k.sign(input).as_ref().to_vec(),
            Priv::Hmac(s) => {
                let h = match alg {
                    "HS384" => aws_lc_rs::hmac::HMAC_SHA384,
                    "HS512" => aws_lc_rs::hmac::HMAC_SHA512,
                    _ => aws_lc_rs::hmac::HMAC_SHA256,
                };
                aws_lc_rs::hmac::sign(&aws_lc_rs::hmac::Key::new(h, s), input)
                    .as_ref()
                    .to_vec()
            }
        }
    }

    /// A compact JWS over the given header and payload JSON texts.
    pub fn sign(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let alg = serde_json::from_str::<serde_json::Value>(header)
            .ok()
            .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_owned))
            .unwrap_or_default();
        let sig = self.sign_raw(&alg, input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    /// A standard header for this key.
    pub fn header(&self, alg: &str) -> String {
        format!(r#"{{"alg":"{alg}","kid":"{}","typ":"JWT"}}"#, self.kid)
    }

    pub fn token(&self, alg: &str, payload: &str) -> String {
        self.sign(&self.header(alg), payload)
    }
}

pub fn jwks(keys: &[&TestKey]) -> String {
    format!(
        "{{\"keys\":[{}]}}",
        keys.iter().map(|k| k.jwk()).collect::<Vec<_>>().join(",")
    )
}

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
pub const OTHER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
pub const NOW: i64 = 1_800_000_000;

/// Standard valid claims for the templated Microsoft-style block.
pub fn claims() -> String {
    format!(
        r#"{{"iss":"https://login.microsoftonline.com/{TENANT}/v2.0","tid":"{TENANT}","aud":"api://webmail","sub":"alice","exp":{},"nbf":{},"iat":{}}}"#,
        NOW + 3600,
        NOW - 60,
        NOW - 60
    )
}
