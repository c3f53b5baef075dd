//! [`Source`]: a producer of log bodies that runs on its own thread (the `--watch` file tail,
//! `[collect]`, later Kafka) and feeds the bounded queue ([`crate::runtime::queue::Ingestor`]). The
//! HTTP endpoint is the other producer and lives in [`crate::http::api`].

use std::sync::Arc;

use crate::runtime::queue::Ingestor;

/// A source of log bodies that runs on its own (file tail, collector; later Kafka).
pub trait Source: Send + 'static {
    /// A short name (`watch`).
    fn name(&self) -> &'static str;
    /// Runs until `stop` is set, submitting bodies through `ingestor`.
    fn run(self: Box<Self>, ingestor: Ingestor, stop: Arc<std::sync::atomic::AtomicBool>);
}
