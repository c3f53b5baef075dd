//! The gateway's parsers of proxy-supplied input: Envoy `CheckRequest` protobuf, the
//! `Authorization` header, `X-Forwarded-For` chains, request paths for route matching, the
//! claims read from any token for the decision log, and a decision log line read back by
//! the `keywarden-gateway` ingest shape. None may panic.
#![no_main]

use keywarden_gateway::check::bearer;
use keywarden_gateway::client::{ProxyNet, client_address};
use keywarden_gateway::envoy::CheckRequest;
use keywarden_gateway::identity::{TokenFacts, header_value};
use keywarden_gateway::route::normalise_path;
use keywarden_ingest::{Discard, Format, IngestConfig, ingest_bytes};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = CheckRequest::decode(data) {
        let http = req.attributes.and_then(|a| a.request).and_then(|r| r.http);
        if let Some(h) = http {
            let _ = h.header_values("authorization");
        }
    }
    let text = String::from_utf8_lossy(data);
    let _ = bearer(&[text.to_string()]);
    let trusted = [ProxyNet::parse("127.0.0.0/8").unwrap()];
    let _ = client_address("127.0.0.1".parse().unwrap(), &[&text], &trusted);
    let _ = ProxyNet::parse(&text);
    let _ = normalise_path(&text);
    let _ = TokenFacts::read(&text, 16_384);
    let _ = header_value(&text);
    let cfg = IngestConfig {
        format: Some(Format::GatewayDecision),
        max_record_bytes: 64 * 1024,
        threads: 1,
        ..IngestConfig::default()
    };
    let out = ingest_bytes("decisions.jsonl", data.to_vec(), &cfg, &mut Discard);
    assert_eq!(out.counts.records, out.counts.events + out.counts.rejected);
});
