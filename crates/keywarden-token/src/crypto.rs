//! The signature layer: JWS algorithm names, verification keys parsed once, and verification
//! through aws-lc-rs.
//!
//! A [`VerifyKey`] knows its own family (RSA, EC curve, Ed25519, HMAC) and therefore which
//! algorithms can ever apply to it: an RSA or EC public key can never be used as an HMAC secret,
//! whatever the token header says. ECDSA signatures must be raw `r||s` of exactly the curve's
//! length, and `r == 0` or `s == 0` is refused before the library sees it.

use aws_lc_rs::{hmac, signature as sig};

use crate::reason::Rejection;

/// A JWS signature algorithm this crate can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
    HS256,
    HS384,
    HS512,
}

impl Alg {
    pub const ALL: [Alg; 13] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::EdDSA,
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
    ];

    /// Parses a JOSE `alg` name exactly (case-sensitive, as RFC 7518 registers them).
    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
        }
    }

    /// The key family an algorithm needs.
    pub fn family(self) -> Family {
        match self {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Family::Rsa
            }
            Alg::ES256 => Family::Ec(Curve::P256),
            Alg::ES384 => Family::Ec(Curve::P384),
            Alg::ES512 => Family::Ec(Curve::P521),
            Alg::EdDSA => Family::Ed25519,
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Family::Hmac,
        }
    }

    /// Minimum HMAC key length in bytes (the hash output length, RFC 7518 §3.2).
    pub fn hmac_min_len(self) -> usize {
        match self {
            Alg::HS384 => 48,
            Alg::HS512 => 64,
            _ => 32,
        }
    }

    fn rsa_params(self) -> Option<&'static sig::RsaParameters> {
        Some(match self {
            Alg::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// NIST curves usable with ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    pub fn from_crv(crv: &str) -> Option<Curve> {
        match crv {
            "P-256" => Some(Curve::P256),
            "P-384" => Some(Curve::P384),
            "P-521" => Some(Curve::P521),
            _ => None,
        }
    }
    /// Field element length in bytes; a raw JWS signature is twice this.
    pub fn coord_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }
    fn alg(self) -> &'static sig::EcdsaVerificationAlgorithm {
        match self {
            Curve::P256 => &sig::ECDSA_P256_SHA256_FIXED,
            Curve::P384 => &sig::ECDSA_P384_SHA384_FIXED,
            Curve::P521 => &sig::ECDSA_P521_SHA512_FIXED,
        }
    }
}

/// Key families; an algorithm applies only to keys of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Rsa,
    Ec(Curve),
    Ed25519,
    Hmac,
}

