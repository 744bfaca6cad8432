//! Any text as `sheetbridge.toml`: parsing and resolving every section ends in a value or an
//! error naming the file, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sheetbridge::config::ConfigFile;

fuzz_target!(|text: &str| {
    let Ok(file) = ConfigFile::parse(Path::new("fuzz.toml"), text) else { return };
    let env = |name: &str| (name == "SET").then(|| "value".to_owned());
    if let Err(e) = file.database(env) {
        assert!(e.to_string().contains("fuzz.toml"), "{e}");
    }
    if let Err(e) = file.google(env) {
        assert!(e.to_string().contains("fuzz.toml"), "{e}");
    }
});
