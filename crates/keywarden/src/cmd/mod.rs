//! One module per subcommand.

pub mod config;
pub mod hunt;
pub mod hunt_detect;
pub mod verify;
pub mod simulate;
pub mod eval;
pub mod rules;
pub mod serve;
