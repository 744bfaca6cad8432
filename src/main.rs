use std::process::ExitCode;

use clap::Parser;

/// Rows cross threads (the workbook is parsed on one, the database fed from
/// another), which glibc's allocator serves poorly; mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
