//! Reading and editing the XML parts of a workbook package, streaming:
//! relationships, content types, the workbook's sheet list and defined
//! names, the style sheet. Every edit passes the events it does not change
//! through as they were read, so unknown elements, namespaces and extensions
//! survive.

use std::io::{BufRead, Write};

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer, XmlVersion};

/// Why a part could not be read or edited (the caller adds the file and part).
pub(crate) type XmlError = String;
pub(crate) type Result<T> = std::result::Result<T, XmlError>;

pub(crate) fn xml_err(e: impl std::fmt::Display) -> XmlError {
    format!("malformed XML: {e}")
}

pub(crate) fn reader<R: BufRead>(r: R) -> Reader<R> {
    Reader::from_reader(r)
}

pub(crate) fn local(name: &str) -> &str {
    match name.split_once(':') {
        Some((_, l)) => l,
        None => name,
    }
}

/// The `x:` of `x:sheet`, or "".
pub(crate) fn prefix_of(name: &str) -> String {
    match name.split_once(':') {
        Some((p, _)) => format!("{p}:"),
        None => String::new(),
    }
}

/// The unescaped value of the attribute whose local name is `key`.
pub(crate) fn attr(e: &BytesStart<'_>, key: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| local(a.key.as_ref()) == key)
        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

/// `e` with attribute `key` (matched by its full name) set to `value`,
/// added last if missing; other attributes keep their order and bytes.
pub(crate) fn set_attr(e: &BytesStart<'_>, key: &str, value: &str) -> BytesStart<'static> {
    let name = e.name().as_ref().to_owned();
    let mut out = BytesStart::new(name);
    let mut found = false;
    for a in e.attributes().flatten() {
        if a.key.as_ref() == key {
            out.push_attribute((key, value));
            found = true;
        } else {
            out.push_attribute(a);
        }
    }
    if !found {
        out.push_attribute((key, value));
    }
    out
}

/// `e` without the attribute `key` (full name).
pub(crate) fn drop_attr(e: &BytesStart<'_>, key: &str) -> BytesStart<'static> {
    let name = e.name().as_ref().to_owned();
    let mut out = BytesStart::new(name);
    for a in e.attributes().flatten() {
        if a.key.as_ref() != key {
            out.push_attribute(a);
        }
    }
    out
}

/// Text of a reference event (`&amp;`, `&#10;`).
pub(crate) fn resolve_ref(name: &str) -> Option<String> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code).map(String::from);
    }
    quick_xml::escape::resolve_predefined_entity(name).map(str::to_owned)
}

fn write<W: Write>(w: &mut Writer<W>, e: Event<'_>) -> Result<()> {
    w.write_event(e).map_err(|e| format!("cannot write XML: {e}"))
}

/// One relationship of a `.rels` part.
#[derive(Debug, Clone)]
pub(crate) struct Rel {
    pub id: String,
    pub ty: String,
    pub target: String,
    pub external: bool,
}

impl Rel {
    /// Whether the type is `…/relationships/{kind}` (transitional or strict).
    pub(crate) fn is(&self, kind: &str) -> bool {
        self.ty.rsplit('/').next() == Some(kind)
    }
}

pub(crate) fn parse_rels(xml: &[u8]) -> Result<Vec<Rel>> {
    let mut r = reader(xml);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        match r.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) | Event::Empty(e) if local(e.name().0) == "Relationship" => {
                out.push(Rel {
                    id: attr(&e, "Id").unwrap_or_default(),
                    ty: attr(&e, "Type").unwrap_or_default(),
                    target: attr(&e, "Target").unwrap_or_default(),
                    external: attr(&e, "TargetMode").is_some_and(|m| m == "External"),
                });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// The `.rels` part of `part` (`xl/workbook.xml` → `xl/_rels/workbook.xml.rels`).
pub(crate) fn rels_of(part: &str) -> String {
    match part.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/_rels/{name}.rels"),
        None => format!("_rels/{part}.rels"),
    }
}

/// The zip entry a relationship of `source` points to.
pub(crate) fn resolve(source: &str, target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if let Some(abs) = target.strip_prefix('/') {
        parts.extend(abs.split('/'));
    } else {
        if let Some((dir, _)) = source.rsplit_once('/') {
            parts.extend(dir.split('/'));
        }
        parts.extend(target.split('/'));
    }
    let mut out: Vec<&str> = Vec::new();
    for p in parts {
        match p {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    out.join("/")
}

/// `target` as written in a relationship of `source` (relative when it can be).
pub(crate) fn relative(source: &str, target: &str) -> String {
    match source.rsplit_once('/') {
        Some((dir, _)) => match target.strip_prefix(&format!("{dir}/")) {
            Some(rest) => rest.to_owned(),
            None => format!("/{target}"),
        },
        None => target.to_owned(),
    }
}

/// A `.rels` part with relationships `drop` left out and `add` appended
/// (id, type, target).
pub(crate) fn edit_rels(xml: &[u8], drop: &[String], add: &[(String, String, String)]) -> Result<Vec<u8>> {
    let mut r = reader(xml);
    let mut w = Writer::new(Vec::with_capacity(xml.len() + 256));
    let mut buf = Vec::new();
    let mut prefix = String::new();
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) if local(e.name().0) == "Relationship" => {
                let id = attr(e, "Id").unwrap_or_default();
                if !drop.contains(&id) {
                    write(&mut w, ev.borrow())?;
                }
                if matches!(ev, Event::Start(_)) {
                    // A Relationship has no content; skip to its end.
                    let end = e.to_end().into_owned();
                    r.read_to_end_into(end.name(), &mut Vec::new()).map_err(xml_err)?;
                    if !drop.contains(&id) {
                        write(&mut w, Event::End(end))?;
                    }
                }
            }
            Event::Start(ref e) if local(e.name().0) == "Relationships" => {
                prefix = prefix_of(e.name().as_ref());
                write(&mut w, ev.borrow())?;
            }
            Event::Empty(ref e) if local(e.name().0) == "Relationships" => {
                prefix = prefix_of(e.name().as_ref());
                let start = e.clone().into_owned();
                write(&mut w, Event::Start(start.borrow()))?;
                add_rels(&mut w, &prefix, add)?;
                write(&mut w, Event::End(start.to_end()))?;
            }
            Event::End(ref e) if local(e.name().0) == "Relationships" => {
                add_rels(&mut w, &prefix, add)?;
                write(&mut w, ev.borrow())?;
            }
            Event::Eof => break,
            _ => write(&mut w, ev.borrow())?,
        }
        buf.clear();
    }
    Ok(w.into_inner())
}

