//! `sheets-emulator --listen 127.0.0.1:PORT`: serves the emulator until killed
//! and prints its base URL on the first line of stdout.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use sheetbridge_sheets_emulator::{Emulator, Options, Quota};

/// A local Google Sheets v4 + OAuth server for tests and demos.
#[derive(Debug, Parser)]
#[command(name = "sheets-emulator", version)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Approve authorization requests without showing the consent page.
    #[arg(long)]
    auto_approve: bool,
    /// Read requests a minute per user.
    #[arg(long, default_value_t = 60)]
    reads_per_user: u32,
    /// Write requests a minute per user.
    #[arg(long, default_value_t = 60)]
    writes_per_user: u32,
    /// Read requests a minute per project.
    #[arg(long, default_value_t = 300)]
    reads_per_project: u32,
    /// Write requests a minute per project.
    #[arg(long, default_value_t = 300)]
    writes_per_project: u32,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let options = Options {
        listen: args.listen,
        auto_approve: args.auto_approve,
        quota: Quota {
            reads_per_user: args.reads_per_user,
            writes_per_user: args.writes_per_user,
            reads_per_project: args.reads_per_project,
            writes_per_project: args.writes_per_project,
        },
    };
    let emulator = match Emulator::start(options) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("sheets-emulator: cannot listen on {}: {e}", args.listen);
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", emulator.base_url());
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
