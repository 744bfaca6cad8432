//! A small formula evaluator: arithmetic, comparison, `&`, cell and range
//! references (also to other sheets), and a handful of functions (SUM,
//! AVERAGE, MIN, MAX, COUNT, COUNTA, IF, AND, OR, NOT, ABS, ROUND, LEN,
//! UPPER, LOWER, CONCATENATE). Anything else evaluates to `#NAME?`.
//! Formulas are evaluated when read, so they always see current values.

use super::a1;
use super::cell::Value;
use super::model::Spreadsheet;

const MAX_DEPTH: u32 = 64;

/// The value of `formula` (with its leading `=`) in sheet `sheet`.
pub fn evaluate(ss: &Spreadsheet, sheet: usize, formula: &str) -> Value {
    evaluate_at(ss, sheet, formula, 0)
}

fn evaluate_at(ss: &Spreadsheet, sheet: usize, formula: &str, depth: u32) -> Value {
    if depth > MAX_DEPTH {
        return err("#REF!");
    }
    let text = formula.strip_prefix('=').unwrap_or(formula);
    let tokens = match tokenize(text) {
        Some(t) => t,
        None => return err("#ERROR!"),
    };
    if nesting_too_deep(&tokens) {
        return err("#ERROR!");
    }
    let mut p = Parser { tokens, pos: 0, ss, sheet, depth };
    let result = p.expr();
    if p.pos != p.tokens.len() {
        return err("#ERROR!");
    }
    match result {
        Item::One(v) => v,
        Item::Many(vs) => vs.into_iter().next().unwrap_or(Value::Empty),
    }
}

/// Parentheses and signs nest the parser's recursion; a formula (up to
/// 50,000 characters) could otherwise exhaust the stack.
fn nesting_too_deep(tokens: &[Tok]) -> bool {
    let mut depth = 0i32;
    let mut signs = 0;
    for t in tokens {
        match t {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            Tok::Op("-" | "+") => signs += 1,
            _ => signs = 0,
        }
        if depth > 200 || signs > 200 {
            return true;
        }
    }
    false
}

fn err(code: &str) -> Value {
    Value::Error(code.into())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    /// A reference, name or function name, as written.
    Word(String),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' | ';' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            s.push('"');
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                    let mut j = i + 1;
                    if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                        j += 1;
                    }
                    if j < chars.len() && chars[j].is_ascii_digit() {
                        i = j;
                        while i < chars.len() && chars[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                let s: String = chars[start..i].iter().collect();
                out.push(Tok::Num(s.parse().ok()?));
            }
            '+' | '-' | '*' | '/' | '^' | '&' | '%' | '=' => {
                out.push(Tok::Op(match c {
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    '^' => "^",
                    '&' => "&",
                    '%' => "%",
                    _ => "=",
                }));
                i += 1;
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let op = match (c, next) {
                    ('<', Some('=')) => "<=",
                    ('<', Some('>')) => "<>",
                    ('>', Some('=')) => ">=",
                    ('<', _) => "<",
                    _ => ">",
                };
                i += op.len();
                out.push(Tok::Op(op));
            }
            '\'' => {
                // A quoted sheet name, then `!` and the cells.
                let start = i;
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return None,
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$' | '!' | ':' | '.')
}

enum Item {
    One(Value),
    Many(Vec<Value>),
}

impl Item {
    fn value(self) -> Value {
        match self {
            Item::One(v) => v,
            Item::Many(vs) => vs.into_iter().next().unwrap_or(Value::Empty),
        }
    }
}

struct Parser<'a> {
    tokens: Vec<Tok>,
    pos: usize,
    ss: &'a Spreadsheet,
    sheet: usize,
    depth: u32,
}

fn number(v: &Value) -> Result<f64, Value> {
    match v {
        Value::Empty => Ok(0.0),
        Value::Number(n) => Ok(*n),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Text(s) => s.trim().parse().map_err(|_| err("#VALUE!")),
        Value::Error(_) => Err(v.clone()),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Empty => String::new(),
        Value::Number(n) => super::cell::general(*n),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Text(s) | Value::Error(s) => s.to_string(),
    }
}

fn truthy(v: &Value) -> Result<bool, Value> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Text(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::Text(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => number(other).map(|n| n != 0.0),
    }
}