fn add_rels<W: Write>(w: &mut Writer<W>, prefix: &str, add: &[(String, String, String)]) -> Result<()> {
    for (id, ty, target) in add {
        let mut e = BytesStart::new(format!("{prefix}Relationship"));
        e.push_attribute(("Id", id.as_str()));
        e.push_attribute(("Type", ty.as_str()));
        e.push_attribute(("Target", target.as_str()));
        write(w, Event::Empty(e))?;
    }
    Ok(())
}

/// `[Content_Types].xml` with the overrides of parts `drop` (`/xl/calcChain.xml`)
/// left out and overrides `add` (part name, content type) appended.
pub(crate) fn edit_content_types(xml: &[u8], drop: &[String], add: &[(String, String)]) -> Result<Vec<u8>> {
    let mut r = reader(xml);
    let mut w = Writer::new(Vec::with_capacity(xml.len() + 256));
    let mut buf = Vec::new();
    let mut prefix = String::new();
    let dropped = |e: &BytesStart<'_>| {
        local(e.name().0) == "Override"
            && attr(e, "PartName").is_some_and(|p| drop.iter().any(|d| d.eq_ignore_ascii_case(&p)))
    };
    let adds = |w: &mut Writer<Vec<u8>>, prefix: &str| -> Result<()> {
        for (part, ty) in add {
            let mut e = BytesStart::new(format!("{prefix}Override"));
            e.push_attribute(("PartName", part.as_str()));
            e.push_attribute(("ContentType", ty.as_str()));
            write(w, Event::Empty(e))?;
        }
        Ok(())
    };
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::Empty(ref e) if dropped(e) => {}
            Event::Start(ref e) if dropped(e) => {
                r.read_to_end_into(e.to_end().name(), &mut Vec::new()).map_err(xml_err)?;
            }
            Event::Start(ref e) if local(e.name().0) == "Types" => {
                prefix = prefix_of(e.name().as_ref());
                write(&mut w, ev.borrow())?;
            }
            Event::End(ref e) if local(e.name().0) == "Types" => {
                adds(&mut w, &prefix)?;
                write(&mut w, ev.borrow())?;
            }
            Event::Eof => break,
            _ => write(&mut w, ev.borrow())?,
        }
        buf.clear();
    }
    Ok(w.into_inner())
}

/// A `<sheet>` of workbook.xml.
#[derive(Debug, Clone)]
pub(crate) struct SheetEntry {
    pub name: String,
    pub sheet_id: u32,
    pub rid: String,
    pub state: Option<String>,
}

/// What workbook.xml says about its sheets, and how it spells them.
#[derive(Debug, Clone, Default)]
pub(crate) struct WorkbookInfo {
    pub sheets: Vec<SheetEntry>,
    /// The qualified name of `<sheet>` (`sheet`, `x:sheet`).
    pub sheet_tag: String,
    /// The qualified name of the relationship id attribute (`r:id`).
    pub rid_attr: String,
}

