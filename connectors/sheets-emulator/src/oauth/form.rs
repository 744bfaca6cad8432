//! `application/x-www-form-urlencoded`, both ways, and HTML escaping.

use std::collections::HashMap;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// What stays as it is in a form value: RFC 3986's unreserved characters.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The pairs of a query string or form body; a repeated name keeps its first value.
pub(crate) fn parse(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        out.entry(decode(name)).or_insert_with(|| decode(value));
    }
    out
}

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, FORM).to_string()
}

/// `a=1&b=2`, each value encoded.
pub(crate) fn serialize(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Text made safe to put in HTML, in an element or an attribute.
pub(crate) fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_round_trips_plus_percent_and_unicode() {
        let text = serialize(&[("redirect_uri", "http://127.0.0.1:8080/cb?x=1"), ("n", "a b+ç")]);
        let back = parse(&text);
        assert_eq!(back["redirect_uri"], "http://127.0.0.1:8080/cb?x=1");
        assert_eq!(back["n"], "a b+ç");
        assert_eq!(parse("scope=a+b&empty=&flag")["scope"], "a b");
    }
}
