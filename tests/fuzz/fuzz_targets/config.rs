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
    let (pairs, problems) = file.resolve_pairs(env);
    for p in problems {
        assert!(p.to_string().starts_with("config `fuzz.toml`"), "{p}");
    }
    for pair in pairs {
        // A schedule that parsed always has a next time, later than the last.
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        assert!(pair.schedule.next_after(t) > t, "{}", pair.schedule);
        let _ = pair.max_deletes.limit(u64::MAX);
    }
    if let Err(problems) = file.serve(env) {
        assert!(problems.iter().all(|p| p.to_string().contains("fuzz.toml")));
    }
    // Schedules are text of the file too.
    if let Ok(s) = text.parse::<sheetbridge::config::Schedule>() {
        let t = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        assert!(s.next_after(t) > t, "{s}");
    }
});
