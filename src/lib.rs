//! sheetbridge keeps Postgres tables and spreadsheets in agreement.
//!
//! This crate is the `sheetbridge` command and the library its tests drive:
//! [`run`] takes parsed arguments and does what the command says.
//!
//! ```no_run
//! use clap::Parser;
//! let cli = sheetbridge::cli::Cli::parse_from([
//!     "sheetbridge", "export", "--db", "postgres://app@localhost/shop",
//!     "--table", "orders", "--to", "orders.xlsx",
//! ]);
//! let code = sheetbridge::run(cli).expect("export");
//! assert_eq!(code, sheetbridge::exit::Code::Success);
//! ```

pub mod cli;
pub mod commands;
pub mod config;
pub mod endpoint;
pub mod exit;
pub mod google;
pub mod output;
pub mod serve;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::exit::Code;

/// Runs one command to the end.
pub fn run(cli: Cli) -> anyhow::Result<Code> {
    init_logging(&cli.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Export(args) => commands::export::run(args).await,
            Command::Import(args) => commands::import::run(args).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Auth(args) => commands::auth::run(args).await,
            Command::Check(args) => commands::check::run(args).await,
        }
    })
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A second call (tests run several commands in one process) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
