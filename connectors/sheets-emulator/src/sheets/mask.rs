//! Field masks (`fields=sheets.properties(title,sheetId),spreadsheetId`,
//! `sheets/data/rowData/values/note`), applied to a response.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

/// A mask: each key keeps that field; an empty child keeps all of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mask {
    pub children: BTreeMap<String, Mask>,
}

impl Mask {
    pub fn is_all(&self) -> bool {
        self.children.is_empty() || self.children.contains_key("*")
    }

    /// Whether the path (`["sheets", "data"]`) is asked for, wholly or in part.
    pub fn wants(&self, path: &[&str]) -> bool {
        let mut m = self;
        for p in path {
            if m.is_all() {
                return true;
            }
            match m.children.get(*p) {
                Some(child) => m = child,
                None => return false,
            }
        }
        true
    }

    pub fn child(&self, key: &str) -> Option<&Mask> {
        self.children.get(key)
    }

    fn insert(&mut self, path: &[String]) -> &mut Mask {
        let mut m = self;
        for p in path {
            m = m.children.entry(p.clone()).or_default();
        }
        m
    }
}

/// Parses a mask; unknown syntax is kept as literal field names.
pub fn parse(text: &str) -> Mask {
    let mut root = Mask::default();
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    if chars.iter().filter(|c| **c == '(').count() > 64 {
        // Deeper masks than any real one; refuse the nesting rather than recurse.
        return Mask::default();
    }
    parse_list(&chars, &mut pos, &mut root, &[]);
    root
}

fn parse_list(chars: &[char], pos: &mut usize, root: &mut Mask, prefix: &[String]) {
    loop {
        let mut path: Vec<String> = prefix.to_vec();
        let mut name = String::new();
        while *pos < chars.len() {
            let c = chars[*pos];
            match c {
                '.' | '/' => {
                    if !name.is_empty() {
                        path.push(std::mem::take(&mut name));
                    }
                    *pos += 1;
                }
                '(' => {
                    if !name.is_empty() {
                        path.push(std::mem::take(&mut name));
                    }
                    *pos += 1;
                    root.insert(&path);
                    parse_list(chars, pos, root, &path);
                    // after ')'
                    path.clear();
                    break;
                }
                ',' | ')' => break,
                ' ' => *pos += 1,
                _ => {
                    name.push(c);
                    *pos += 1;
                }
            }
        }
        if !name.is_empty() {
            path.push(name);
        }
        if path.len() > prefix.len() {
            root.insert(&path);
        }
        match chars.get(*pos) {
            Some(',') => {
                *pos += 1;
            }
            Some(')') => {
                *pos += 1;
                return;
            }
            _ => return,
        }
    }
}

/// Keeps only the masked fields; arrays apply the mask to each element.
pub fn apply(value: &Json, mask: &Mask) -> Json {
    if mask.is_all() {
        return value.clone();
    }
    match value {
        Json::Object(map) => {
            let mut out = Map::new();
            for (k, child) in &mask.children {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), apply(v, child));
                }
            }
            Json::Object(out)
        }
        Json::Array(items) => Json::Array(items.iter().map(|v| apply(v, mask)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_with_dots_slashes_and_parens() {
        let m = parse("sheets.properties(title,sheetId),spreadsheetId");
        let v = json!({"spreadsheetId": "x", "properties": {}, "sheets": [{"properties": {"title": "a", "index": 0, "sheetId": 1}, "data": []}]});
        assert_eq!(
            apply(&v, &m),
            json!({"spreadsheetId": "x", "sheets": [{"properties": {"title": "a", "sheetId": 1}}]})
        );
        let m = parse("sheets/data/rowData/values/note");
        assert!(m.wants(&["sheets", "data"]));
        assert!(!m.wants(&["namedRanges"]));
    }
}