pub(crate) fn parse_workbook(xml: &[u8]) -> Result<WorkbookInfo> {
    let mut r = reader(xml);
    let mut buf = Vec::new();
    let mut info = WorkbookInfo::default();
    loop {
        match r.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) | Event::Empty(e) if local(e.name().0) == "sheet" => {
                let mut rid = None;
                for a in e.attributes().flatten() {
                    if local(a.key.as_ref()) == "id" && a.key.as_ref().contains(':') {
                        info.rid_attr = a.key.as_ref().to_owned();
                        rid = a.normalized_value(XmlVersion::Implicit1_0).ok().map(|v| v.into_owned());
                    }
                }
                info.sheet_tag = e.name().as_ref().to_owned();
                info.sheets.push(SheetEntry {
                    name: attr(&e, "name").unwrap_or_default(),
                    sheet_id: attr(&e, "sheetId").and_then(|s| s.parse().ok()).unwrap_or(0),
                    rid: rid.unwrap_or_default(),
                    state: attr(&e, "state"),
                });
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if info.rid_attr.is_empty() {
        info.rid_attr = "r:id".into();
    }
    if info.sheet_tag.is_empty() {
        info.sheet_tag = "sheet".into();
    }
    Ok(info)
}

/// The changes a rewrite makes to workbook.xml.
#[derive(Debug, Default)]
pub(crate) struct WorkbookEdit {
    /// Sheets appended to `<sheets>`: (name, sheetId, relationship id, hidden).
    pub add_sheets: Vec<(String, u32, String, bool)>,
    /// The autofilter's hidden name `_xlnm._FilterDatabase` of the sheet at
    /// this index, replaced by this formula (`'Orders'!$A$1:$C$10`).
    pub filter: Option<(usize, String)>,
}

/// Children of `<workbook>` that come after `<definedNames>` (ECMA-376 order).
const AFTER_DEFINED_NAMES: &[&str] = &[
    "calcPr",
    "oleSize",
    "customWorkbookViews",
    "pivotCaches",
    "smartTagPr",
    "smartTagTypes",
    "webPublishing",
    "fileRecoveryPr",
    "webPublishObjects",
    "extLst",
];

/// workbook.xml with `edit` applied and `fullCalcOnLoad="1"` set on
/// `<calcPr>`: formulas of other sheets that refer to the rewritten sheet
/// hold cached values of the old rows until they are calculated again.
pub(crate) fn edit_workbook(xml: &[u8], info: &WorkbookInfo, edit: &WorkbookEdit) -> Result<Vec<u8>> {
    let mut r = reader(xml);
    let mut w = Writer::new(Vec::with_capacity(xml.len() + 512));
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut prefix = String::new();
    let (mut names_done, mut calc_done) = (false, false);
    let filter_name = |prefix: &str, w: &mut Writer<Vec<u8>>| -> Result<()> {
        if let Some((index, formula)) = &edit.filter {
            let mut e = BytesStart::new(format!("{prefix}definedName"));
            e.push_attribute(("name", "_xlnm._FilterDatabase"));
            e.push_attribute(("localSheetId", index.to_string().as_str()));
            e.push_attribute(("hidden", "1"));
            write(w, Event::Start(e.borrow()))?;
            write(w, Event::Text(BytesText::from_escaped(quick_xml::escape::partial_escape(formula))))?;
            write(w, Event::End(e.to_end()))?;
        }
        Ok(())
    };
    let calc = |prefix: &str, w: &mut Writer<Vec<u8>>| -> Result<()> {
        let mut e = BytesStart::new(format!("{prefix}calcPr"));
        e.push_attribute(("fullCalcOnLoad", "1"));
        write(w, Event::Empty(e))
    };
    let is_old_filter = |e: &BytesStart<'_>| {
        local(e.name().0) == "definedName"
            && attr(e, "name").is_some_and(|n| n.eq_ignore_ascii_case("_xlnm._FilterDatabase"))
            && edit.filter.as_ref().is_some_and(|(i, _)| attr(e, "localSheetId") == Some(i.to_string()))
    };
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        // Elements that must exist before this child of <workbook>.
        if let Event::Start(ref e) | Event::Empty(ref e) = ev {
            if depth == 0 {
                prefix = prefix_of(e.name().as_ref());
            }
            if depth == 1 {
                let name = local(e.name().0);
                if !names_done && AFTER_DEFINED_NAMES.contains(&name) {
                    names_done = true;
                    if edit.filter.is_some() {
                        let dn = BytesStart::new(format!("{prefix}definedNames"));
                        write(&mut w, Event::Start(dn.borrow()))?;
                        filter_name(&prefix, &mut w)?;
                        write(&mut w, Event::End(dn.to_end()))?;
                    }
                }
                if !calc_done && name != "calcPr" && AFTER_DEFINED_NAMES[1..].contains(&name) {
                    calc_done = true;
                    calc(&prefix, &mut w)?;
                }
            }
        }
        match ev {
            Event::Start(ref e) => {
                depth += 1;
                let name = local(e.name().0);
                if depth == 3 && is_old_filter(e) {
                    r.read_to_end_into(e.to_end().name(), &mut Vec::new()).map_err(xml_err)?;
                    depth -= 1;
                } else if depth == 2 && name == "calcPr" {
                    calc_done = true;
                    write(&mut w, Event::Start(set_attr(e, "fullCalcOnLoad", "1")))?;
                } else {
                    if depth == 2 && name == "definedNames" {
                        names_done = true;
                    }
                    write(&mut w, ev.borrow())?;
                }
            }
            Event::Empty(ref e) => {
                let name = local(e.name().0);
                if depth == 2 && is_old_filter(e) {
                } else if depth == 1 && name == "calcPr" {
                    calc_done = true;
                    write(&mut w, Event::Empty(set_attr(e, "fullCalcOnLoad", "1")))?;
                } else if depth == 1 && name == "definedNames" {
                    names_done = true;
                    let start = e.clone().into_owned();
                    write(&mut w, Event::Start(start.borrow()))?;
                    filter_name(&prefix, &mut w)?;
                    write(&mut w, Event::End(start.to_end()))?;
                } else if depth == 1 && name == "sheets" {
                    let start = e.clone().into_owned();
                    write(&mut w, Event::Start(start.borrow()))?;
                    add_sheets(&mut w, info, edit)?;
                    write(&mut w, Event::End(start.to_end()))?;
                } else {
                    write(&mut w, ev.borrow())?;
                }
            }
            Event::End(ref e) => {
                let name = local(e.name().0);
                if depth == 2 && name == "definedNames" {
                    filter_name(&prefix, &mut w)?;
                }
                if depth == 2 && name == "sheets" {
                    add_sheets(&mut w, info, edit)?;
                }
                if depth == 1 {
                    if !names_done && edit.filter.is_some() {
                        names_done = true;
                        let dn = BytesStart::new(format!("{prefix}definedNames"));
                        write(&mut w, Event::Start(dn.borrow()))?;
                        filter_name(&prefix, &mut w)?;
                        write(&mut w, Event::End(dn.to_end()))?;
                    }
                    if !calc_done {
                        calc_done = true;
                        calc(&prefix, &mut w)?;
                    }
                }
                depth = depth.saturating_sub(1);
                write(&mut w, ev.borrow())?;
            }
            Event::Eof => break,
            _ => write(&mut w, ev.borrow())?,
        }
        buf.clear();
    }
    Ok(w.into_inner())
}

