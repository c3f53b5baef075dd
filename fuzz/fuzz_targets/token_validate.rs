//! Fuzz the token validator end to end: size cap, compact split, strict base64url, the
//! duplicate-checking JSON walk, header rules, issuer/key binding and signature checks must
//! never panic, whatever the bytes; `validate_cached_at` (the gateway's path) gives the same
//! verdict as `validate_at` whenever it gives one. Also fuzzes the policy TOML parser and the JWK Set loader.
#![no_main]

use std::sync::{Arc, OnceLock};

use keywarden_token::{Fetch, TrustPolicy, Validator};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_800_000_000;
const JWKS: &str = r#"{"keys":[
 {"kty":"OKP","kid":"ed1","crv":"Ed25519","x":"s_IR0YJGbbHfvDZqVAmxckClHJcRkEXztOExnXJHf0k"},
 {"kty":"EC","kid":"ec1","crv":"P-256","x":"04N0xi21hshyvBp7I167sbE_bXqyqkAPfefdklMO7wY","y":"UI8exy-C06a7DUnjIdENkxeFtHM4-l_41LqEw9nVgmw",
  "issuer":"https://login.microsoftonline.com/{tenantid}/v2.0"}]}"#;
const POLICY: &str = r#"
[[issuer]]
id = "contoso"
issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
tenants = ["72f988bf-86f1-41af-91ab-2d7cd011db47"]
audiences = ["api://webmail"]
algorithms = ["EdDSA", "ES256"]
jwks_uri = "https://login.example/keys"
"#;

/// Serves the fixed key set; the fuzzer never touches the network.
struct Fixed;

impl Fetch for Fixed {
    fn get(&self, _url: &str) -> Result<Vec<u8>, String> {
        Ok(JWKS.as_bytes().to_vec())
    }
}

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        let p = TrustPolicy::from_toml(POLICY).expect("fixed policy");
        Validator::from_policy_with(&p, Arc::new(Fixed), NOW).expect("fixed key set")
    })
}

fuzz_target!(|data: &[u8]| {
    let v = validator();
    if let Ok(s) = std::str::from_utf8(data) {
        // Several clock values exercise the key-refresh path too (unknown kids).
        for now in [NOW, NOW + 301, i64::MAX, i64::MIN] {
            // The gateway's path (never fetches) gives `validate_at`'s verdict, or none when a
            // key set refresh is due first.
            let cached = v.validate_cached_at(s, now);
            let full = v.validate_at(s, now);
            if let Some(c) = cached {
                assert_eq!(
                    format!("{c:?}"),
                    format!("{full:?}"),
                    "validate_cached_at differs from validate_at"
                );
            }
            if let Ok(t) = full {
                assert!(!t.kid.is_empty());
            }
        }
        let _ = keywarden_token::summarize(s, 16 * 1024);
        let _ = TrustPolicy::from_toml(s);
        let _ = keywarden_token::parse_time(s);
    }
    let _ = keywarden_token::jose::parse_object(data, "fuzz");
    let deny = std::collections::HashSet::new();
    let ctx = keywarden_token::jwks::KeyContext {
        issuer_id: "fuzz",
        block_issuer: "https://login.microsoftonline.com/{tenantid}/v2.0",
        algorithms: &keywarden_token::Alg::ALL,
        min_rsa_bits: 2048,
        deny: &deny,
        overrides: &[],
        allow_symmetric: true,
    };
    let _ = keywarden_token::jwks::load_jwks(data, &ctx);
});
