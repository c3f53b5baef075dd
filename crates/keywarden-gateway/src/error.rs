//! Why the gateway could not start. Once running it never fails as a whole: every error on a
//! request path becomes a refusal (fail closed) with a reason code.

use thiserror::Error;

/// `gateway.toml` could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read gateway configuration {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("gateway configuration is not valid TOML: {0}")]
    Toml(String),
    #[error("gateway configuration is invalid: {0}")]
    Invalid(String),
}

/// The gateway could not start (or stopped serving).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("trust policy unusable")]
    Policy(#[source] keywarden_token::PolicyError),
    #[error("cannot open the decision log {path}")]
    DecisionLog {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS set-up failed")]
    Tls(#[source] keywarden_server::ServerError),
    #[error("serving failed")]
    Serve(#[source] std::io::Error),
}
