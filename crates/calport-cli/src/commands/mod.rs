//! One module per subcommand.

pub mod accounts;
pub mod check;
pub mod conflicts;
pub mod migrate;
pub mod serve;
pub mod sync;
