//! Any text as a `gsheet://` reference or a pasted browser link: parsing never panics, and
//! what parses prints back to a reference that parses to the same spreadsheet and tab.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sheetbridge_google_sheets::SheetRef;

fuzz_target!(|text: &str| {
    let _ = SheetRef::looks_like(text);
    if let Ok(sheet) = SheetRef::parse(text) {
        let again = SheetRef::parse(&sheet.to_string()).expect("a printed reference parses");
        assert_eq!(again, sheet);
    }
});
