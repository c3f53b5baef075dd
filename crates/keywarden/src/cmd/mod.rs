//! One module per subcommand.

pub(crate) mod collect;
pub(crate) mod config;
pub(crate) mod eval;
pub(crate) mod gateway;
pub(crate) mod hunt;
pub(crate) mod rules;
pub(crate) mod serve;
pub(crate) mod simulate;
pub(crate) mod store;
pub(crate) mod verify;
