//! `--tls-cert/--tls-key`: checks over HTTPS with a self-signed certificate made by the
//! `openssl` command (skipped with a message when it is absent, outside CI).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::*;

#[test]
fn checks_are_served_over_tls() {
    let k = keys();
    let (cert, key) = (k.dir.path().join("cert.pem"), k.dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl failed under CI: {made:?}"
        );
        eprintln!("SKIPPED checks_are_served_over_tls: no openssl to make a certificate");
        return;
    }
    let tls = keywarden_gateway::tls_config(&keywarden_server::TlsFiles {
        cert: cert.clone(),
        key,
    })
    .unwrap();
    assert_eq!(tls.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    let gw = start_with(&k.policy, "", None, Some(tls));

    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let get = |auth: &str| {
        let conn =
            rustls::ClientConnection::new(cfg.clone(), ServerName::try_from("localhost").unwrap())
                .unwrap();
        let tcp = std::net::TcpStream::connect(gw.addr).unwrap();
        let mut s = rustls::StreamOwned::new(conn, tcp);
        write!(
            s,
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nX-Forwarded-Uri: /owa/\r\n{auth}\r\n"
        )
        .unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        parse_response(&buf)
    };
    let ok = get(&format!("Authorization: Bearer {}\r\n", k.valid("tls")));
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("x-keywarden-sub"), Some("alice-sub"));
    let none = get("");
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
}
