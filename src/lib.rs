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
pub mod engine;
pub mod exit;
pub mod google;
pub mod output;
pub mod serve;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::config::LogFormat;
use crate::exit::Code;

/// Runs one command to the end.
pub fn run(cli: Cli) -> anyhow::Result<Code> {
    // `serve` starts logging itself, once its config has said in which format.
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging(&cli.log, LogFormat::Text);
    }
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
            Command::Sync(args) => commands::sync::run(args).await,
            Command::Status(args) => commands::status::run_status(args).await,
            Command::Resolve(args) => commands::status::run_resolve(args).await,
            Command::Serve(args) => commands::serve::run(args, &cli.log).await,
        }
    })
}

/// Logs to stderr at `level` (an env-filter directive), as text or one JSON object a line.
pub(crate) fn init_logging(level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second call (tests run several commands in one process) is harmless.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
