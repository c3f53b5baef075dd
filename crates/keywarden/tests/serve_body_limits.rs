//! Limits on an ingest body that are decided before or while it is read: a declared
//! `Content-Length` over `max_body_bytes` is refused at once, without holding an ingest permit
//! (issue 12, item 9); compression layers are unwrapped under one cap (item 1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]
mod serve_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serve_support::{KEY, ingest, serve};

/// Issue 12, item 9: a request declaring a body over the limit was only refused after the
/// body was read (to the request timeout: 60 s), holding an ingest permit all along.
#[test]
fn regression_oversized_content_length_refused_before_read() {
    let dir = tempfile::tempdir().unwrap();
    // One permit: a request holding it would make the next one 503.
    let srv = serve(
        dir.path(),
        Some("[server]\nmax_inflight = 1\nmax_body_bytes = 1048576\n"),
    );
    let t0 = Instant::now();
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Headers only: the 2 GB body never comes.
    write!(
        s,
        "POST /api/v1/ingest?name=huge HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Length: 2000000000\r\n\r\n",
        srv.addr
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("no answer before the body was sent: {e}"),
        }
    }
    let head = String::from_utf8_lossy(&got).to_string();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // The refused request holds nothing: the only permit is free while its connection is
    // still open.
    let ok = ingest(&srv.addr, "small", br#"{"Id":"a","RecordType":50}"#, None).unwrap();
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
    drop(s);
}

#[test]
fn nested_and_deep_compression_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let srv = serve(
        dir.path(),
        Some("[server]\nmax_decompressed_bytes = 1048576\n"),
    );
    let gz = |d: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    };
    let zst = |d: &[u8]| zstd::stream::encode_all(d, 3).unwrap();
    let text = br#"{"Id":"n1","RecordType":50,"Operation":"MailItemsAccessed"}"#.to_vec();
    // gzip in zstd in gzip: three layers are read.
    let r = ingest(&srv.addr, "three", &gz(&zst(&gz(&text))), None).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["accepted"], 1);
    // A fourth layer is refused.
    let r = ingest(&srv.addr, "four", &zst(&gz(&zst(&gz(&text)))), None).unwrap();
    assert_eq!(r.status, 415, "{}", String::from_utf8_lossy(&r.body));
    // A zstd frame in a gzip stream, 8 MiB inside: the cap covers the inner layer too.
    let r = ingest(&srv.addr, "bomb", &gz(&zst(&vec![b'\n'; 8 << 20])), None).unwrap();
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("more than 1048576 bytes")
    );
}