fn add_sheets<W: Write>(w: &mut Writer<W>, info: &WorkbookInfo, edit: &WorkbookEdit) -> Result<()> {
    for (name, id, rid, hidden) in &edit.add_sheets {
        let mut e = BytesStart::new(info.sheet_tag.as_str());
        e.push_attribute(("name", name.as_str()));
        e.push_attribute(("sheetId", id.to_string().as_str()));
        if *hidden {
            e.push_attribute(("state", "hidden"));
        }
        e.push_attribute((info.rid_attr.as_str(), rid.as_str()));
        write(w, Event::Empty(e))?;
    }
    Ok(())
}

/// One child element of a style list, captured whole.
#[derive(Debug, Clone)]
struct Item {
    start: BytesStart<'static>,
    /// The element's content, serialized (empty for `<x/>`).
    inner: Vec<u8>,
    empty: bool,
}

impl Item {
    /// The element with attributes in `map` (`fontId` → new value) replaced.
    fn serialized(&self, map: &[(&str, String)]) -> Result<Vec<u8>> {
        let mut start = self.start.clone();
        for (k, v) in map {
            if attr(&start, k).is_some() {
                start = set_attr(&start, k, v);
            }
        }
        let mut w = Writer::new(Vec::new());
        if self.empty {
            write(&mut w, Event::Empty(start))?;
        } else {
            write(&mut w, Event::Start(start.borrow()))?;
            w.get_mut().extend_from_slice(&self.inner);
            write(&mut w, Event::End(start.to_end()))?;
        }
        Ok(w.into_inner())
    }
}

/// The lists of a style sheet a cell format refers into.
const STYLE_LISTS: [&str; 5] = ["numFmts", "fonts", "fills", "borders", "cellXfs"];

#[derive(Debug, Default)]
struct Styles {
    /// Items of each of STYLE_LISTS, in order.
    lists: [Vec<Item>; 5],
    /// The style sheet's prefix (`x:`), for elements added to it.
    prefix: String,
}

/// Reads the lists of a style sheet; element names get `rename_prefix`
/// (used to give our additions the prefix of the sheet they join).
fn parse_styles(xml: &[u8], rename_prefix: Option<&str>) -> Result<Styles> {
    let mut r = reader(xml);
    let mut buf = Vec::new();
    let mut styles = Styles::default();
    let mut depth = 0usize;
    let mut list: Option<usize> = None;
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) if depth == 2 && list.is_some() => {
                let empty = matches!(ev, Event::Empty(_));
                let start = renamed(e, rename_prefix);
                let inner = if empty { Vec::new() } else { capture(&mut r, rename_prefix)? };
                if let Some(i) = list {
                    styles.lists[i].push(Item { start, inner, empty });
                }
            }
            Event::Start(ref e) => {
                if depth == 0 {
                    styles.prefix = prefix_of(e.name().as_ref());
                }
                if depth == 1 {
                    list = STYLE_LISTS.iter().position(|l| *l == local(e.name().0));
                }
                depth += 1;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    list = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(styles)
}

fn renamed(e: &BytesStart<'_>, prefix: Option<&str>) -> BytesStart<'static> {
    match prefix {
        None => e.clone().into_owned(),
        Some(p) => {
            let name = format!("{p}{}", local(e.name().0));
            let mut out = BytesStart::new(name);
            out.extend_attributes(e.attributes().flatten());
            out
        }
    }
}

/// The serialized content of the element just started, up to its end.
fn capture<R: BufRead>(r: &mut Reader<R>, prefix: Option<&str>) -> Result<Vec<u8>> {
    let mut w = Writer::new(Vec::new());
    let mut buf = Vec::new();
    let mut depth = 0usize;
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::Start(ref e) => {
                depth += 1;
                write(&mut w, Event::Start(renamed(e, prefix)))?;
            }
            Event::Empty(ref e) => write(&mut w, Event::Empty(renamed(e, prefix)))?,
            Event::End(ref e) => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                let name = match prefix {
                    None => e.name().as_ref().to_owned(),
                    Some(p) => format!("{p}{}", local(e.name().0)),
                };
                write(&mut w, Event::End(BytesEnd::new(name)))?;
            }
            Event::Eof => return Err("unexpected end of the part".into()),
            _ => write(&mut w, ev.borrow())?,
        }
        buf.clear();
    }
    Ok(w.into_inner())
}

/// A style sheet with the cell formats of another appended, and where each
/// of the other's cell formats now is.
pub(crate) struct MergedStyles {
    pub xml: Vec<u8>,
    /// `xf_map[i]` is the index in the merged sheet of the other's `cellXfs[i]`.
    pub xf_map: Vec<u32>,
}

