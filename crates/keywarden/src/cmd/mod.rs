//! One module per subcommand.

pub mod collect;
pub mod config;
pub mod eval;
pub mod gateway;
pub mod hunt;
pub mod rules;
pub mod serve;
pub mod simulate;
pub mod store;
pub mod verify;
