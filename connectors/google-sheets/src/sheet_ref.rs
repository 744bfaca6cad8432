//! Which tab of which spreadsheet: `gsheet://SPREADSHEET_ID/Tab`, or a link
//! pasted from the browser.

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use sheetbridge_core::{Error, ErrorKind};

/// The scheme of sheetbridge's own form.
pub const SCHEME: &str = "gsheet://";

/// What a tab name's `/`, `%`, `#` and `?` become in `gsheet://ID/Tab`
/// (spaces and other characters stay readable).
const TAB_ESCAPES: &AsciiSet = &CONTROLS.add(b'%').add(b'/').add(b'#').add(b'?');

/// [`TAB_ESCAPES`] and the space, for names with blanks at their ends.
const EDGE_ESCAPES: &AsciiSet = &TAB_ESCAPES.add(b' ');

/// A tab of a spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Tab {
    /// The first tab (in the order the spreadsheet shows them).
    First,
    /// The tab of this name.
    Name(String),
    /// The tab of this sheet id (the `gid` of a browser link).
    Gid(i64),
}

/// A spreadsheet and one of its tabs.
///
/// ```
/// use sheetbridge_google_sheets::{SheetRef, Tab};
///
/// let r = SheetRef::parse("gsheet://1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/Q%26A%20%231").unwrap();
/// assert_eq!(r.tab, Tab::Name("Q&A #1".into()));
/// let r = SheetRef::parse("https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit#gid=0").unwrap();
/// assert_eq!(r.tab, Tab::Gid(0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SheetRef {
    pub spreadsheet_id: String,
    pub tab: Tab,
}

fn invalid(text: &str, why: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidInput, format!("`{text}` is not a Google Sheet reference: {why}"))
}

/// Spreadsheet ids are URL-safe base64 (`[A-Za-z0-9_-]`), 44 characters for
/// today's spreadsheets; older ones are shorter.
fn check_id(text: &str, id: &str) -> Result<(), Error> {
    if id.is_empty() {
        return Err(invalid(text, "the spreadsheet id is missing"));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(invalid(text, format!("the spreadsheet id `{id}` contains `{c}`")));
    }
    Ok(())
}

impl SheetRef {
    /// A tab given by name.
    pub fn new(spreadsheet_id: impl Into<String>, tab: Option<&str>) -> SheetRef {
        SheetRef {
            spreadsheet_id: spreadsheet_id.into(),
            tab: tab.map_or(Tab::First, |t| Tab::Name(t.to_owned())),
        }
    }

    /// Whether `text` is meant as a Google Sheet rather than a file path:
    /// `gsheet://...` or a `docs.google.com/spreadsheets/` link.
    pub fn looks_like(text: &str) -> bool {
        let t = text.trim();
        let lower = t.get(..t.len().min(48)).unwrap_or(t).to_ascii_lowercase();
        lower.starts_with(SCHEME)
            || lower.starts_with("https://docs.google.com/spreadsheets/")
            || lower.starts_with("http://docs.google.com/spreadsheets/")
            || lower.starts_with("docs.google.com/spreadsheets/")
    }