/// Merges the cell formats of `ours` (a style sheet rust_xlsxwriter wrote)
/// into `theirs` (the workbook's): fonts, fills, borders, number formats and
/// cell formats are appended after the workbook's own, so every index the
/// workbook's other sheets use keeps its meaning. Our first font, fill and
/// border and our first cell format stand for the workbook's defaults; an
/// item equal to one the workbook already has is reused, so rewriting a
/// sheet again adds nothing.
pub(crate) fn merge_styles(theirs: &[u8], ours: &[u8]) -> Result<MergedStyles> {
    let t = parse_styles(theirs, None)?;
    let o = parse_styles(ours, Some(&t.prefix))?;
    let mut added: [Vec<Vec<u8>>; 5] = Default::default();

    // Number formats: by format code; new ids after the largest in use.
    let codes = |items: &[Item]| -> Vec<(u32, String)> {
        items
            .iter()
            .filter_map(|i| Some((attr(&i.start, "numFmtId")?.parse().ok()?, attr(&i.start, "formatCode")?)))
            .collect()
    };
    let their_codes = codes(&t.lists[0]);
    let mut next_id = their_codes.iter().map(|(id, _)| *id).max().unwrap_or(0).max(163) + 1;
    let mut num_map: Vec<(u32, u32)> = Vec::new();
    for (id, code) in codes(&o.lists[0]) {
        let to = match their_codes.iter().find(|(_, c)| *c == code) {
            Some((tid, _)) => *tid,
            None => {
                let mut e = BytesStart::new(format!("{}numFmt", t.prefix));
                e.push_attribute(("numFmtId", next_id.to_string().as_str()));
                e.push_attribute(("formatCode", code.as_str()));
                let mut w = Writer::new(Vec::new());
                write(&mut w, Event::Empty(e))?;
                added[0].push(w.into_inner());
                next_id += 1;
                next_id - 1
            }
        };
        num_map.push((id, to));
    }

    // Fonts, fills, borders: ours[0] (and the two required fills) are the defaults.
    let mut maps: [Vec<u32>; 3] = Default::default();
    for l in 1..=3 {
        let defaults = if l == 2 { 2 } else { 1 };
        let theirs_ser: Vec<Vec<u8>> = t.lists[l].iter().map(|i| i.serialized(&[])).collect::<Result<_>>()?;
        for (i, item) in o.lists[l].iter().enumerate() {
            let to = if i < defaults && i < theirs_ser.len() {
                i as u32
            } else {
                let ser = item.serialized(&[])?;
                match theirs_ser.iter().chain(&added[l]).position(|s| *s == ser) {
                    Some(p) => p as u32,
                    None => {
                        added[l].push(ser);
                        (theirs_ser.len() + added[l].len() - 1) as u32
                    }
                }
            };
            maps[l - 1].push(to);
        }
    }

    // Cell formats, with their references remapped.
    let theirs_xf: Vec<Vec<u8>> = t.lists[4].iter().map(|i| i.serialized(&[])).collect::<Result<_>>()?;
    let look = |map: &[u32], v: Option<String>| -> String {
        let i: usize = v.and_then(|s| s.parse().ok()).unwrap_or(0);
        map.get(i).copied().unwrap_or(0).to_string()
    };
    let mut xf_map = Vec::new();
    for (i, item) in o.lists[4].iter().enumerate() {
        if i == 0 && !theirs_xf.is_empty() {
            xf_map.push(0);
            continue;
        }
        let num: u32 = attr(&item.start, "numFmtId").and_then(|s| s.parse().ok()).unwrap_or(0);
        let num = num_map.iter().find(|(from, _)| *from == num).map(|(_, to)| *to).unwrap_or(num);
        let ser = item.serialized(&[
            ("numFmtId", num.to_string()),
            ("fontId", look(&maps[0], attr(&item.start, "fontId"))),
            ("fillId", look(&maps[1], attr(&item.start, "fillId"))),
            ("borderId", look(&maps[2], attr(&item.start, "borderId"))),
        ])?;
        let to = match theirs_xf.iter().chain(&added[4]).position(|s| *s == ser) {
            Some(p) => p as u32,
            None => {
                added[4].push(ser);
                (theirs_xf.len() + added[4].len() - 1) as u32
            }
        };
        xf_map.push(to);
    }

    let counts: Vec<usize> = (0..5).map(|l| t.lists[l].len()).collect();
    let xml = write_styles(theirs, &t.prefix, &added, &counts)?;
    Ok(MergedStyles { xml, xf_map })
}

