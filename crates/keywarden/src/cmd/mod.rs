//! One module per subcommand.

pub mod hunt;
pub mod verify;
pub mod simulate;
pub mod eval;
