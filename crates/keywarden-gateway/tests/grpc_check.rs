//! Envoy `ext_authz` over gRPC: `envoy.service.auth.v3.Authorization/Check` called by a tonic
//! client with Envoy's message shapes, on the same listener as the HTTP checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod support;

use keywarden_gateway::envoy::*;
use keywarden_gateway::grpc::CHECK_PATH;
use support::*;
use tonic::codegen::http::uri::PathAndQuery;

fn request(auth: Option<&str>, source: &str, path: &str) -> CheckRequest {
    let mut headers = std::collections::HashMap::new();
    headers.insert(":authority".to_string(), "mail.contoso.example".to_string());
    headers.insert("user-agent".to_string(), "curl/8".to_string());
    if let Some(a) = auth {
        headers.insert("authorization".to_string(), a.to_string());
    }
    CheckRequest {
        attributes: Some(AttributeContext {
            source: Some(Peer {
                address: Some(Address {
                    socket_address: Some(SocketAddress {
                        address: source.into(),
                        port_value: 51_000,
                    }),
                }),
                ..Default::default()
            }),
            destination: None,
            request: Some(Request {
                http: Some(HttpRequest {
                    id: "req-1".into(),
                    method: "GET".into(),
                    headers,
                    path: path.into(),
                    host: "mail.contoso.example".into(),
                    scheme: "https".into(),
                    protocol: "HTTP/1.1".into(),
                    header_map: None,
                }),
            }),
            context_extensions: Default::default(),
        }),
    }
}

async fn check(addr: std::net::SocketAddr, req: CheckRequest) -> CheckResponse {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc.unary(
        tonic::Request::new(req),
        PathAndQuery::from_static(CHECK_PATH),
        tonic_prost::ProstCodec::<CheckRequest, CheckResponse>::default(),
    )
    .await
    .unwrap()
    .into_inner()
}

fn header<'a>(h: &'a [HeaderValueOption], key: &str) -> Option<&'a str> {
    h.iter()
        .filter_map(|o| o.header.as_ref())
        .find(|v| v.key == key)
        .map(|v| v.value.as_str())
}

#[test]
fn grpc_check_allows_valid_tokens_and_denies_forged_ones() {
    let k = keys();
    let log = k.dir.path().join("d.jsonl");
    let gw = start(
        &k.policy,
        "[[route]]\npath_prefix = \"/admin/\"\nroles = [\"Exchange.Admin\"]",
        Some(keywarden_gateway::LogTarget::File(log.clone())),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let valid = format!("Bearer {}", k.valid("grpc-ok"));
        let ok = check(gw.addr, request(Some(&valid), "203.0.113.77", "/owa/?q=1")).await;
        assert_eq!(ok.status.as_ref().unwrap().code, 0, "{ok:?}");
        let Some(HttpResponse::OkResponse(okr)) = &ok.http_response else {
            panic!("{ok:?}")
        };
        assert_eq!(header(&okr.headers, "x-keywarden-sub"), Some("alice-sub"));
        assert_eq!(header(&okr.headers, "x-keywarden-scp"), Some("Mail.Read"));
        assert!(
            okr.headers
                .iter()
                .all(|h| h.append_action == OVERWRITE_IF_EXISTS_OR_ADD)
        );
        assert_eq!(okr.headers_to_remove, ["x-keywarden-roles"]);

        let admin = check(gw.addr, request(Some(&valid), "203.0.113.77", "/admin/x")).await;
        assert_eq!(admin.status.as_ref().unwrap().code, 7);
        let Some(HttpResponse::DeniedResponse(d)) = &admin.http_response else {
            panic!("{admin:?}")
        };
        assert_eq!(d.status.as_ref().unwrap().code, 403);
        assert_eq!(d.body, "route-role");

        for (what, token, code) in k.forged() {
            let r = check(
                gw.addr,
                request(Some(&format!("Bearer {token}")), "203.0.113.77", "/owa/"),
            )
            .await;
            assert_eq!(r.status.as_ref().unwrap().code, 16, "{what}");
            assert_eq!(r.status.as_ref().unwrap().message, code, "{what}");
            let Some(HttpResponse::DeniedResponse(d)) = &r.http_response else {
                panic!("{what}: {r:?}")
            };
            assert_eq!(d.status.as_ref().unwrap().code, 401);
            assert_eq!(
                header(&d.headers, "www-authenticate"),
                Some(
                    format!("Bearer error=\"invalid_token\", error_description=\"{code}\"")
                        .as_str()
                )
            );
        }
        let none = check(gw.addr, request(None, "203.0.113.77", "/owa/")).await;
        let Some(HttpResponse::DeniedResponse(d)) = &none.http_response else {
            panic!("{none:?}")
        };
        assert_eq!(header(&d.headers, "www-authenticate"), Some("Bearer"));
    });
    let lines = log_lines(&log, 3);
    assert_eq!(lines[0]["mode"], "grpc");
    assert_eq!(
        lines[0]["client"], "203.0.113.77",
        "Envoy's source address, from a trusted (loopback) caller"
    );
    assert_eq!(lines[0]["path"], "/owa/");
    assert_eq!(lines[0]["host"], "mail.contoso.example");
}
