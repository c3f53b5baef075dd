//! Envoy's `envoy.service.auth.v3` messages, the subset the gateway reads and writes, as
//! prost structs with the field numbers of the upstream protos (Apache-2.0, Envoy Project
//! Authors). `proto/` in this crate declares the same subset with its licence; fields not
//! declared here are skipped on decode as protobuf requires, so full Envoy requests decode.

use std::collections::HashMap;

/// `envoy.service.auth.v3.CheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckRequest {
    #[prost(message, optional, tag = "1")]
    pub attributes: Option<AttributeContext>,
}

/// `envoy.service.auth.v3.AttributeContext`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeContext {
    #[prost(message, optional, tag = "1")]
    pub source: Option<Peer>,
    #[prost(message, optional, tag = "2")]
    pub destination: Option<Peer>,
    #[prost(message, optional, tag = "4")]
    pub request: Option<Request>,
    #[prost(map = "string, string", tag = "10")]
    pub context_extensions: HashMap<String, String>,
}

/// `AttributeContext.Peer`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Peer {
    #[prost(message, optional, tag = "1")]
    pub address: Option<Address>,
    #[prost(string, tag = "2")]
    pub service: String,
    #[prost(string, tag = "4")]
    pub principal: String,
}

/// `envoy.config.core.v3.Address` (only the socket address arm).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Address {
    #[prost(message, optional, tag = "1")]
    pub socket_address: Option<SocketAddress>,
}

/// `envoy.config.core.v3.SocketAddress`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SocketAddress {
    #[prost(string, tag = "2")]
    pub address: String,
    #[prost(uint32, tag = "3")]
    pub port_value: u32,
}

/// `AttributeContext.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(message, optional, tag = "2")]
    pub http: Option<HttpRequest>,
}

/// `AttributeContext.HttpRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpRequest {
    #[prost(string, tag = "1")]
    pub id: String,
    #[prost(string, tag = "2")]
    pub method: String,
    /// Lower-cased names; repeated headers joined with `,` by Envoy.
    #[prost(map = "string, string", tag = "3")]
    pub headers: HashMap<String, String>,
    #[prost(string, tag = "4")]
    pub path: String,
    #[prost(string, tag = "5")]
    pub host: String,
    #[prost(string, tag = "6")]
    pub scheme: String,
    #[prost(string, tag = "10")]
    pub protocol: String,
    /// Sent instead of `headers` when Envoy's `encode_raw_headers` is set.
    #[prost(message, optional, tag = "13")]
    pub header_map: Option<HeaderMap>,
}

/// `envoy.config.core.v3.HeaderMap`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderMap {
    #[prost(message, repeated, tag = "1")]
    pub headers: Vec<HeaderValue>,
}

/// `envoy.config.core.v3.HeaderValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
    #[prost(bytes = "vec", tag = "3")]
    pub raw_value: Vec<u8>,
}

/// `envoy.config.core.v3.HeaderValueOption`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HeaderValueOption {
    #[prost(message, optional, tag = "1")]
    pub header: Option<HeaderValue>,
    /// `HeaderAppendAction`: 0 append-if-exists-or-add, 2 overwrite-if-exists-or-add.
    #[prost(int32, tag = "3")]
    pub append_action: i32,
}

/// `HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD`.
pub const OVERWRITE_IF_EXISTS_OR_ADD: i32 = 2;

/// `envoy.service.auth.v3.CheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CheckResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<RpcStatus>,
    #[prost(oneof = "HttpResponse", tags = "2, 3")]
    pub http_response: Option<HttpResponse>,
}

/// `CheckResponse.http_response`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum HttpResponse {
    #[prost(message, tag = "2")]
    DeniedResponse(DeniedHttpResponse),
    #[prost(message, tag = "3")]
    OkResponse(OkHttpResponse),
}

/// `envoy.service.auth.v3.DeniedHttpResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeniedHttpResponse {
    #[prost(message, optional, tag = "1")]
    pub status: Option<HttpStatus>,
    #[prost(message, repeated, tag = "2")]
    pub headers: Vec<HeaderValueOption>,
    #[prost(string, tag = "3")]
    pub body: String,
}