fn arith(a: &Value, b: &Value, f: impl Fn(f64, f64) -> Value) -> Value {
    match (number(a), number(b)) {
        (Ok(x), Ok(y)) => f(x, y),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

fn finite(n: f64) -> Value {
    if n.is_finite() {
        Value::Number(n)
    } else {
        err("#NUM!")
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn eat_op(&mut self, ops: &[&str]) -> Option<&'static str> {
        if let Some(Tok::Op(op)) = self.peek() {
            if ops.contains(op) {
                let op = *op;
                self.pos += 1;
                return Some(op);
            }
        }
        None
    }

    fn expr(&mut self) -> Item {
        let mut left = self.concat();
        while let Some(op) = self.eat_op(&["=", "<>", "<", ">", "<=", ">="]) {
            let a = left.value();
            let b = self.concat().value();
            let ord = match (&a, &b) {
                (Value::Text(x), Value::Text(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
                _ => match (number(&a), number(&b)) {
                    (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                    _ => text(&a).cmp(&text(&b)),
                },
            };
            use std::cmp::Ordering::*;
            let r = match op {
                "=" => ord == Equal,
                "<>" => ord != Equal,
                "<" => ord == Less,
                ">" => ord == Greater,
                "<=" => ord != Greater,
                _ => ord != Less,
            };
            left = Item::One(Value::Bool(r));
        }
        left
    }

    fn concat(&mut self) -> Item {
        let mut left = self.additive();
        while self.eat_op(&["&"]).is_some() {
            let a = left.value();
            let b = self.additive().value();
            left = Item::One(Value::Text(format!("{}{}", text(&a), text(&b)).into()));
        }
        left
    }

    fn additive(&mut self) -> Item {
        let mut left = self.term();
        while let Some(op) = self.eat_op(&["+", "-"]) {
            let a = left.value();
            let b = self.term().value();
            left = Item::One(arith(&a, &b, |x, y| finite(if op == "+" { x + y } else { x - y })));
        }
        left
    }

    fn term(&mut self) -> Item {
        let mut left = self.power();
        while let Some(op) = self.eat_op(&["*", "/"]) {
            let a = left.value();
            let b = self.power().value();
            left = Item::One(arith(&a, &b, |x, y| {
                if op == "*" {
                    finite(x * y)
                } else if y == 0.0 {
                    err("#DIV/0!")
                } else {
                    finite(x / y)
                }
            }));
        }
        left
    }

    fn power(&mut self) -> Item {
        let mut left = self.unary();
        while self.eat_op(&["^"]).is_some() {
            let a = left.value();
            let b = self.unary().value();
            left = Item::One(arith(&a, &b, |x, y| finite(x.powf(y))));
        }
        left
    }

    fn unary(&mut self) -> Item {
        if let Some(op) = self.eat_op(&["-", "+"]) {
            let v = self.unary().value();
            return Item::One(match number(&v) {
                Ok(n) => Value::Number(if op == "-" { -n } else { n }),
                Err(e) => e,
            });
        }
        let mut item = self.primary();
        while self.eat_op(&["%"]).is_some() {
            let v = item.value();
            item = Item::One(match number(&v) {
                Ok(n) => Value::Number(n / 100.0),
                Err(e) => e,
            });
        }
        item
    }

    fn primary(&mut self) -> Item {
        let Some(tok) = self.peek().cloned() else { return Item::One(err("#ERROR!")) };
        self.pos += 1;
        match tok {
            Tok::Num(n) => Item::One(Value::Number(n)),
            Tok::Str(s) => Item::One(Value::Text(s.into())),
            Tok::LParen => {
                let v = self.expr();
                if self.peek() == Some(&Tok::RParen) {
                    self.pos += 1;
                    v
                } else {
                    self.pos = self.tokens.len() + 1;
                    Item::One(err("#ERROR!"))
                }
            }
            Tok::Word(w) => {
                if self.peek() == Some(&Tok::LParen) {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if self.peek() == Some(&Tok::RParen) {
                        self.pos += 1;
                    } else {
                        loop {
                            args.push(self.expr());
                            match self.peek() {
                                Some(Tok::Comma) => self.pos += 1,
                                Some(Tok::RParen) => {
                                    self.pos += 1;
                                    break;
                                }
                                _ => {
                                    self.pos = self.tokens.len() + 1;
                                    return Item::One(err("#ERROR!"));
                                }
                            }
                        }
                    }
                    return Item::One(call(&w, args));
                }
                if w.eq_ignore_ascii_case("TRUE") {
                    return Item::One(Value::Bool(true));
                }
                if w.eq_ignore_ascii_case("FALSE") {
                    return Item::One(Value::Bool(false));
                }
                self.reference(&w)
            }
            _ => {
                self.pos = self.tokens.len() + 1;
                Item::One(err("#ERROR!"))
            }
        }
    }

    fn reference(&self, word: &str) -> Item {
        let clean: String = word.chars().filter(|c| *c != '$').collect();
        let Some(parsed) = a1::parse(&clean) else { return Item::One(err("#REF!")) };
        let sheet = match &parsed.sheet {
            Some(name) => match self.ss.sheet_index_by_title(name) {
                Some(i) => i,
                None => return Item::One(err("#REF!")),
            },
            None => self.sheet,
        };
        let Some(cells) = parsed.cells else {
            if let Some(nr) =
                parsed.name.as_ref().and_then(|n| self.ss.named_ranges.iter().find(|r| &r.name == n))
            {
                if let Some(si) = self.ss.sheet_index_by_id(i64::from(nr.sheet_id)) {
                    return Item::Many(self.values(si, nr.rect.r0, nr.rect.r1, nr.rect.c0, nr.rect.c1));
                }
            }
            return Item::One(err("#NAME?"));
        };
        let s = &self.ss.sheets[sheet];
        let r0 = cells.start.row.unwrap_or(0).min(cells.end.row.unwrap_or(u32::MAX));
        let r1 = cells.start.row.unwrap_or(0).max(cells.end.row.unwrap_or(s.row_count.saturating_sub(1))) + 1;
        let c0 = cells.start.col.unwrap_or(0).min(cells.end.col.unwrap_or(u32::MAX));
        let c1 = cells.start.col.unwrap_or(0).max(cells.end.col.unwrap_or(s.col_count.saturating_sub(1))) + 1;
        if cells.start == cells.end {
            return Item::One(self.value_at(sheet, r0, c0));
        }
        Item::Many(self.values(sheet, r0, r1, c0, c1))
    }

    fn values(&self, sheet: usize, r0: u32, r1: u32, c0: u32, c1: u32) -> Vec<Value> {
        let s = &self.ss.sheets[sheet];
        let r1 = r1.min(s.grid.len());
        let mut out = Vec::new();
        for r in r0..r1 {
            let row = s.grid.row(r);
            let end = c1.min(row.len() as u32);
            for c in c0..end {
                out.push(self.value_at(sheet, r, c));
            }
        }
        out
    }

    fn value_at(&self, sheet: usize, r: u32, c: u32) -> Value {
        match self.ss.sheets[sheet].grid.get(r, c) {
            None => Value::Empty,
            Some(cell) => match cell.formula() {
                Some(f) => evaluate_at(self.ss, sheet, f, self.depth + 1),
                None => cell.value.clone(),
            },
        }
    }
}

fn flat(args: Vec<Item>) -> Vec<(Value, bool)> {
    // (value, came from a reference)
    let mut out = Vec::new();
    for a in args {
        match a {
            Item::One(v) => out.push((v, false)),
            Item::Many(vs) => out.extend(vs.into_iter().map(|v| (v, true))),
        }
    }
    out
}

fn numbers(args: Vec<Item>) -> Result<Vec<f64>, Value> {
    let mut out = Vec::new();
    for (v, from_ref) in flat(args) {
        match v {
            Value::Number(n) => out.push(n),
            Value::Error(_) => return Err(v),
            Value::Empty => {}
            other if !from_ref => out.push(number(&other)?),
            _ => {}
        }
    }
    Ok(out)
}

fn call(name: &str, args: Vec<Item>) -> Value {
    let upper = name.to_ascii_uppercase();
    let result = (|| -> Result<Value, Value> {
        Ok(match upper.as_str() {
            "SUM" => Value::Number(numbers(args)?.iter().sum()),
            "AVERAGE" => {
                let n = numbers(args)?;
                if n.is_empty() {
                    return Err(err("#DIV/0!"));
                }
                Value::Number(n.iter().sum::<f64>() / n.len() as f64)
            }
            "MIN" => Value::Number(numbers(args)?.into_iter().reduce(f64::min).unwrap_or(0.0)),
            "MAX" => Value::Number(numbers(args)?.into_iter().reduce(f64::max).unwrap_or(0.0)),
            "COUNT" => {
                Value::Number(flat(args).iter().filter(|(v, _)| matches!(v, Value::Number(_))).count() as f64)
            }
            "COUNTA" => {
                Value::Number(flat(args).iter().filter(|(v, _)| !matches!(v, Value::Empty)).count() as f64)
            }
            "CONCATENATE" | "CONCAT" => {
                Value::Text(flat(args).iter().map(|(v, _)| text(v)).collect::<String>().into())
            }
            "IF" => {
                let mut it = args.into_iter();
                let cond = it.next().map(Item::value).unwrap_or_default();
                let yes = it.next().map(Item::value).unwrap_or(Value::Bool(true));
                let no = it.next().map(Item::value).unwrap_or(Value::Bool(false));
                if truthy(&cond)? {
                    yes
                } else {
                    no
                }
            }
            "AND" => {
                let mut all = true;
                for (v, _) in flat(args) {
                    all &= truthy(&v)?;
                }
                Value::Bool(all)
            }
            "OR" => {
                let mut any = false;
                for (v, _) in flat(args) {
                    any |= truthy(&v)?;
                }
                Value::Bool(any)
            }
            "NOT" => Value::Bool(!truthy(&args.into_iter().next().map(Item::value).unwrap_or_default())?),
            "ABS" => {
                Value::Number(number(&args.into_iter().next().map(Item::value).unwrap_or_default())?.abs())
            }
            "ROUND" => {
                let mut it = args.into_iter();
                let x = number(&it.next().map(Item::value).unwrap_or_default())?;
                let d = number(&it.next().map(Item::value).unwrap_or_default())?;
                let f = 10f64.powi(d as i32);
                Value::Number((x * f).round() / f)
            }
            "LEN" => Value::Number(
                text(&args.into_iter().next().map(Item::value).unwrap_or_default()).chars().count() as f64,
            ),
            "UPPER" => Value::Text(
                text(&args.into_iter().next().map(Item::value).unwrap_or_default()).to_uppercase().into(),
            ),
            "LOWER" => Value::Text(
                text(&args.into_iter().next().map(Item::value).unwrap_or_default()).to_lowercase().into(),
            ),
            _ => err("#NAME?"),
        })
    })();
    result.unwrap_or_else(|e| e)
}

/// One corner of a reference as written: `$A$1`, `B`, `$3`.
struct RefCorner {
    col: Option<(bool, u32)>,
    row: Option<(bool, u32)>,
}

fn parse_ref_corner(text: &str) -> Option<RefCorner> {
    let b = text.as_bytes();
    let mut i = 0;
    let col_abs = b.get(i) == Some(&b'$');
    if col_abs {
        i += 1;
    }
    let start = i;
    let mut col: u64 = 0;
    while i < b.len() && b[i].is_ascii_alphabetic() {
        col = col * 26 + u64::from(b[i].to_ascii_uppercase() - b'A' + 1);
        if col > 18_278 {
            return None;
        }
        i += 1;
    }
    let has_col = i > start;
    // `$5`: with no column, the `$` marks the row.
    let row_abs = (col_abs && !has_col) || b.get(i) == Some(&b'$');
    if b.get(i) == Some(&b'$') {
        i += 1;
    }
    let start = i;
    let mut row: u64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        row = row * 10 + u64::from(b[i] - b'0');
        if row > 100_000_000 {
            return None;
        }
        i += 1;
    }
    let has_row = i > start;
    if i != b.len() || (!has_col && !has_row) || (has_row && row == 0) {
        return None;
    }
    Some(RefCorner {
        col: has_col.then(|| (col_abs, (col - 1) as u32)),
        row: has_row.then(|| (row_abs, (row - 1) as u32)),
    })
}

fn write_ref_corner(c: &RefCorner) -> String {
    let mut out = String::new();
    if let Some((abs, col)) = c.col {
        if abs {
            out.push('$');
        }
        out.push_str(&a1::column_name(col));
    }
    if let Some((abs, row)) = c.row {
        if abs {
            out.push('$');
        }
        out.push_str(&(row + 1).to_string());
    }
    out
}

/// A structural change to one sheet: rows or columns inserted (`delta` > 0)
/// or deleted (`delta` < 0) at `at`.
#[derive(Debug, Clone, Copy)]
pub struct Shift {
    pub rows: bool,
    pub at: u32,
    pub delta: i64,
}

/// Moves a [start, end] (inclusive) span; `None` when all of it was deleted.
fn shift_inclusive(a: u32, b: u32, s: &Shift) -> Option<(u32, u32)> {
    if s.delta >= 0 {
        let d = s.delta as u32;
        let move_one = |x: u32| if x >= s.at { x + d } else { x };
        return Some((move_one(a), move_one(b)));
    }
    let n = (-s.delta) as u32;
    let end = s.at + n; // first index after the deleted block
    let na = if a < s.at {
        a
    } else if a >= end {
        a - n
    } else {
        s.at
    };
    let nb = if b < s.at {
        b
    } else if b >= end {
        b - n
    } else {
        s.at.checked_sub(1)?
    };
    if (a >= s.at && b < end) || nb < na {
        return None;
    }
    Some((na, nb))
}

/// Rewrites the references of a formula (on sheet `own`) that point into
/// sheet `target`, as Google does when rows or columns move; a reference to
/// cells that were deleted becomes `#REF!`.
pub fn shift_references(formula: &str, own: &str, target: &str, shift: &Shift) -> String {
    let chars: Vec<char> = formula.chars().collect();
    let mut out = String::with_capacity(formula.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            // A string literal, copied as is.
            out.push(c);
            i += 1;
            while i < chars.len() {
                out.push(chars[i]);
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        out.push('"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            continue;
        }
        if c == '\'' || is_word_char(c) {
            let start = i;
            if c == '\'' {
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let is_call = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
            out.push_str(&if is_call { word } else { shift_word(&word, own, target, shift) });
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn shift_word(word: &str, own: &str, target: &str, shift: &Shift) -> String {
    let (sheet_part, cells) = match word.rfind('!') {
        Some(pos) => (Some(&word[..pos]), &word[pos + 1..]),
        None => (None, word),
    };
    let sheet = match sheet_part {
        Some(p) => match p.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')) {
            Some(q) => q.replace("''", "'"),
            None => p.to_owned(),
        },
        None => own.to_owned(),
    };
    if !sheet.eq_ignore_ascii_case(target) {
        return word.to_owned();
    }
    let (a, b) = match cells.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (cells, None),
    };
    let Some(mut first) = parse_ref_corner(a) else { return word.to_owned() };
    let mut second = match b {
        Some(b) => match parse_ref_corner(b) {
            Some(c) => Some(c),
            None => return word.to_owned(),
        },
        None => None,
    };
    if b.is_none() && (first.col.is_none() || first.row.is_none()) {
        return word.to_owned(); // a name such as `A` or `TRUE`-like text, not a cell
    }
    let pick = |c: &RefCorner| if shift.rows { c.row } else { c.col };
    let (Some(pa), pb) = (pick(&first), second.as_ref().map(pick)) else {
        // A whole-column range when rows move (or the reverse): unchanged.
        return word.to_owned();
    };
    let pb = pb.flatten().unwrap_or(pa);
    let Some((na, nb)) = shift_inclusive(pa.1, pb.1, shift) else {
        return "#REF!".to_owned();
    };
    let set = |c: &mut RefCorner, v: u32| {
        let slot = if shift.rows { &mut c.row } else { &mut c.col };
        if let Some((abs, _)) = *slot {
            *slot = Some((abs, v));
        }
    };
    set(&mut first, na);
    if let Some(sc) = second.as_mut() {
        set(sc, nb);
    }
    let mut text = String::new();
    if let Some(p) = sheet_part {
        text.push_str(p);
        text.push('!');
    }
    text.push_str(&write_ref_corner(&first));
    if let Some(sc) = second {
        text.push(':');
        text.push_str(&write_ref_corner(&sc));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_inserted_and_deleted_rows() {
        let ins = Shift { rows: true, at: 2, delta: 3 };
        assert_eq!(shift_references("=SUM(A1:A5)+$B$4*\"A9\"", "S", "S", &ins), "=SUM(A1:A8)+$B$7*\"A9\"");
        assert_eq!(shift_references("=Other!A5+A5", "S", "Other", &ins), "=Other!A8+A5");
        assert_eq!(shift_references("='My Tab'!C3", "S", "My Tab", &ins), "='My Tab'!C6");
        let del = Shift { rows: true, at: 1, delta: -2 };
        assert_eq!(shift_references("=A2", "S", "S", &del), "=#REF!");
        assert_eq!(shift_references("=A1:A5", "S", "S", &del), "=A1:A3");
        assert_eq!(shift_references("=A:A", "S", "S", &del), "=A:A");
        let cols = Shift { rows: false, at: 0, delta: 1 };
        assert_eq!(shift_references("=ROUND(B2,2)", "S", "S", &cols), "=ROUND(C2,2)");
    }
}