/// `theirs` with `added[l]` appended to list `STYLE_LISTS[l]` and its count fixed.
fn write_styles(theirs: &[u8], prefix: &str, added: &[Vec<Vec<u8>>; 5], counts: &[usize]) -> Result<Vec<u8>> {
    let mut r = reader(theirs);
    let mut w = Writer::new(Vec::with_capacity(theirs.len() + 1024));
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut seen = [false; 5];
    let count = |l: usize| (counts[l] + added[l].len()).to_string();
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        let list = match &ev {
            Event::Start(e) | Event::Empty(e) if depth == 1 => {
                STYLE_LISTS.iter().position(|l| *l == local(e.name().0))
            }
            _ => None,
        };
        // A list the workbook lacks goes before the first list after it.
        if let (Event::Start(e) | Event::Empty(e), 1) = (&ev, depth) {
            let name = local(e.name().0);
            let after = ["fonts", "fills", "borders", "cellStyleXfs", "cellXfs"];
            if !seen[0] && !added[0].is_empty() && after.contains(&name) {
                seen[0] = true;
                let start = BytesStart::new(format!("{prefix}numFmts"))
                    .with_attributes([("count", count(0).as_str())]);
                write(&mut w, Event::Start(start.borrow()))?;
                for item in &added[0] {
                    w.get_mut().extend_from_slice(item);
                }
                write(&mut w, Event::End(start.to_end()))?;
            }
        }
        match (ev, list) {
            (Event::Start(e), Some(l)) => {
                seen[l] = true;
                depth += 1;
                write(&mut w, Event::Start(set_count(&e, &count(l))))?;
            }
            (Event::Empty(e), Some(l)) => {
                seen[l] = true;
                let start = set_count(&e, &count(l));
                write(&mut w, Event::Start(start.borrow()))?;
                for item in &added[l] {
                    w.get_mut().extend_from_slice(item);
                }
                write(&mut w, Event::End(start.to_end()))?;
            }
            (Event::Start(e), None) => {
                depth += 1;
                write(&mut w, Event::Start(e))?;
            }
            (Event::End(e), _) => {
                if depth == 2 {
                    if let Some(l) = STYLE_LISTS.iter().position(|l| *l == local(e.name().0)) {
                        for item in &added[l] {
                            w.get_mut().extend_from_slice(item);
                        }
                    }
                }
                depth = depth.saturating_sub(1);
                write(&mut w, Event::End(e))?;
            }
            (Event::Eof, _) => break,
            (ev, _) => write(&mut w, ev)?,
        }
        buf.clear();
    }
    if let Some(l) = (1..5).find(|&l| !seen[l] && !added[l].is_empty()) {
        return Err(format!("the style sheet has no <{}> list", STYLE_LISTS[l]));
    }
    Ok(w.into_inner())
}

fn set_count(e: &BytesStart<'_>, count: &str) -> BytesStart<'static> {
    set_attr(e, "count", count)
}

/// The strings of a shared-strings part, in order (rich text runs joined,
/// phonetic runs left out).
pub(crate) fn parse_shared_strings(xml: &[u8]) -> Result<Vec<String>> {
    let mut r = reader(xml);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut current = String::new();
    let (mut in_t, mut in_rph) = (false, false);
    loop {
        match r.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) => match local(e.name().0) {
                "si" => current.clear(),
                "t" => in_t = true,
                "rPh" => in_rph = true,
                _ => {}
            },
            Event::Empty(e) if local(e.name().0) == "si" => out.push(String::new()),
            Event::End(e) => match local(e.name().0) {
                "si" => out.push(std::mem::take(&mut current)),
                "t" => in_t = false,
                "rPh" => in_rph = false,
                _ => {}
            },
            Event::Text(t) if in_t && !in_rph => {
                current.push_str(&t.xml10_content());
            }
            Event::CData(t) if in_t && !in_rph => {
                current.push_str(&t);
            }
            Event::GeneralRef(g) if in_t && !in_rph => {
                current.push_str(&resolve_ref(&g).unwrap_or_default());
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// How a generated sheet is fitted into the workbook.
pub(crate) struct SheetFit<'a> {
    pub xf_map: &'a [u32],
    /// Shared strings of the generated workbook, written inline instead.
    pub strings: &'a [String],
    /// Keep `tabSelected` on the sheet view (the sheet replaced had it).
    pub selected: bool,
    /// A `<drawing r:id=…/>` to add (the replaced sheet's charts and pictures).
    pub drawing: Option<&'a str>,
}

/// Children of `<worksheet>` that come after `<drawing>` (ECMA-376 order).
const AFTER_DRAWING: &[&str] = &[
    "legacyDrawing",
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
];

/// Streams a sheet rust_xlsxwriter wrote into `out`, fitted to the
/// workbook: style indices remapped, shared strings made inline (the
/// workbook's shared-strings table stays as it was), the tab selected only
/// when the sheet it replaces was.
pub(crate) fn fit_sheet<R: BufRead, W: Write>(input: R, out: W, fit: &SheetFit<'_>) -> Result<()> {
    let mut r = reader(input);
    let mut w = Writer::new(out);
    let mut buf = Vec::new();
    // Inside a shared-string cell: its `<v>` text is the string's index.
    let mut shared_cell = false;
    let mut in_v = false;
    let mut index = String::new();
    // The start tag being rewritten, reused from cell to cell.
    let mut tag = String::new();
    let mut depth = 0usize;
    let mut root_prefix = String::new();
    let mut drawing = fit.drawing;
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = local(e.name().0);
                if depth == 1 && AFTER_DRAWING.contains(&name) {
                    add_drawing(&mut w, &mut drawing, &root_prefix)?;
                }
                if depth == 0 {
                    root_prefix = prefix_of(e.name().0);
                }
                if !empty {
                    depth += 1;
                }
                let style_key = match name {
                    "c" | "row" => "s",
                    "col" => "style",
                    "sheetView" if !fit.selected => {
                        let out = drop_attr(e, "tabSelected");
                        write(&mut w, if empty { Event::Empty(out) } else { Event::Start(out) })?;
                        buf.clear();
                        continue;
                    }
                    "v" if shared_cell && !empty => {
                        in_v = true;
                        index.clear();
                        buf.clear();
                        continue;
                    }
                    _ => {
                        write(&mut w, ev.borrow())?;
                        buf.clear();
                        continue;
                    }
                };
                // One pass over the attributes: the style index remapped, a
                // shared-string cell made inline, the rest as they were.
                tag.clear();
                tag.push_str(e.name().0);
                for a in e.attributes() {
                    let a = a.map_err(xml_err)?;
                    let key = a.key.0;
                    tag.push(' ');
                    tag.push_str(key);
                    tag.push_str("=\"");
                    if key == style_key {
                        let i: usize = a
                            .value
                            .parse()
                            .map_err(|_| format!("style index `{}` is not a number", a.value))?;
                        let to = fit
                            .xf_map
                            .get(i)
                            .ok_or_else(|| format!("style index {i} is not in the style sheet"))?;
                        tag.push_str(&to.to_string());
                    } else if name == "c" && key == "t" && a.value == "s" {
                        tag.push_str("inlineStr");
                        shared_cell = !empty;
                    } else {
                        tag.push_str(&a.value);
                    }
                    tag.push('"');
                }
                let out = BytesStart::from_content(tag.as_str(), e.name().0.len());
                write(&mut w, if empty { Event::Empty(out) } else { Event::Start(out) })?;
            }
            Event::Text(ref t) if in_v => index.push_str(t),
            Event::End(ref e) if in_v && local(e.name().0) == "v" => {
                in_v = false;
                depth = depth.saturating_sub(1);
                let i: usize = index
                    .trim()
                    .parse()
                    .map_err(|_| format!("shared string index `{index}` is not a number"))?;
                let s = fit.strings.get(i).ok_or_else(|| format!("shared string {i} does not exist"))?;
                let is = BytesStart::new(prefixed(e.name().as_ref(), "is"));
                let t = BytesStart::new(prefixed(e.name().as_ref(), "t"))
                    .with_attributes([("xml:space", "preserve")]);
                write(&mut w, Event::Start(is.borrow()))?;
                write(&mut w, Event::Start(t.borrow()))?;
                write(&mut w, Event::Text(BytesText::new(s)))?;
                write(&mut w, Event::End(t.to_end()))?;
                write(&mut w, Event::End(is.to_end()))?;
            }
            Event::End(ref e) => {
                if local(e.name().0) == "c" {
                    shared_cell = false;
                }
                if depth == 1 {
                    add_drawing(&mut w, &mut drawing, &root_prefix)?;
                }
                depth = depth.saturating_sub(1);
                write(&mut w, ev.borrow())?;
            }
            Event::Eof => break,
            _ => write(&mut w, ev.borrow())?,
        }
        buf.clear();
    }
    w.into_inner().flush().map_err(|e| format!("cannot write the sheet: {e}"))
}