/// `envoy.service.auth.v3.OkHttpResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OkHttpResponse {
    #[prost(message, repeated, tag = "2")]
    pub headers: Vec<HeaderValueOption>,
    #[prost(string, repeated, tag = "5")]
    pub headers_to_remove: Vec<String>,
}

/// `envoy.type.v3.HttpStatus` (the `code` enum as its HTTP number).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

impl HttpRequest {
    /// Every value of header `name` (lower-case), from `headers` or `header_map`.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        if let Some(v) = self.headers.get(name) {
            return vec![v.clone()];
        }
        self.header_map
            .as_ref()
            .map(|m| {
                m.headers
                    .iter()
                    .filter(|h| h.key.eq_ignore_ascii_case(name))
                    .map(|h| {
                        if h.raw_value.is_empty() {
                            h.value.clone()
                        } else {
                            String::from_utf8_lossy(&h.raw_value).into_owned()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn unknown_fields_are_skipped_and_known_ones_round_trip() {
        let req = CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request {
                    http: Some(HttpRequest {
                        method: "GET".into(),
                        path: "/a".into(),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
        };
        let mut bytes = req.encode_to_vec();
        // An unknown field (tag 99, varint) as a newer Envoy would add.
        bytes.extend_from_slice(&[0x98, 0x06, 0x01]);
        let back = CheckRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, req);
        let raw = HttpRequest {
            header_map: Some(HeaderMap {
                headers: vec![HeaderValue {
                    key: "authorization".into(),
                    value: String::new(),
                    raw_value: b"Bearer x".to_vec(),
                }],
            }),
            ..Default::default()
        };
        assert_eq!(raw.header_values("authorization"), ["Bearer x"]);
    }

    /// Every (message, field, number) the structs above use, as the vendored proto declares it.
    #[test]
    fn field_numbers_match_the_vendored_proto() {
        let proto = include_str!("../proto/envoy/external_auth_subset.proto");
        let used: &[(&str, &str, u32)] = &[
            ("CheckRequest", "attributes", 1),
            ("AttributeContext", "source", 1),
            ("AttributeContext", "destination", 2),
            ("AttributeContext", "request", 4),
            ("AttributeContext", "context_extensions", 10),
            ("Peer", "address", 1),
            ("Peer", "service", 2),
            ("Peer", "principal", 4),
            ("Address", "socket_address", 1),
            ("SocketAddress", "address", 2),
            ("SocketAddress", "port_value", 3),
            ("Request", "http", 2),
            ("HttpRequest", "id", 1),
            ("HttpRequest", "method", 2),
            ("HttpRequest", "headers", 3),
            ("HttpRequest", "path", 4),
            ("HttpRequest", "host", 5),
            ("HttpRequest", "scheme", 6),
            ("HttpRequest", "protocol", 10),
            ("HttpRequest", "header_map", 13),
            ("HeaderMap", "headers", 1),
            ("HeaderValue", "key", 1),
            ("HeaderValue", "value", 2),
            ("HeaderValue", "raw_value", 3),
            ("HeaderValueOption", "header", 1),
            ("HeaderValueOption", "append_action", 3),
            ("DeniedHttpResponse", "status", 1),
            ("DeniedHttpResponse", "headers", 2),
            ("DeniedHttpResponse", "body", 3),
            ("OkHttpResponse", "headers", 2),
            ("OkHttpResponse", "headers_to_remove", 5),
            ("CheckResponse", "status", 1),
            ("CheckResponse", "denied_response", 2),
            ("CheckResponse", "ok_response", 3),
            ("HttpStatus", "code", 1),
            ("RpcStatus", "code", 1),
            ("RpcStatus", "message", 2),
        ];
        for (message, field, number) in used {
            let start = proto
                .find(&format!("message {message} {{"))
                .unwrap_or_else(|| panic!("message {message} not declared"));
            // The message body, to its matching closing brace.
            let mut depth = 0;
            let mut end = start;
            for (i, c) in proto[start..].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            end = start + i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let body = &proto[start..end];
            assert!(
                body.contains(&format!(" {field} = {number};")),
                "{message}.{field} = {number} not in the proto"
            );
        }
    }
}
