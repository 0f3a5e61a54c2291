//! One module per subcommand.

pub mod migrate;