/// Key material, parsed once for each algorithm it may verify.
pub enum VerifyKey {
    /// One parsed aws-lc-rs key per permitted algorithm.
    Public {
        family: Family,
        bits: usize,
        parsed: Vec<(Alg, sig::ParsedPublicKey)>,
    },
    /// One HMAC key per permitted algorithm.
    Hmac {
        len: usize,
        keys: Vec<(Alg, hmac::Key)>,
    },
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyKey::Public {
                family,
                bits,
                parsed,
            } => f
                .debug_struct("Public")
                .field("family", family)
                .field("bits", bits)
                .field("algs", &parsed.iter().map(|(a, _)| *a).collect::<Vec<_>>())
                .finish(),
            VerifyKey::Hmac { len, keys } => f
                .debug_struct("Hmac")
                .field("len", len)
                .field("algs", &keys.iter().map(|(a, _)| *a).collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// DER length prefix.
fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der_uint(out: &mut Vec<u8>, be: &[u8]) {
    let trimmed: &[u8] = {
        let skip = be.iter().take_while(|b| **b == 0).count();
        &be[skip.min(be.len().saturating_sub(1))..]
    };
    let pad = trimmed.first().is_some_and(|b| b & 0x80 != 0);
    out.push(0x02);
    der_len(out, trimmed.len() + usize::from(pad));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
}

/// PKCS#1 `RSAPublicKey` DER from big-endian modulus and exponent.
pub fn rsa_public_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_uint(&mut body, n);
    der_uint(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 6);
    out.push(0x30);
    der_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// Bit length of a big-endian unsigned integer.
pub fn bit_len(be: &[u8]) -> usize {
    let skip = be.iter().take_while(|b| **b == 0).count();
    match be.get(skip) {
        None => 0,
        Some(first) => (be.len() - skip - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

impl VerifyKey {
    /// Parses public key bytes (PKCS#1 DER for RSA, uncompressed point for EC, 32 raw bytes for
    /// Ed25519) once for each algorithm in `algs`. Errors name the first refusal.
    pub fn public(
        family: Family,
        bits: usize,
        bytes: &[u8],
        algs: &[Alg],
    ) -> Result<VerifyKey, String> {
        let mut parsed = Vec::new();
        for &alg in algs {
            if alg.family() != family {
                continue;
            }
            let algorithm: &'static dyn sig::VerificationAlgorithm = match family {
                Family::Rsa => match alg.rsa_params() {
                    Some(p) => p,
                    None => continue,
                },
                Family::Ec(c) => c.alg(),
                Family::Ed25519 => &sig::ED25519,
                Family::Hmac => return Err("HMAC is not a public key family".into()),
            };
            let key = sig::ParsedPublicKey::new(algorithm, bytes)
                .map_err(|e| format!("{alg} key rejected by aws-lc: {e}"))?;
            parsed.push((alg, key));
        }
        if parsed.is_empty() {
            return Err("no permitted algorithm applies to this key type".into());
        }
        Ok(VerifyKey::Public {
            family,
            bits,
            parsed,
        })
    }

    /// An HMAC key for the permitted HS algorithms its length allows. Empty keys never load.
    pub fn hmac(secret: &[u8], algs: &[Alg]) -> Result<VerifyKey, String> {
        if secret.is_empty() {
            return Err("zero-length HMAC key".into());
        }
        let mut keys = Vec::new();
        for &alg in algs {
            let h = match alg {
                Alg::HS256 => hmac::HMAC_SHA256,
                Alg::HS384 => hmac::HMAC_SHA384,
                Alg::HS512 => hmac::HMAC_SHA512,
                _ => continue,
            };
            if secret.len() >= alg.hmac_min_len() {
                keys.push((alg, hmac::Key::new(h, secret)));
            }
        }
        if keys.is_empty() {
            return Err(format!(
                "HMAC key of {} bytes is too short for its algorithms",
                secret.len()
            ));
        }
        Ok(VerifyKey::Hmac {
            len: secret.len(),
            keys,
        })
    }

    /// The algorithms this key was loaded for.
    pub fn algs(&self) -> Vec<Alg> {
        match self {
            VerifyKey::Public { parsed, .. } => parsed.iter().map(|(a, _)| *a).collect(),
            VerifyKey::Hmac { keys, .. } => keys.iter().map(|(a, _)| *a).collect(),
        }
    }

    pub fn allows(&self, alg: Alg) -> bool {
        match self {
            VerifyKey::Public { parsed, .. } => parsed.iter().any(|(a, _)| *a == alg),
            VerifyKey::Hmac { keys, .. } => keys.iter().any(|(a, _)| *a == alg),
        }
    }

    pub fn family(&self) -> Family {
        match self {
            VerifyKey::Public { family, .. } => *family,
            VerifyKey::Hmac { .. } => Family::Hmac,
        }
    }

    /// Verifies `signature` over `message` with algorithm `alg`; `kid` is evidence only.
    pub fn verify(
        &self,
        alg: Alg,
        message: &[u8],
        signature: &[u8],
        kid: &str,
    ) -> Result<(), Rejection> {
        let bad = || Rejection::BadSignature {
            kid: crate::reason::evidence(kid),
            alg: alg.name().into(),
        };
        if signature.is_empty() {
            return Err(Rejection::EmptySignature);
        }
        match self {
            VerifyKey::Public { family, parsed, .. } => {
                let key = parsed
                    .iter()
                    .find(|(a, _)| *a == alg)
                    .map(|(_, k)| k)
                    .ok_or_else(bad)?;
                if let Family::Ec(curve) = family {
                    check_ecdsa_shape(alg, *curve, signature)?;
                }
                if *family == Family::Ed25519 && signature.len() != 64 {
                    return Err(Rejection::BadSignatureLength {
                        alg: alg.name().into(),
                        len: signature.len(),
                        expected: 64,
                    });
                }
                key.verify_sig(message, signature).map_err(|_| bad())
            }
            VerifyKey::Hmac { keys, .. } => {
                let key = keys
                    .iter()
                    .find(|(a, _)| *a == alg)
                    .map(|(_, k)| k)
                    .ok_or_else(bad)?;
                hmac::verify(key, message, signature).map_err(|_| bad())
            }
        }
    }
}

/// Raw `r||s` of the exact length, neither half zero (the "psychic signature" class).
pub fn check_ecdsa_shape(alg: Alg, curve: Curve, signature: &[u8]) -> Result<(), Rejection> {
    let n = curve.coord_len();
    if signature.len() != 2 * n {
        return Err(Rejection::BadSignatureLength {
            alg: alg.name().into(),
            len: signature.len(),
            expected: 2 * n,
        });
    }
    let (r, s) = signature.split_at(n);
    if r.iter().all(|b| *b == 0) || s.iter().all(|b| *b == 0) {
        return Err(Rejection::PsychicSignature);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip_and_are_case_sensitive() {
        for a in Alg::ALL {
            assert_eq!(Alg::parse(a.name()), Some(a));
        }
        assert_eq!(Alg::parse("rs256"), None);
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("ES256K"), None);
    }

    #[test]
    fn der_encoding_of_rsa_components() {
        // n = 0x80 needs a sign byte; e = 65537.
        assert_eq!(
            rsa_public_der(&[0x80], &[1, 0, 1]),
            vec![0x30, 0x09, 0x02, 0x02, 0x00, 0x80, 0x02, 0x03, 1, 0, 1]
        );
        assert_eq!(bit_len(&[0, 0x01, 0xff]), 9);
        assert_eq!(bit_len(&[]), 0);
        let mut long = Vec::new();
        der_len(&mut long, 300);
        assert_eq!(long, vec![0x82, 0x01, 0x2c]);
    }

    #[test]
    fn psychic_and_length() {
        let zero = [0u8; 64];
        assert_eq!(
            check_ecdsa_shape(Alg::ES256, Curve::P256, &zero)
                .unwrap_err()
                .code(),
            "psychic-signature"
        );
        assert_eq!(
            check_ecdsa_shape(Alg::ES256, Curve::P256, &[1u8; 70])
                .unwrap_err()
                .code(),
            "bad-signature-length"
        );
        let mut half = [1u8; 64];
        half[32..].fill(0);
        assert_eq!(
            check_ecdsa_shape(Alg::ES256, Curve::P256, &half)
                .unwrap_err()
                .code(),
            "psychic-signature"
        );
        assert!(check_ecdsa_shape(Alg::ES256, Curve::P256, &[1u8; 64]).is_ok());
    }

    #[test]
    fn hmac_keys_need_length() {
        assert!(VerifyKey::hmac(&[], &[Alg::HS256]).is_err());
        assert!(VerifyKey::hmac(&[7; 31], &[Alg::HS256]).is_err());
        let k = VerifyKey::hmac(&[7; 48], &[Alg::HS256, Alg::HS384, Alg::HS512]).unwrap();
        assert_eq!(k.algs(), vec![Alg::HS256, Alg::HS384]);
        assert!(VerifyKey::hmac(&[7; 64], &[Alg::RS256]).is_err());
    }
}
