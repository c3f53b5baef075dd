//! One module per subcommand.

pub mod hunt;
