use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sheetbridge::cli::Cli::parse();
    match sheetbridge::run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {}", sheetbridge::exit::render(&err));
            sheetbridge::exit::code_for(&err).into()
        }
    }
}