    /// Parses `gsheet://ID`, `gsheet://ID/Tab` (the tab percent-decoded),
    /// `gsheet://ID#gid=N`, or a browser link:
    /// `https://docs.google.com/spreadsheets/d/ID/edit#gid=N`,
    /// `…/edit?gid=N#gid=N`, `…/u/0/d/ID/…`.
    pub fn parse(text: &str) -> Result<SheetRef, Error> {
        let t = text.trim();
        // `get`, not indexing: the text may hold a multi-byte character there.
        if let Some(rest) =
            t.get(..SCHEME.len()).filter(|h| h.eq_ignore_ascii_case(SCHEME)).and(t.get(SCHEME.len()..))
        {
            return Self::parse_own(text, rest);
        }
        let lower = t.get(..t.len().min(16)).unwrap_or(t).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return Self::parse_link(text, t);
        }
        if lower.starts_with("docs.google.com") {
            return Self::parse_link(text, &format!("https://{t}"));
        }
        Err(invalid(
            text,
            "expected gsheet://SPREADSHEET_ID/Tab or a https://docs.google.com/spreadsheets/d/... link",
        ))
    }

    fn parse_own(text: &str, rest: &str) -> Result<SheetRef, Error> {
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (rest, None),
        };
        let (id, tab) = match rest.split_once('/') {
            Some((id, tab)) => (id, Some(tab)),
            None => (rest, None),
        };
        check_id(text, id)?;
        let gid = match fragment {
            None => None,
            Some(f) => {
                Some(parse_gid(f).ok_or_else(|| invalid(text, format!("`#{f}` is not `#gid=NUMBER`")))?)
            }
        };
        let tab = match (tab.filter(|t| !t.is_empty()), gid) {
            (Some(_), Some(_)) => return Err(invalid(text, "give the tab by name or by gid, not both")),
            (Some(name), None) => {
                let decoded = percent_decode_str(name)
                    .decode_utf8()
                    .map_err(|_| invalid(text, "the tab name's %-escapes are not UTF-8"))?;
                Tab::Name(decoded.into_owned())
            }
            (None, Some(gid)) => Tab::Gid(gid),
            (None, None) => Tab::First,
        };
        Ok(SheetRef { spreadsheet_id: id.to_owned(), tab })
    }

    fn parse_link(text: &str, link: &str) -> Result<SheetRef, Error> {
        let url = url::Url::parse(link).map_err(|e| invalid(text, e))?;
        if url.host_str() != Some("docs.google.com") {
            return Err(invalid(text, "the link is not on docs.google.com"));
        }
        let segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
        // spreadsheets / [u / N /] d / ID / ...
        let mut rest = segments.as_slice();
        if rest.first() != Some(&"spreadsheets") {
            return Err(invalid(text, "the link is not a spreadsheet's (no /spreadsheets/ in it)"));
        }
        rest = &rest[1..];
        if rest.first() == Some(&"u") && rest.len() > 2 {
            rest = &rest[2..];
        }
        let id = match rest {
            ["d", "e", ..] => {
                return Err(invalid(
                    text,
                    "it is a published-to-the-web link; use the link of the spreadsheet itself \
                     (its address bar shows /spreadsheets/d/ID/edit)",
                ))
            }
            ["d", id, ..] => *id,
            _ => return Err(invalid(text, "the link has no /d/SPREADSHEET_ID in it")),
        };
        check_id(text, id)?;
        let from_fragment = url.fragment().and_then(|f| f.split('&').find_map(parse_gid));
        let from_query = url.query_pairs().find(|(k, _)| k == "gid").and_then(|(_, v)| v.parse::<i64>().ok());
        let tab = match from_fragment.or(from_query) {
            Some(gid) => Tab::Gid(gid),
            None => Tab::First,
        };
        Ok(SheetRef { spreadsheet_id: id.to_owned(), tab })
    }

    /// The tab as messages name it: `` `Orders` ``, `the tab with gid 123`, `the first tab`.
    pub fn tab_label(&self) -> String {
        match &self.tab {
            Tab::First => "the first tab".to_owned(),
            Tab::Name(n) => format!("`{n}`"),
            Tab::Gid(g) => format!("the tab with gid {g}"),
        }
    }

    /// The same spreadsheet, the tab named `name`.
    pub fn with_tab(&self, name: &str) -> SheetRef {
        SheetRef { spreadsheet_id: self.spreadsheet_id.clone(), tab: Tab::Name(name.to_owned()) }
    }

    /// The spreadsheet's address in the browser.
    pub fn url(&self) -> String {
        let base = format!("https://docs.google.com/spreadsheets/d/{}/edit", self.spreadsheet_id);
        match self.tab {
            Tab::Gid(g) => format!("{base}#gid={g}"),
            _ => base,
        }
    }
}

fn parse_gid(fragment: &str) -> Option<i64> {
    fragment.strip_prefix("gid=")?.parse().ok()
}

/// `gsheet://ID/Tab` with the tab's `%`, `/`, `#`, `?` percent-encoded,
/// `gsheet://ID#gid=N`, or `gsheet://ID`; [`SheetRef::parse`] reads it back.
impl fmt::Display for SheetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.spreadsheet_id)?;
        match &self.tab {
            Tab::First => Ok(()),
            // Blanks at the ends are encoded too: a pasted reference is trimmed.
            Tab::Name(n) if n.trim() != n => write!(f, "/{}", utf8_percent_encode(n, EDGE_ESCAPES)),
            Tab::Name(n) => write!(f, "/{}", utf8_percent_encode(n, TAB_ESCAPES)),
            Tab::Gid(g) => write!(f, "#gid={g}"),
        }
    }
}

impl std::str::FromStr for SheetRef {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SheetRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms";