/// Writes `<drawing r:id="…"/>` once.
fn add_drawing<W: Write>(w: &mut Writer<W>, drawing: &mut Option<&str>, prefix: &str) -> Result<()> {
    if let Some(id) = drawing.take() {
        let e = BytesStart::new(format!("{prefix}drawing")).with_attributes([(
            "xmlns:r",
            "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        )]);
        let e = e.with_attributes([("r:id", id)]);
        write(w, Event::Empty(e))?;
    }
    Ok(())
}

fn prefixed(like: &str, name: &str) -> String {
    format!("{}{name}", prefix_of(like))
}

/// Whether the sheet's (first) view is its workbook's selected tab. Reads
/// only up to `<sheetData>`.
pub(crate) fn sheet_is_selected<R: BufRead>(input: R) -> Result<bool> {
    let mut r = reader(input);
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).map_err(xml_err)? {
            Event::Start(e) | Event::Empty(e) => match local(e.name().0) {
                "sheetView" => return Ok(attr(&e, "tabSelected").is_some_and(|v| v == "1" || v == "true")),
                "sheetData" => return Ok(false),
                _ => {}
            },
            Event::Eof => return Ok(false),
            _ => {}
        }
        buf.clear();
    }
}

/// `'Orders'!$A$1:$C$10` for a sheet name and range.
pub(crate) fn sheet_ref(sheet: &str, range: &str) -> String {
    format!("'{}'!{range}", sheet.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap_or_default()
    }

    #[test]
    fn names_and_calc_settings_are_added_in_schema_order_with_the_workbooks_prefix() {
        let xml = br#"<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:rel="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><x:sheets><x:sheet name="A" sheetId="3" rel:id="rId1"/></x:sheets><x:extLst><x:ext uri="u"/></x:extLst></x:workbook>"#;
        let info = parse_workbook(xml).unwrap();
        assert_eq!((info.sheet_tag.as_str(), info.rid_attr.as_str()), ("x:sheet", "rel:id"));
        let edit = WorkbookEdit {
            add_sheets: vec![("B & C".into(), 4, "rId9".into(), true)],
            filter: Some((1, sheet_ref("B & C", "$A$1:$B$2"))),
        };
        let out = text(edit_workbook(xml, &info, &edit).unwrap());
        assert_eq!(
            out,
            r#"<x:workbook xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:rel="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><x:sheets><x:sheet name="A" sheetId="3" rel:id="rId1"/><x:sheet name="B &amp; C" sheetId="4" state="hidden" rel:id="rId9"/></x:sheets><x:definedNames><x:definedName name="_xlnm._FilterDatabase" localSheetId="1" hidden="1">'B &amp; C'!$A$1:$B$2</x:definedName></x:definedNames><x:calcPr fullCalcOnLoad="1"/><x:extLst><x:ext uri="u"/></x:extLst></x:workbook>"#
        );
    }

    #[test]
    fn an_old_filter_name_of_the_sheet_is_replaced_and_others_kept() {
        let xml = br#"<workbook><sheets><sheet name="A" sheetId="1" r:id="rId1"/><sheet name="B" sheetId="2" r:id="rId2"/></sheets><definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">A!$A$1:$C$9</definedName><definedName name="_xlnm._FilterDatabase" localSheetId="1" hidden="1">B!$A$1:$A$2</definedName><definedName name="Rate">A!$B$2</definedName></definedNames><calcPr calcId="1"/></workbook>"#;
        let info = parse_workbook(xml).unwrap();
        let edit = WorkbookEdit { add_sheets: vec![], filter: Some((0, sheet_ref("A", "$A$1:$D$3"))) };
        let out = text(edit_workbook(xml, &info, &edit).unwrap());
        assert!(!out.contains("$C$9"), "{out}");
        assert!(out.contains(r#"localSheetId="1" hidden="1">B!$A$1:$A$2<"#), "{out}");
        assert!(out.contains(r#"<definedName name="Rate">A!$B$2</definedName><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'A'!$A$1:$D$3</definedName></definedNames><calcPr calcId="1" fullCalcOnLoad="1"/>"#), "{out}");
    }

    #[test]
    fn styles_are_appended_and_a_missing_number_format_list_is_created() {
        let theirs = br#"<styleSheet><fonts count="1"><font><sz val="10"/><name val="Arial"/></font></fonts><fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs></styleSheet>"#;
        let ours = br#"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="0.00"/></numFmts><fonts count="2"><font><sz val="11"/></font><font><b/><sz val="11"/></font></fonts><fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/></border></borders><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs></styleSheet>"#;
        let merged = merge_styles(theirs, ours).unwrap();
        assert_eq!(merged.xf_map, vec![0, 2, 3]);
        let out = text(merged.xml.clone());
        assert!(out.starts_with(r#"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="0.00"/></numFmts><fonts count="2"><font><sz val="10"/><name val="Arial"/></font><font><b/><sz val="11"/></font></fonts>"#), "{out}");
        assert!(out.contains(r#"<cellXfs count="4">"#), "{out}");
        assert!(out.contains(r#"<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>"#), "{out}");
        // Merging again into the result adds nothing.
        let again = merge_styles(&merged.xml, ours).unwrap();
        assert_eq!((text(again.xml), again.xf_map), (out, vec![0, 2, 3]));
    }

    #[test]
    fn shared_strings_become_inline_and_styles_are_remapped() {
        let sheet = br#"<worksheet><sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews><cols><col min="1" max="1" style="1"/></cols><sheetData><row r="1"><c r="A1" s="1" t="s"><v>1</v></c><c r="B1" s="2"><v>1.5</v></c></row></sheetData></worksheet>"#;
        let strings = vec!["a".to_owned(), "x < y & \"z\"".to_owned()];
        let mut out = Vec::new();
        let fit = SheetFit { xf_map: &[0, 7, 9], strings: &strings, selected: false, drawing: None };
        fit_sheet(&sheet[..], &mut out, &fit).unwrap();
        assert_eq!(
            text(out),
            r#"<worksheet><sheetViews><sheetView workbookViewId="0"/></sheetViews><cols><col min="1" max="1" style="7"/></cols><sheetData><row r="1"><c r="A1" s="7" t="inlineStr"><is><t xml:space="preserve">x &lt; y &amp; &quot;z&quot;</t></is></c><c r="B1" s="9"><v>1.5</v></c></row></sheetData></worksheet>"#
        );
        assert_eq!(parse_shared_strings(br#"<sst><si><t>a&amp;b</t></si><si><r><t>c</t></r><r><t xml:space="preserve"> d</t></r><rPh><t>x</t></rPh></si><si/></sst>"#).unwrap(), ["a&b", "c d", ""]);
    }

    #[test]
    fn a_kept_drawing_goes_before_the_elements_that_follow_it() {
        let sheet = br#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData><pageMargins left="0.7"/><tableParts count="0"/></worksheet>"#;
        let strings = vec!["a".to_owned()];
        let mut out = Vec::new();
        let fit = SheetFit { xf_map: &[0], strings: &strings, selected: false, drawing: Some("rId3") };
        fit_sheet(&sheet[..], &mut out, &fit).unwrap();
        let out = text(out);
        assert!(out.ends_with(r#"<pageMargins left="0.7"/><drawing xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId3"/><tableParts count="0"/></worksheet>"#), "{out}");
        let mut out = Vec::new();
        fit_sheet(&br#"<worksheet><sheetData/></worksheet>"#[..], &mut out, &fit).unwrap();
        assert!(text(out).ends_with(r#"r:id="rId3"/></worksheet>"#));
    }

    #[test]
    fn relationship_targets_resolve_like_a_package_reader() {
        assert_eq!(resolve("xl/workbook.xml", "worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(resolve("xl/workbook.xml", "/xl/worksheets/sheet1.xml"), "xl/worksheets/sheet1.xml");
        assert_eq!(
            resolve("xl/worksheets/sheet1.xml", "../drawings/drawing1.xml"),
            "xl/drawings/drawing1.xml"
        );
        assert_eq!(resolve("", "xl/workbook.xml"), "xl/workbook.xml");
        assert_eq!(relative("xl/workbook.xml", "xl/worksheets/sheet4.xml"), "worksheets/sheet4.xml");
        assert_eq!(rels_of("xl/worksheets/sheet2.xml"), "xl/worksheets/_rels/sheet2.xml.rels");
    }
}
