//! Any text as an A1 range, the way the Sheets emulator reads a request's range: parsing
//! never panics, and a parsed range printed back parses to the same range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sheetbridge_sheets_emulator::sheets::a1;

fuzz_target!(|text: &str| {
    let _ = a1::parse(text);
    if let Some(cells) = a1::parse_cells(text) {
        let _ = format!("{cells:?}");
    }
    let quoted = a1::quote_sheet(text);
    let parsed = a1::parse(&format!("{quoted}!A1"));
    assert!(parsed.is_some(), "a quoted sheet name must parse: {quoted}");
});