    fn parse(s: &str) -> SheetRef {
        SheetRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn own_form_with_and_without_a_tab() {
        assert_eq!(parse(&format!("gsheet://{ID}")), SheetRef::new(ID, None));
        assert_eq!(parse(&format!("gsheet://{ID}/")), SheetRef::new(ID, None));
        assert_eq!(parse(&format!("gsheet://{ID}/Orders")), SheetRef::new(ID, Some("Orders")));
        assert_eq!(parse(&format!("GSHEET://{ID}/Orders 2024")), SheetRef::new(ID, Some("Orders 2024")));
        assert_eq!(parse(&format!("gsheet://{ID}/Q%26A%20%231")), SheetRef::new(ID, Some("Q&A #1")));
        assert_eq!(parse(&format!("gsheet://{ID}/a%2Fb")), SheetRef::new(ID, Some("a/b")));
        assert_eq!(parse(&format!("gsheet://{ID}/%C3%9Cml")), SheetRef::new(ID, Some("Üml")));
        assert_eq!(parse(&format!("gsheet://{ID}/Üml")), SheetRef::new(ID, Some("Üml")));
        assert_eq!(parse(&format!("gsheet://{ID}#gid=42")).tab, Tab::Gid(42));
    }

    #[test]
    fn display_reads_back() {
        for tab in ["Orders", "Q&A #1", "'quoted'", "a/b?c", "100%", "Ünïcödé 🙂", "  spaced  "] {
            let r = SheetRef::new(ID, Some(tab));
            let text = r.to_string();
            assert!(text.starts_with("gsheet://"), "{text}");
            assert_eq!(parse(&text), r, "{text}");
        }
        assert_eq!(SheetRef::new(ID, Some("Q&A #1")).to_string(), format!("gsheet://{ID}/Q&A %231"));
        let gid = SheetRef { spreadsheet_id: ID.into(), tab: Tab::Gid(7) };
        assert_eq!(parse(&gid.to_string()), gid);
        assert_eq!(parse(&SheetRef::new(ID, None).to_string()), SheetRef::new(ID, None));
    }

    #[test]
    fn browser_links() {
        let gid = |g| SheetRef { spreadsheet_id: ID.into(), tab: Tab::Gid(g) };
        assert_eq!(parse(&format!("https://docs.google.com/spreadsheets/d/{ID}/edit#gid=123")), gid(123));
        assert_eq!(
            parse(&format!("https://docs.google.com/spreadsheets/d/{ID}/edit?gid=123#gid=123")),
            gid(123)
        );
        assert_eq!(parse(&format!("https://docs.google.com/spreadsheets/u/0/d/{ID}/edit#gid=5")), gid(5));
        assert_eq!(
            parse(&format!("https://docs.google.com/spreadsheets/d/{ID}/edit?usp=sharing")),
            SheetRef::new(ID, None)
        );
        assert_eq!(parse(&format!("https://docs.google.com/spreadsheets/d/{ID}")), SheetRef::new(ID, None));
        assert_eq!(parse(&format!("docs.google.com/spreadsheets/d/{ID}/edit#gid=0")), gid(0));
        assert_eq!(
            parse(&format!("  https://docs.google.com/spreadsheets/d/{ID}/htmlview  ")),
            SheetRef::new(ID, None)
        );
    }

    #[test]
    fn anything_else_is_a_clear_error() {
        for (text, says) in [
            ("orders.xlsx", "expected gsheet://"),
            ("gsheet://", "id is missing"),
            ("gsheet:///Tab", "id is missing"),
            ("gsheet://abc$def/Tab", "contains `$`"),
            ("gsheet://abc#sheet=1", "#gid=NUMBER"),
            ("gsheet://abc/Tab#gid=1", "not both"),
            ("https://docs.google.com/document/d/abc/edit", "not a spreadsheet"),
            ("https://docs.google.com/spreadsheets/d/e/2PACX-1v/pubhtml", "published"),
            ("https://docs.google.com/spreadsheets/", "no /d/"),
        ] {
            let e = SheetRef::parse(text).expect_err(text);
            assert_eq!(e.kind(), &ErrorKind::InvalidInput);
            assert!(e.to_string().contains(says), "{text}: {e}");
        }
        assert!(SheetRef::parse("https://evil.example/spreadsheets/d/abc").is_err());
    }

    /// `parse` sliced the text at the scheme's length, inside a 4-byte character.
    #[test]
    fn a_multibyte_character_where_the_scheme_would_end_is_not_a_panic() {
        let e = SheetRef::parse("\u{107b5}`Ւ&\u{10c21}rest").expect_err("not a reference");
        assert_eq!(e.kind(), &ErrorKind::InvalidInput);
    }

    #[test]
    fn looks_like_tells_sheets_from_paths() {
        assert!(SheetRef::looks_like("gsheet://abc/Tab"));
        assert!(SheetRef::looks_like("https://docs.google.com/spreadsheets/d/abc/edit"));
        assert!(SheetRef::looks_like("docs.google.com/spreadsheets/d/abc"));
        assert!(!SheetRef::looks_like("orders.xlsx"));
        assert!(!SheetRef::looks_like("./gsheet/orders.xlsx"));
        assert!(!SheetRef::looks_like("C:\\data\\orders.xlsx"));
    }

    proptest::proptest! {
        #[test]
        fn any_tab_name_survives_display_and_parse(name in "\\PC{1,40}") {
            let r = SheetRef::new(ID, Some(&name));
            proptest::prop_assert_eq!(SheetRef::parse(&r.to_string()).ok(), Some(r));
        }

        #[test]
        fn parsing_anything_never_panics(text in "\\PC{0,80}", prefix in 0usize..4) {
            let head = ["", "gsheet://", "https://docs.google.com/spreadsheets/d/", "docs.google.com/spreadsheets/u/0/d/"];
            let _ = SheetRef::parse(&format!("{}{text}", head[prefix]));
            let _ = SheetRef::looks_like(&text);
            let _ = crate::a1::parse_cell(&text);
        }
    }
}
