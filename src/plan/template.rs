//! Hive's SyncSet templates (HIVE-COMPAT.md §1.6): Go `text/template`, executed with a nil data object, with one
//! custom function `fromCDLabel "<key>"` that returns the ClusterDeployment's label value (or `""`).
//!
//! This is a small self-contained re-implementation of Go's `text/template` (lexer → parser → evaluator), ported
//! from the Go 1.2x sources so that output and error messages match what Hive produces. Hive names its template
//! `cdParams` (`templateForCD` in `pkg/controller/clustersync/templates.go`), so every error reads like
//! `template: cdParams:1:3: executing "cdParams" at <fromCDLabel>: wrong number of args for fromCDLabel: want 1 got 0`.
//!
//! Supported: text, comments `{{/* */}}`, trim markers `{{-`/`-}}`, pipelines, parenthesised pipelines, string
//! (interpreted and raw), character, integer and float literals, `true`/`false`/`nil`, `.` (always nil here),
//! variables (`$x := ...`, `$x = ...`, `$`), `if`/`else if`/`else`/`end`, `with`/`else with`, `range` (over integers,
//! Go 1.22+, and nil) with `break`/`continue`, `define`/`template`/`block`, and every Go builtin: `and call html index
//! slice js len not or print printf println urlquery eq ge gt le lt ne`, plus `fromCDLabel`. `printf` follows Go's
//! `fmt` (flags, width, precision, `[n]` argument indexes, `%!v(MISSING)`-style errors).
//!
//! Not supported: complex-number literals (a parse error here). Guard rails Go does not have: nesting deeper than
//! 100 levels fails to parse, and execution is capped in steps, template-call depth and output size.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde_json::Value as Json;

/// The name Hive gives its template (`template.New("cdParams")`); it appears in every error message.
const TEMPLATE_NAME: &str = "cdParams";
/// Maximum nesting of control structures and parentheses (Go allows 10000 parentheses; we keep the stack small).
const MAX_NESTING: usize = 100;
/// Maximum depth of `{{template}}` calls plus control structures at execution time.
const MAX_EXEC_DEPTH: usize = 200;
/// Maximum number of executed actions/commands per string.
const MAX_STEPS: u64 = 1_000_000;
/// Maximum output (and `printf` result) size per string.
const MAX_OUTPUT: usize = 4 << 20;

/// A template failed to parse or to execute. The message is Go's `text/template` error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `template.Parse` failed, e.g. `template: cdParams:1: function "foo" not defined`.
    Parse(String),
    /// `Template.Execute` failed, e.g. `template: cdParams:1:3: executing "cdParams" at <...>: ...`.
    Exec(String),
}

impl TemplateError {
    /// The Go error text.
    pub fn message(&self) -> &str {
        match self {
            TemplateError::Parse(m) | TemplateError::Exec(m) => m,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for TemplateError {}

/// Renders one template string with `fromCDLabel` reading `labels`. The data object ("dot") is nil, so `{{ . }}`
/// prints `<no value>` and never exposes the labels. Strings without `{{` are returned unchanged.
pub fn render(template: &str, labels: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    if !template.contains("{{") {
        return Ok(template.to_owned());
    }
    let trees = parse(template).map_err(TemplateError::Parse)?;
    execute(template, &trees, labels).map_err(TemplateError::Exec)
}

/// Hive's resource templating (`processResourceParameters`): every *string value* in the JSON tree (recursively
/// through maps and lists, including `apiVersion`, `kind` and `metadata`) is parsed and executed as a template.
/// Map keys are never templated, empty strings and non-string values are left alone.
///
/// The error is Hive's: `Failed to apply template to value <%#v of the top-level field's value>: failed to parse
/// template string "<s>": <Go error>` (or `failed to execute template on string ...`). As in Hive, the `%#v` value
/// shows the strings already rendered before the failing one (Hive's map order is random; ours is sorted by key).
/// The caller adds `failed to parameterize resource <i>: `.
pub fn render_value(value: &Json, labels: &BTreeMap<String, String>) -> Result<Json, String> {
    let mut out = value.clone();
    match &mut out {
        Json::Object(map) => {
            for key in sorted_keys(map) {
                if let Some(v) = map.get_mut(&key) {
                    if let Err(e) = apply_in_place(v, labels) {
                        return Err(format!(
                            "Failed to apply template to value {}: {e}",
                            go_sharp_v(v, 0)
                        ));
                    }
                }
            }
        }
        other => {
            if let Err(e) = apply_in_place(other, labels) {
                return Err(format!(
                    "Failed to apply template to value {}: {e}",
                    go_sharp_v(other, 0)
                ));
            }
        }
    }
    Ok(out)
}

/// Hive's patch templating (`processPatchParameters`): the whole patch string is rendered once. The error is Hive's
/// `failed to parse template string "<s>": ...` / `failed to execute template on string "<s>": ...`; the caller adds
/// `failed to parameterize patch <i>: `.
pub fn render_patch(patch: &str, labels: &BTreeMap<String, String>) -> Result<String, String> {
    apply_to_string(patch, labels)
}

fn sorted_keys(map: &serde_json::Map<String, Json>) -> Vec<String> {
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    keys
}

/// Hive's `applyTemplate` for one string: empty strings are skipped, errors wrapped with the quoted string.
fn apply_to_string(s: &str, labels: &BTreeMap<String, String>) -> Result<String, String> {
    if s.is_empty() {
        return Ok(String::new());
    }
    render(s, labels).map_err(|e| match e {
        TemplateError::Parse(m) => format!("failed to parse template string {}: {m}", go_quote(s)),
        TemplateError::Exec(m) => {
            format!("failed to execute template on string {}: {m}", go_quote(s))
        }
    })
}

/// Renders strings in place, stopping at the first error (what was rendered before it stays rendered, like Hive).
fn apply_in_place(v: &mut Json, labels: &BTreeMap<String, String>) -> Result<(), String> {
    match v {
        Json::String(s) => {
            let rendered = apply_to_string(s, labels)?;
            *s = rendered;
        }
        Json::Array(items) => {
            for item in items.iter_mut() {
                apply_in_place(item, labels)?;
            }
        }
        Json::Object(map) => {
            for key in sorted_keys(map) {
                if let Some(x) = map.get_mut(&key) {
                    apply_in_place(x, labels)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Go's `%#v` of a value decoded into `unstructured` (int64, float64, string, bool, nil, slices, maps).
fn go_sharp_v(v: &Json, depth: usize) -> String {
    match v {
        Json::Null if depth == 0 => "<nil>".to_owned(),
        Json::Null => "interface {}(nil)".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => go_format_float(f, 'g', -1),
            (None, None) => n.to_string(),
        },
        Json::String(s) => go_quote(s),
        Json::Array(items) => {
            let inner: Vec<String> = items.iter().map(|x| go_sharp_v(x, depth + 1)).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Json::Object(map) => {
            let inner: Vec<String> = sorted_keys(map)
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        go_quote(k),
                        go_sharp_v(&map[k.as_str()], depth + 1)
                    )
                })
                .collect();
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Go string helpers (strconv.Quote, unicode.IsPrint, %#U)
// ---------------------------------------------------------------------------------------------------------------

/// Approximates Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
fn is_go_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let u = c as u32;
    let format_char = matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF
        | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F);
    let private_use = matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD);
    let non_character = (u & 0xFFFE) == 0xFFFE || (0xFDD0..=0xFDEF).contains(&u);
    !(format_char || private_use || non_character)
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";

fn push_escaped_rune(out: &mut String, r: char, quote: char, ascii_only: bool) {
    if r == quote || r == '\\' {
        out.push('\\');
        out.push(r);
        return;
    }
    if ascii_only {
        if r.is_ascii() && is_go_print(r) {
            out.push(r);
            return;
        }
    } else if is_go_print(r) {
        out.push(r);
        return;
    }
    match r {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ => {
            let u = r as u32;
            if u < 0x20 || u == 0x7f {
                out.push_str("\\x");
                out.push(LOWER_HEX[(u >> 4) as usize] as char);
                out.push(LOWER_HEX[(u & 0xF) as usize] as char);
            } else if u < 0x10000 {
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(LOWER_HEX[((u >> shift) & 0xF) as usize] as char);
                }
            } else {
                out.push_str("\\U");
                for shift in [28, 24, 20, 16, 12, 8, 4, 0] {
                    out.push(LOWER_HEX[((u >> shift) & 0xF) as usize] as char);
                }
            }
        }
    }
}

/// Go's `strconv.Quote` (and `QuoteToASCII` when `ascii_only`).
fn go_quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote` / `%q`.
fn go_quote(s: &str) -> String {
    go_quote_with(s, false)
}

/// Go's `strconv.QuoteRune` (and `QuoteRuneToASCII`).
fn go_quote_rune(r: char, ascii_only: bool) -> String {
    let mut out = String::from("'");
    push_escaped_rune(&mut out, r, '\'', ascii_only);
    out.push('\'');
    out
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}'))
}

/// Go's `%#U` of a rune (`U+00E9 'é'`).
fn go_sharp_u(c: char) -> String {
    let mut s = format!("U+{:04X}", c as u32);
    if is_go_print(c) {
        s.push_str(&format!(" '{c}'"));
    }
    s
}

fn truncate_runes(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `strconv.UnquoteChar`: one (possibly escaped) character from the start of `s`. Returns the code point (or raw
/// byte for `\x`/octal escapes, flagged by `false`), and the rest of the input.
fn unquote_char(s: &[u8], quote: u8) -> Result<(u32, bool, &[u8]), ()> {
    let Some(&c) = s.first() else { return Err(()) };
    if c == quote && (quote == b'\'' || quote == b'"') {
        return Err(());
    }
    if c >= 0x80 {
        let text = std::str::from_utf8(&s[..s.len().min(4)])
            .or_else(|e| std::str::from_utf8(&s[..e.valid_up_to()]))
            .map_err(|_| ())?;
        let ch = text.chars().next().ok_or(())?;
        return Ok((ch as u32, true, &s[ch.len_utf8()..]));
    }
    if c != b'\\' {
        return Ok((u32::from(c), false, &s[1..]));
    }
    let Some(&e) = s.get(1) else { return Err(()) };
    let rest = &s[2..];
    let simple = |v: u8| Ok((u32::from(v), false, rest));
    match e {
        b'a' => simple(7),
        b'b' => simple(8),
        b'f' => simple(12),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(11),
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            if rest.len() < n {
                return Err(());
            }
            let mut v: u32 = 0;
            for &h in &rest[..n] {
                let d = (h as char).to_digit(16).ok_or(())?;
                v = (v << 4) | d;
            }
            if e == b'x' {
                return Ok((v, false, &rest[n..]));
            }
            if char::from_u32(v).is_none() {
                return Err(());
            }
            Ok((v, true, &rest[n..]))
        }
        b'0'..=b'7' => {
            if rest.len() < 2 {
                return Err(());
            }
            let mut v = u32::from(e - b'0');
            for &d in &rest[..2] {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(());
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            if v > 255 {
                return Err(());
            }
            Ok((v, false, &rest[2..]))
        }
        b'\\' => simple(b'\\'),
        b'\'' | b'"' => {
            if e != quote {
                return Err(());
            }
            simple(e)
        }
        _ => Err(()),
    }
}

/// `strconv.Unquote` for `"..."` and `` `...` `` literals. Go strings are bytes; invalid UTF-8 (from `\x`/octal
/// escapes) is replaced with U+FFFD.
fn go_unquote(lit: &str) -> Result<String, String> {
    const SYNTAX: &str = "invalid syntax";
    let b = lit.as_bytes();
    if b.len() < 2 || b[0] != b[b.len() - 1] {
        return Err(SYNTAX.into());
    }
    let inner = &lit[1..lit.len() - 1];
    match b[0] {
        b'`' => {
            if inner.contains('`') {
                return Err(SYNTAX.into());
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(SYNTAX.into());
            }
            let mut rest = inner.as_bytes();
            let mut out: Vec<u8> = Vec::with_capacity(rest.len());
            while !rest.is_empty() {
                let (v, multibyte, tail) =
                    unquote_char(rest, b'"').map_err(|_| SYNTAX.to_string())?;
                if v < 0x80 || !multibyte {
                    out.push(v as u8);
                } else {
                    let ch = char::from_u32(v).unwrap_or('\u{FFFD}');
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
                rest = tail;
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        _ => Err(SYNTAX.into()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Lexer (text/template/parse/lex.go)
// ---------------------------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum T {
    Error,
    Bool,
    Char,
    CharConstant,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    Str,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl T {
    fn is_keyword(self) -> bool {
        matches!(
            self,
            T::Block
                | T::Break
                | T::Continue
                | T::Dot
                | T::Define
                | T::Else
                | T::End
                | T::If
                | T::Nil
                | T::Range
                | T::Template
                | T::With
        )
    }
}

fn keyword(word: &str) -> Option<T> {
    Some(match word {
        "." => T::Dot,
        "block" => T::Block,
        "break" => T::Break,
        "continue" => T::Continue,
        "define" => T::Define,
        "else" => T::Else,
        "end" => T::End,
        "if" => T::If,
        "range" => T::Range,
        "nil" => T::Nil,
        "template" => T::Template,
        "with" => T::With,
        _ => return None,
    })
}

#[derive(Clone, Debug)]
struct Item {
    typ: T,
    pos: usize,
    val: String,
    line: usize,
}

impl Item {
    /// Go's `item.String()`, used in "unexpected ..." errors.
    fn describe(&self) -> String {
        match self.typ {
            T::Eof => "EOF".to_owned(),
            T::Error => self.val.clone(),
            t if t.is_keyword() => format!("<{}>", self.val),
            _ if self.val.len() > 10 => format!("{}...", go_quote(truncate_runes(&self.val, 10))),
            _ => go_quote(&self.val),
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn has_left_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(s[1] as char)
}

fn has_right_trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && is_space(s[0] as char) && s[1] == b'-'
}

const SPACE_CHARS: [char; 4] = [' ', '\t', '\r', '\n'];

fn count_newlines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

#[derive(Clone, Copy)]
enum St {
    Text,
    LeftDelim,
    Comment,
    RightDelim,
    InsideAction,
    Space,
    Identifier,
    Field,
    Variable,
    Char,
    Number,
    Quote,
    RawQuote,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    at_eof: bool,
    paren_depth: i64,
    line: usize,
    start_line: usize,
    inside_action: bool,
    item: Option<Item>,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a str) -> Self {
        Lexer {
            input,
            pos: 0,
            start: 0,
            at_eof: false,
            paren_depth: 0,
            line: 1,
            start_line: 1,
            inside_action: false,
            item: None,
        }
    }

    fn next(&mut self) -> Option<char> {
        let Some(c) = self.input.get(self.pos..).and_then(|s| s.chars().next()) else {
            self.at_eof = true;
            return None;
        };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        let r = self.next();
        self.backup();
        r
    }

    fn backup(&mut self) {
        if !self.at_eof && self.pos > 0 {
            if let Some(c) = self
                .input
                .get(..self.pos)
                .and_then(|s| s.chars().next_back())
            {
                self.pos -= c.len_utf8();
                if c == '\n' {
                    self.line -= 1;
                }
            }
        }
    }

    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn this_item(&mut self, typ: T) -> Item {
        let item = Item {
            typ,
            pos: self.start,
            val: self
                .input
                .get(self.start..self.pos)
                .unwrap_or("")
                .to_owned(),
            line: self.start_line,
        };
        self.start = self.pos;
        self.start_line = self.line;
        item
    }

    fn emit(&mut self, typ: T) -> Option<St> {
        let item = self.this_item(typ);
        self.item = Some(item);
        None
    }

    fn ignore(&mut self) {
        self.line += count_newlines(self.input.get(self.start..self.pos).unwrap_or(""));
        self.start = self.pos;
        self.start_line = self.line;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.next() {
            Some(c) if valid.contains(c) => true,
            _ => {
                self.backup();
                false
            }
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while let Some(c) = self.next() {
            if !valid.contains(c) {
                break;
            }
        }
        self.backup();
    }

    fn errorf(&mut self, msg: impl Into<String>) -> Option<St> {
        self.item = Some(Item {
            typ: T::Error,
            pos: self.start,
            val: msg.into(),
            line: self.start_line,
        });
        self.start = 0;
        self.pos = 0;
        self.input = "";
        None
    }

    fn next_item(&mut self) -> Item {
        self.item = Some(Item {
            typ: T::Eof,
            pos: self.pos,
            val: "EOF".to_owned(),
            line: self.start_line,
        });
        let mut st = if self.inside_action {
            St::InsideAction
        } else {
            St::Text
        };
        loop {
            let next = match st {
                St::Text => self.lex_text(),
                St::LeftDelim => self.lex_left_delim(),
                St::Comment => self.lex_comment(),
                St::RightDelim => self.lex_right_delim(),
                St::InsideAction => self.lex_inside_action(),
                St::Space => self.lex_space(),
                St::Identifier => self.lex_identifier(),
                St::Field => self.lex_field_or_variable(T::Field),
                St::Variable => self.lex_variable(),
                St::Char => self.lex_char(),
                St::Number => self.lex_number(),
                St::Quote => self.lex_quote(),
                St::RawQuote => self.lex_raw_quote(),
            };
            match next {
                Some(n) => st = n,
                None => {
                    return self.item.take().unwrap_or(Item {
                        typ: T::Eof,
                        pos: self.pos,
                        val: "EOF".to_owned(),
                        line: self.start_line,
                    })
                }
            }
        }
    }

    fn lex_text(&mut self) -> Option<St> {
        if let Some(x) = self.rest().find("{{") {
            if x > 0 {
                self.pos += x;
                let mut trim = 0;
                let delim_end = self.pos + 2;
                if has_left_trim_marker(self.input.as_bytes().get(delim_end..).unwrap_or(&[])) {
                    let text = &self.input[self.start..self.pos];
                    trim = text.len() - text.trim_end_matches(SPACE_CHARS).len();
                }
                self.pos -= trim;
                self.line += count_newlines(&self.input[self.start..self.pos]);
                let item = self.this_item(T::Text);
                self.pos += trim;
                self.ignore();
                if !item.val.is_empty() {
                    self.item = Some(item);
                    return None;
                }
            }
            return Some(St::LeftDelim);
        }
        self.pos = self.input.len();
        if self.pos > self.start {
            self.line += count_newlines(&self.input[self.start..self.pos]);
            return self.emit(T::Text);
        }
        self.emit(T::Eof)
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let rest = self.rest().as_bytes();
        if has_right_trim_marker(rest) && rest[2..].starts_with(b"}}") {
            return (true, true);
        }
        (rest.starts_with(b"}}"), false)
    }

    fn lex_left_delim(&mut self) -> Option<St> {
        self.pos += 2;
        let trim = has_left_trim_marker(self.rest().as_bytes());
        let after = if trim { 2 } else { 0 };
        if self
            .input
            .as_bytes()
            .get(self.pos + after..)
            .unwrap_or(&[])
            .starts_with(b"/*")
        {
            self.pos += after;
            self.ignore();
            return Some(St::Comment);
        }
        let item = self.this_item(T::LeftDelim);
        self.inside_action = true;
        self.pos += after;
        self.ignore();
        self.paren_depth = 0;
        self.item = Some(item);
        None
    }

    fn lex_comment(&mut self) -> Option<St> {
        self.pos += 2;
        match self.rest().find("*/") {
            None => return self.errorf("unclosed comment"),
            Some(x) => self.pos += x + 2,
        }
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.errorf("comment ends before closing delimiter");
        }
        self.line += count_newlines(&self.input[self.start..self.pos]);
        self.this_item(T::Text); // Comments are not emitted (Hive does not set ParseComments).
        if trim {
            self.pos += 2;
        }
        self.pos += 2;
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
        }
        self.ignore();
        Some(St::Text)
    }

    fn lex_right_delim(&mut self) -> Option<St> {
        let (_, trim) = self.at_right_delim();
        if trim {
            self.pos += 2;
            self.ignore();
        }
        self.pos += 2;
        let item = self.this_item(T::RightDelim);
        if trim {
            let rest = self.rest();
            self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
            self.ignore();
        }
        self.inside_action = false;
        self.item = Some(item);
        None
    }

    fn lex_inside_action(&mut self) -> Option<St> {
        let (delim, _) = self.at_right_delim();
        if delim {
            if self.paren_depth == 0 {
                return Some(St::RightDelim);
            }
            return self.errorf("unclosed left paren");
        }
        let Some(r) = self.next() else {
            return self.errorf("unclosed action");
        };
        match r {
            c if is_space(c) => {
                self.backup();
                Some(St::Space)
            }
            '=' => self.emit(T::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.errorf("expected :=");
                }
                self.emit(T::Declare)
            }
            '|' => self.emit(T::Pipe),
            '"' => Some(St::Quote),
            '`' => Some(St::RawQuote),
            '$' => Some(St::Variable),
            '\'' => Some(St::Char),
            '.' => {
                if let Some(&b) = self.input.as_bytes().get(self.pos) {
                    if !b.is_ascii_digit() {
                        return Some(St::Field);
                    }
                }
                self.backup();
                Some(St::Number)
            }
            '+' | '-' | '0'..='9' => {
                self.backup();
                Some(St::Number)
            }
            c if is_alnum(c) => {
                self.backup();
                Some(St::Identifier)
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(T::LeftParen)
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf("unexpected right paren");
                }
                self.emit(T::RightParen)
            }
            c if c.is_ascii() && is_go_print(c) => self.emit(T::Char),
            c => self.errorf(format!(
                "unrecognized character in action: {}",
                go_sharp_u(c)
            )),
        }
    }

    fn lex_space(&mut self) -> Option<St> {
        let mut spaces = 0;
        while let Some(c) = self.peek() {
            if !is_space(c) {
                break;
            }
            self.next();
            spaces += 1;
        }
        let b = self.input.as_bytes();
        if self.pos >= 1
            && has_right_trim_marker(&b[self.pos - 1..])
            && b.get(self.pos + 1..).unwrap_or(&[]).starts_with(b"}}")
        {
            self.backup();
            if spaces == 1 {
                return Some(St::RightDelim);
            }
        }
        self.emit(T::Space)
    }

    fn at_terminator(&mut self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with("}}"),
        }
    }

    fn lex_identifier(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some(c) if is_alnum(c) => {}
                r => {
                    self.backup();
                    if !self.at_terminator() {
                        let c = r.unwrap_or('\u{FFFD}');
                        return self.errorf(format!("bad character {}", go_sharp_u(c)));
                    }
                    let word = &self.input[self.start..self.pos];
                    let typ = match keyword(word) {
                        Some(k) => k,
                        None if word == "true" || word == "false" => T::Bool,
                        None => T::Identifier,
                    };
                    return self.emit(typ);
                }
            }
        }
    }

    fn lex_variable(&mut self) -> Option<St> {
        if self.at_terminator() {
            return self.emit(T::Variable);
        }
        self.lex_field_or_variable(T::Variable)
    }

    fn lex_field_or_variable(&mut self, typ: T) -> Option<St> {
        if self.at_terminator() {
            return self.emit(if typ == T::Variable {
                T::Variable
            } else {
                T::Dot
            });
        }
        let mut r;
        loop {
            r = self.next();
            match r {
                Some(c) if is_alnum(c) => {}
                _ => {
                    self.backup();
                    break;
                }
            }
        }
        if !self.at_terminator() {
            let c = r.unwrap_or('\u{FFFD}');
            return self.errorf(format!("bad character {}", go_sharp_u(c)));
        }
        self.emit(typ)
    }

    fn lex_char(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.errorf("unterminated character constant"),
                },
                None | Some('\n') => return self.errorf("unterminated character constant"),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(T::CharConstant)
    }

    fn lex_number(&mut self) -> Option<St> {
        if !self.scan_number() {
            let text = go_quote(&self.input[self.start..self.pos]);
            return self.errorf(format!("bad number syntax: {text}"));
        }
        if matches!(self.peek(), Some('+' | '-')) {
            if !self.scan_number()
                || self.input.as_bytes().get(self.pos.wrapping_sub(1)) != Some(&b'i')
            {
                let text = go_quote(&self.input[self.start..self.pos]);
                return self.errorf(format!("bad number syntax: {text}"));
            }
            return self.emit(T::Complex);
        }
        self.emit(T::Number)
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if matches!(self.peek(), Some(c) if is_alnum(c)) {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> Option<St> {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some(c) if c != '\n' => {}
                    _ => return self.errorf("unterminated quoted string"),
                },
                None | Some('\n') => return self.errorf("unterminated quoted string"),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(T::Str)
    }

    fn lex_raw_quote(&mut self) -> Option<St> {
        loop {
            match self.next() {
                None => return self.errorf("unterminated raw quoted string"),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(T::RawString)
    }
}

/// Lexes everything up front. The last item is EOF or an error; `tail` is what Go's lexer would return after it.
fn lex(input: &str) -> (Vec<Item>, Item) {
    let mut lexer = Lexer::new(input);
    let mut items = Vec::new();
    loop {
        let item = lexer.next_item();
        let done = matches!(item.typ, T::Eof | T::Error);
        items.push(item);
        if done {
            break;
        }
    }
    let tail = lexer.next_item();
    (items, tail)
}

// ---------------------------------------------------------------------------------------------------------------
// Parse tree (text/template/parse/node.go)
// ---------------------------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Number {
    text: String,
    is_int: bool,
    is_uint: bool,
    is_float: bool,
    int: i64,
    float: f64,
}

#[derive(Clone, Debug)]
enum Arg {
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    Number {
        pos: usize,
        num: Number,
    },
    Str {
        pos: usize,
        quoted: String,
        text: String,
    },
    Field {
        pos: usize,
        ident: Vec<String>,
    },
    Variable {
        pos: usize,
        ident: Vec<String>,
    },
    Pipe(Box<Pipe>),
    Chain {
        pos: usize,
        node: Box<Arg>,
        field: Vec<String>,
    },
}

#[derive(Clone, Debug)]
struct Command {
    pos: usize,
    args: Vec<Arg>,
}

#[derive(Clone, Debug)]
struct Pipe {
    pos: usize,
    is_assign: bool,
    decl: Vec<String>,
    cmds: Vec<Command>,
}

#[derive(Clone, Debug)]
struct Branch {
    pos: usize,
    pipe: Pipe,
    list: Vec<Node>,
    else_list: Option<Vec<Node>>,
}

#[derive(Clone, Debug)]
enum Node {
    Text {
        pos: usize,
        text: String,
    },
    Action {
        pos: usize,
        pipe: Pipe,
    },
    If(Box<Branch>),
    With(Box<Branch>),
    Range(Box<Branch>),
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
}

impl Arg {
    fn pos(&self) -> usize {
        match self {
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::Str { pos, .. }
            | Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Bool { val, .. } => write!(f, "{val}"),
            Arg::Number { num, .. } => f.write_str(&num.text),
            Arg::Str { quoted, .. } => f.write_str(quoted),
            Arg::Field { ident, .. } => ident.iter().try_for_each(|id| write!(f, ".{id}")),
            Arg::Variable { ident, .. } => f.write_str(&ident.join(".")),
            Arg::Pipe(p) => write!(f, "{p}"),
            Arg::Chain { node, field, .. } => {
                match node.as_ref() {
                    Arg::Pipe(p) => write!(f, "({p})")?,
                    other => write!(f, "{other}")?,
                }
                field.iter().try_for_each(|id| write!(f, ".{id}"))
            }
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match arg {
                Arg::Pipe(p) => write!(f, "({p})")?,
                other => write!(f, "{other}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Node]) -> fmt::Result {
    list.iter().try_for_each(|n| write!(f, "{n}"))
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, name: &str, b: &Branch| {
            write!(f, "{{{{{name} {}}}}}", b.pipe)?;
            write_list(f, &b.list)?;
            if let Some(else_list) = &b.else_list {
                f.write_str("{{else}}")?;
                write_list(f, else_list)?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::Text { text, .. } => f.write_str(text),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::With(b) => branch(f, "with", b),
            Node::Range(b) => branch(f, "range", b),
            Node::Break { .. } => f.write_str("{{break}}"),
            Node::Continue { .. } => f.write_str("{{continue}}"),
            Node::Template { name, pipe, .. } => {
                write!(f, "{{{{template {}", go_quote(name))?;
                if let Some(p) = pipe {
                    write!(f, " {p}")?;
                }
                f.write_str("}}")
            }
        }
    }
}

impl Node {
    fn pos(&self) -> usize {
        match self {
            Node::Text { pos, .. }
            | Node::Action { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos }
            | Node::Template { pos, .. } => *pos,
            Node::If(b) | Node::With(b) | Node::Range(b) => b.pos,
        }
    }
}

/// Go's `parse.IsEmptyTree` for a list: only whitespace text.
fn is_empty_tree(list: &[Node]) -> bool {
    list.iter()
        .all(|n| matches!(n, Node::Text { text, .. } if text.trim().is_empty()))
}

// ---------------------------------------------------------------------------------------------------------------
// Numbers (strconv.ParseUint/ParseInt/ParseFloat with base 0, parse.newNumber)
// ---------------------------------------------------------------------------------------------------------------

/// Go's `underscoreOK`: underscores only between digits or between a base prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let mut b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    if let Some(&(b'+' | b'-')) = b.first() {
        b = &b[1..];
    }
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = (b[1] | 0x20) == b'x';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

fn go_parse_uint(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (base, digits): (u64, &[u8]) = if b[0] == b'0' {
        match b.get(1).map(|c| c | 0x20) {
            Some(b'b') if b.len() >= 3 => (2, &b[2..]),
            Some(b'o') if b.len() >= 3 => (8, &b[2..]),
            Some(b'x') if b.len() >= 3 => (16, &b[2..]),
            _ => (8, &b[1..]),
        }
    } else {
        (10, b)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        if c == b'_' {
            underscores = true;
            continue;
        }
        let d = u64::from((c as char).to_digit(36)?);
        if d >= base {
            return None;
        }
        n = n.checked_mul(base)?.checked_add(d)?;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    Some(n)
}

fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest)?;
    if neg {
        if u > 1 << 63 {
            return None;
        }
        Some((u as i64).wrapping_neg())
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the literals the lexer can produce (decimal and hex floats, underscores).
fn go_parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'+') => {
            i += 1;
            false
        }
        Some(b'-') => {
            i += 1;
            true
        }
        Some(_) => false,
        None => return None,
    };
    let hex = i + 2 < b.len() && b[i] == b'0' && (b[i + 1] | 0x20) == b'x';
    if hex {
        i += 2;
    }
    let mant_start = i;
    let (mut sawdot, mut sawdigits, mut underscores) = (false, false, false);
    while i < b.len() {
        let c = b[i];
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if sawdot {
                break;
            }
            sawdot = true;
        } else if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            sawdigits = true;
        } else {
            break;
        }
        i += 1;
    }
    if !sawdigits {
        return None;
    }
    let mant_end = i;
    let mut exp: i64 = 0;
    let exp_char = if hex { b'p' } else { b'e' };
    if i < b.len() && (b[i] | 0x20) == exp_char {
        i += 1;
        let mut esign = 1;
        match b.get(i) {
            Some(b'+') => i += 1,
            Some(b'-') => {
                i += 1;
                esign = -1;
            }
            _ => {}
        }
        if !b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let mut e: i64 = 0;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            if b[i] == b'_' {
                underscores = true;
            } else if e < 10000 {
                e = e * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        exp = e * esign;
    } else if hex {
        return None;
    }
    if underscores && !underscore_ok(&s[..i]) {
        return None;
    }
    if i != b.len() {
        return None;
    }
    let v = if hex {
        let (mut m, mut shift, mut after_dot) = (0f64, 0i64, false);
        for &c in &b[mant_start..mant_end] {
            match c {
                b'_' => {}
                b'.' => after_dot = true,
                _ => {
                    m = m * 16.0 + f64::from((c as char).to_digit(16)?);
                    if after_dot {
                        shift += 4;
                    }
                }
            }
        }
        let e = (exp - shift).clamp(-4000, 4000) as i32;
        let v = m * 2f64.powi(e);
        if neg {
            -v
        } else {
            v
        }
    } else {
        s.replace('_', "").parse::<f64>().ok()?
    };
    v.is_finite().then_some(v)
}

/// `parse.newNumber`. Complex numbers are not supported.
fn new_number(text: &str, typ: T) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_owned(),
        is_int: false,
        is_uint: false,
        is_float: false,
        int: 0,
        float: 0.0,
    };
    if typ == T::CharConstant {
        let bytes = text.as_bytes();
        let (v, _, tail) =
            unquote_char(bytes.get(1..).unwrap_or(&[]), b'\'').map_err(|_| "invalid syntax")?;
        if tail != b"'" {
            return Err(format!("malformed character constant: {text}"));
        }
        n.is_int = true;
        n.is_uint = true;
        n.is_float = true;
        n.int = i64::from(v);
        n.float = f64::from(v);
        return Ok(n);
    }
    if typ == T::Complex
        || (text.ends_with('i') && go_parse_float(&text[..text.len() - 1]).is_some())
    {
        return Err(format!(
            "complex numbers are not supported: {}",
            go_quote(text)
        ));
    }
    let u = go_parse_uint(text);
    n.is_uint = u.is_some();
    if let Some(i) = go_parse_int(text) {
        n.is_int = true;
        n.int = i;
        if i == 0 {
            n.is_uint = true;
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if let Some(u) = u {
        n.is_float = true;
        n.float = u as f64;
    } else if let Some(f) = go_parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", go_quote(text)));
        }
        n.is_float = true;
        n.float = f;
        if f.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
            n.is_int = true;
            n.int = f as i64;
        }
        if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
            n.is_uint = true;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!("illegal number syntax: {}", go_quote(text)));
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------------------------
// Parser (text/template/parse/parse.go)
// ---------------------------------------------------------------------------------------------------------------

type Trees = HashMap<String, Vec<Node>>;

const FUNCTIONS: [&str; 20] = [
    "fromCDLabel",
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
];

/// What `textOrAction` produced: a node, or the `{{end}}`/`{{else}}` that terminates a list.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl Parsed {
    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End => "{{end}}".to_owned(),
            Parsed::Else => "{{else}}".to_owned(),
        }
    }
}

/// Per-tree parser state (`define` and `block` bodies are parsed as separate trees).
struct TreeState {
    /// Line of the last token this tree pulled from the lexer (Go's `t.token[0].line`, used in errors).
    token0_line: usize,
    vars: Vec<String>,
    action_line: usize,
    range_depth: usize,
}

impl TreeState {
    fn new() -> Self {
        TreeState {
            token0_line: 0,
            vars: vec!["$".to_owned()],
            action_line: 0,
            range_depth: 0,
        }
    }
}

struct Parser {
    items: Vec<Item>,
    tail: Item,
    idx: usize,
    /// How many items have been pulled from the lexer so far.
    pulled: usize,
    st: TreeState,
    trees: Trees,
    depth: usize,
}

type PResult<T> = Result<T, String>;

fn parse(text: &str) -> PResult<Trees> {
    let (items, tail) = lex(text);
    let mut p = Parser {
        items,
        tail,
        idx: 0,
        pulled: 0,
        st: TreeState::new(),
        trees: HashMap::new(),
        depth: 0,
    };
    let root = p.parse_top()?;
    p.add(TEMPLATE_NAME.to_owned(), root)?;
    Ok(p.trees)
}

impl Parser {
    fn next(&mut self) -> Item {
        let item = match self.items.get(self.idx) {
            Some(item) => item.clone(),
            None => self.tail.clone(),
        };
        self.idx += 1;
        if self.idx > self.pulled {
            self.pulled = self.idx;
            self.st.token0_line = item.line;
        }
        item
    }

    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }

    fn peek(&mut self) -> Item {
        let item = self.next();
        self.backup();
        item
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let item = self.next();
            if item.typ != T::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let item = self.next_non_space();
        self.backup();
        item
    }

    fn errorf<R>(&self, msg: impl fmt::Display) -> PResult<R> {
        Err(format!(
            "template: {TEMPLATE_NAME}:{}: {msg}",
            self.st.token0_line
        ))
    }

    fn unexpected<R>(&self, token: &Item, context: &str) -> PResult<R> {
        if token.typ == T::Error {
            let mut extra = String::new();
            if self.st.action_line != 0 && self.st.action_line != token.line {
                extra = format!(
                    " in action started at {TEMPLATE_NAME}:{}",
                    self.st.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{}{extra}", token.val));
        }
        self.errorf(format!("unexpected {} in {context}", token.describe()))
    }

    fn expect(&mut self, expected: T, context: &str) -> PResult<Item> {
        let token = self.next_non_space();
        if token.typ != expected {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_NESTING {
            return self.errorf("max expression depth exceeded");
        }
        self.depth += 1;
        Ok(())
    }

    fn add(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        match self.trees.get(&name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&root) {
                    return self.errorf(format!(
                        "template: multiple definition of template {}",
                        go_quote(&name)
                    ));
                }
            }
            _ => {
                self.trees.insert(name, root);
            }
        }
        Ok(())
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        loop {
            let peeked = self.peek();
            if peeked.typ == T::Eof {
                return Ok(root);
            }
            if peeked.typ == T::LeftDelim {
                let delim_idx = self.idx;
                self.next();
                if self.next_non_space().typ == T::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = delim_idx;
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.push(n),
                other => return self.errorf(format!("unexpected {}", other.describe())),
            }
        }
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let parent = std::mem::replace(&mut self.st, TreeState::new());
        let result = self.parse_definition_body();
        self.st = parent;
        result
    }

    fn parse_definition_body(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let token = self.next_non_space();
        if token.typ != T::Str && token.typ != T::RawString {
            return self.unexpected(&token, CONTEXT);
        }
        let name = match go_unquote(&token.val) {
            Ok(name) => name,
            Err(e) => return self.errorf(e),
        };
        self.expect(T::RightDelim, CONTEXT)?;
        self.enter()?;
        let (root, end) = self.item_list()?;
        self.depth -= 1;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
        }
        self.add(name, root)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != T::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        self.errorf("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            T::Text => Ok(Parsed::Node(Node::Text {
                pos: token.pos,
                text: token.val,
            })),
            T::LeftDelim => {
                self.st.action_line = token.line;
                let result = self.action();
                self.st.action_line = 0;
                result
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        let node = match token.typ {
            T::Block => self.block_control()?,
            T::Break | T::Continue => {
                let what = if token.typ == T::Break {
                    "{{break}}"
                } else {
                    "{{continue}}"
                };
                let next = self.next_non_space();
                if next.typ != T::RightDelim {
                    return self.unexpected(&next, what);
                }
                if self.st.range_depth == 0 {
                    return self.errorf(format!("{what} outside {{{{range}}}}"));
                }
                if token.typ == T::Break {
                    Node::Break { pos: token.pos }
                } else {
                    Node::Continue { pos: token.pos }
                }
            }
            T::Else => {
                let peeked = self.peek_non_space();
                if peeked.typ != T::If && peeked.typ != T::With {
                    self.expect(T::RightDelim, "else")?;
                }
                return Ok(Parsed::Else);
            }
            T::End => {
                self.expect(T::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            T::If => Node::If(Box::new(self.parse_control("if")?)),
            T::Range => Node::Range(Box::new(self.parse_control("range")?)),
            T::With => Node::With(Box::new(self.parse_control("with")?)),
            T::Template => self.template_control()?,
            _ => {
                self.backup();
                let first = self.peek();
                let pipe = self.pipeline("command", T::RightDelim)?;
                Node::Action {
                    pos: first.pos,
                    pipe,
                }
            }
        };
        Ok(Parsed::Node(node))
    }

    fn pipeline(&mut self, context: &str, end: T) -> PResult<Pipe> {
        let first = self.peek_non_space();
        let mut pipe = Pipe {
            pos: first.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != T::Variable {
                break;
            }
            let v_idx = self.idx;
            self.next();
            self.peek();
            let next = self.peek_non_space();
            if next.typ == T::Assign || next.typ == T::Declare {
                pipe.is_assign = next.typ == T::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.st.vars.push(v.val);
            } else if next.typ == T::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.st.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        T::Variable | T::RightDelim | T::RightParen => continue,
                        _ => return self.errorf("range can only initialize variables"),
                    }
                }
                return self.errorf(format!("too many declarations in {context}"));
            } else {
                self.idx = v_idx;
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match token.typ {
                T::Bool
                | T::CharConstant
                | T::Complex
                | T::Dot
                | T::Field
                | T::Identifier
                | T::Number
                | T::Nil
                | T::RawString
                | T::Str
                | T::Variable
                | T::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number { .. }
                        | Arg::Str { .. }
                )
            ) {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let nvars = self.st.vars.len();
        let result = self.parse_control_body(context);
        self.st.vars.truncate(nvars);
        self.depth -= 1;
        result
    }

    fn parse_control_body(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, T::RightDelim)?;
        if context == "range" {
            self.st.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.st.range_depth -= 1;
        }
        let mut else_list = None;
        if let Parsed::Else = next {
            if context == "if" && self.peek().typ == T::If {
                self.next();
                else_list = Some(vec![Node::If(Box::new(self.parse_control("if")?))]);
            } else if context == "with" && self.peek().typ == T::With {
                self.next();
                else_list = Some(vec![Node::With(Box::new(self.parse_control("with")?))]);
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return self.errorf(format!("expected end; found {}", next.describe()));
                }
                else_list = Some(list);
            }
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&self, token: &Item, context: &str) -> PResult<String> {
        match token.typ {
            T::Str | T::RawString => match go_unquote(&token.val) {
                Ok(name) => Ok(name),
                Err(e) => self.errorf(e),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, T::RightDelim)?;
        self.enter()?;
        let parent = std::mem::replace(&mut self.st, TreeState::new());
        let body = self.item_list();
        let child = std::mem::replace(&mut self.st, parent);
        self.depth -= 1;
        let (root, end) = body?;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
        }
        let parent = std::mem::replace(&mut self.st, child);
        let added = self.add(name.clone(), root);
        self.st = parent;
        added?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != T::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, T::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                args.push(operand);
            }
            let token = self.next();
            match token.typ {
                T::Space => continue,
                T::RightDelim | T::RightParen => self.backup(),
                T::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.errorf("empty command");
        }
        Ok(Command { pos, args })
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != T::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == T::Field {
            let field = self.next().val;
            fields.push(field.get(1..).unwrap_or("").to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(fields);
                Arg::Field { pos, ident }
            }
            Arg::Variable { mut ident, .. } => {
                ident.extend(fields);
                Arg::Variable { pos, ident }
            }
            Arg::Bool { .. }
            | Arg::Str { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return self.errorf(format!(
                    "unexpected . after term {}",
                    go_quote(&node.to_string())
                ));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                field: fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            T::Identifier => {
                if !FUNCTIONS.contains(&token.val.as_str()) {
                    return self.errorf(format!("function {} not defined", go_quote(&token.val)));
                }
                Arg::Identifier {
                    pos,
                    name: token.val,
                }
            }
            T::Dot => Arg::Dot { pos },
            T::Nil => Arg::Nil { pos },
            T::Variable => {
                if !self.st.vars.contains(&token.val) {
                    return self.errorf(format!("undefined variable {}", go_quote(&token.val)));
                }
                Arg::Variable {
                    pos,
                    ident: vec![token.val],
                }
            }
            T::Field => Arg::Field {
                pos,
                ident: vec![token.val.get(1..).unwrap_or("").to_owned()],
            },
            T::Bool => Arg::Bool {
                pos,
                val: token.val == "true",
            },
            T::CharConstant | T::Complex | T::Number => match new_number(&token.val, token.typ) {
                Ok(num) => Arg::Number { pos, num },
                Err(e) => return self.errorf(e),
            },
            T::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", T::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            T::Str | T::RawString => match go_unquote(&token.val) {
                Ok(text) => Arg::Str {
                    pos,
                    quoted: token.val,
                    text,
                },
                Err(e) => return self.errorf(e),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Values and builtins (text/template/funcs.go)
// ---------------------------------------------------------------------------------------------------------------

/// The values a template can produce with nil data.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    /// Go's zero `reflect.Value`: nil data, `.Field` of nil, `nil` passed to a builtin. Prints `<no value>`.
    Invalid,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// A byte from `index` on a string.
    Uint8(u8),
    Float(f64),
    Str(String),
}

fn type_name(v: &Val) -> &'static str {
    match v {
        Val::Invalid => "<nil>",
        Val::Bool(_) => "bool",
        Val::Int(_) => "int",
        Val::Uint8(_) => "uint8",
        Val::Float(_) => "float64",
        Val::Str(_) => "string",
    }
}

/// Go's `isTrue` (the truth of `if`, `with`, `and`, `or`, `not`).
fn truth(v: &Val) -> bool {
    match v {
        Val::Invalid => false,
        Val::Bool(b) => *b,
        Val::Int(i) => *i != 0,
        Val::Uint8(u) => *u != 0,
        Val::Float(f) => *f != 0.0,
        Val::Str(s) => !s.is_empty(),
    }
}

/// `fmt.Fprint` of a value as an action prints it (`printableValue`: an invalid value is `<no value>`).
fn print_plain(v: &Val) -> String {
    match v {
        Val::Invalid => "<no value>".to_owned(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Uint8(u) => u.to_string(),
        Val::Float(f) => go_format_float(*f, 'g', -1),
        Val::Str(s) => s.clone(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    FromCdLabel,
    And,
    Call,
    Html,
    Index,
    Slice,
    Js,
    Len,
    Not,
    Or,
    Print,
    Printf,
    Println,
    UrlQuery,
    Eq,
    Ge,
    Gt,
    Le,
    Lt,
    Ne,
}

/// Parameter types of the Go functions: `string`, `any` (nil allowed) or `reflect.Value` (invalid allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Param {
    Str,
    Any,
    Value,
}

impl Func {
    fn lookup(name: &str) -> Option<Func> {
        Some(match name {
            "fromCDLabel" => Func::FromCdLabel,
            "and" => Func::And,
            "call" => Func::Call,
            "html" => Func::Html,
            "index" => Func::Index,
            "slice" => Func::Slice,
            "js" => Func::Js,
            "len" => Func::Len,
            "not" => Func::Not,
            "or" => Func::Or,
            "print" => Func::Print,
            "printf" => Func::Printf,
            "println" => Func::Println,
            "urlquery" => Func::UrlQuery,
            "eq" => Func::Eq,
            "ge" => Func::Ge,
            "gt" => Func::Gt,
            "le" => Func::Le,
            "lt" => Func::Lt,
            "ne" => Func::Ne,
            _ => return None,
        })
    }

    /// Fixed parameters and the element type of the variadic parameter, as in the Go signatures.
    fn signature(self) -> (&'static [Param], Option<Param>) {
        match self {
            Func::FromCdLabel => (&[Param::Str], None),
            Func::And | Func::Or | Func::Call | Func::Index | Func::Slice | Func::Eq => {
                (&[Param::Value], Some(Param::Value))
            }
            Func::Html | Func::Js | Func::UrlQuery | Func::Print | Func::Println => {
                (&[], Some(Param::Any))
            }
            Func::Printf => (&[Param::Str], Some(Param::Any)),
            Func::Len | Func::Not => (&[Param::Value], None),
            Func::Ne | Func::Lt | Func::Le | Func::Gt | Func::Ge => {
                (&[Param::Value, Param::Value], None)
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    Str,
}

fn basic_kind(v: &Val) -> Kind {
    match v {
        Val::Invalid => Kind::Invalid,
        Val::Bool(_) => Kind::Bool,
        Val::Int(_) => Kind::Int,
        Val::Uint8(_) => Kind::Uint,
        Val::Float(_) => Kind::Float,
        Val::Str(_) => Kind::Str,
    }
}

fn builtin_eq(a: &Val, rest: &[Val]) -> Result<bool, String> {
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for b in rest {
        let equal = if basic_kind(a) != basic_kind(b) {
            match (a, b) {
                (Val::Int(x), Val::Uint8(y)) | (Val::Uint8(y), Val::Int(x)) => {
                    *x >= 0 && *x as u64 == u64::from(*y)
                }
                _ if *a != Val::Invalid && *b != Val::Invalid => {
                    return Err(format!(
                        "incompatible types for comparison: {} and {}",
                        type_name(a),
                        type_name(b)
                    ))
                }
                _ => false,
            }
        } else {
            a == b
        };
        if equal {
            return Ok(true);
        }
    }
    Ok(false)
}

fn builtin_lt(a: &Val, b: &Val) -> Result<bool, String> {
    const BAD_TYPE: &str = "invalid type for comparison";
    if basic_kind(a) == Kind::Invalid || basic_kind(b) == Kind::Invalid {
        return Err(BAD_TYPE.into());
    }
    Ok(match (a, b) {
        (Val::Int(x), Val::Uint8(y)) => *x < 0 || (*x as u64) < u64::from(*y),
        (Val::Uint8(x), Val::Int(y)) => *y >= 0 && u64::from(*x) < *y as u64,
        (Val::Int(x), Val::Int(y)) => x < y,
        (Val::Uint8(x), Val::Uint8(y)) => x < y,
        (Val::Float(x), Val::Float(y)) => x < y,
        (Val::Str(x), Val::Str(y)) => x < y,
        (Val::Bool(_), Val::Bool(_)) => return Err(BAD_TYPE.into()),
        _ => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                type_name(a),
                type_name(b)
            ))
        }
    })
}

fn builtin_le(a: &Val, b: &Val) -> Result<bool, String> {
    if builtin_lt(a, b)? {
        return Ok(true);
    }
    builtin_eq(a, std::slice::from_ref(b))
}

fn index_arg(index: &Val, cap: usize) -> Result<usize, String> {
    let x = match index {
        Val::Int(i) => *i,
        Val::Uint8(u) => i64::from(*u),
        Val::Invalid => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                type_name(other)
            ))
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn builtin_index(item: &Val, indexes: &[Val]) -> Result<Val, String> {
    if *item == Val::Invalid {
        return Err("index of untyped nil".into());
    }
    let mut item = item.clone();
    for index in indexes {
        item = match &item {
            Val::Str(s) => {
                let x = index_arg(index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Val::Uint8(*b),
                    None => return Err("reflect: string index out of range".into()),
                }
            }
            other => return Err(format!("can't index item of type {}", type_name(other))),
        };
    }
    Ok(item)
}

fn builtin_slice(item: &Val, indexes: &[Val]) -> Result<Val, String> {
    if *item == Val::Invalid {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let Val::Str(s) = item else {
        return Err(format!("can't slice item of type {}", type_name(item)));
    };
    if indexes.len() == 3 {
        return Err("cannot 3-index slice a string".into());
    }
    let mut idx = [0, s.len()];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, s.len())?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    Ok(Val::Str(
        String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned(),
    ))
}

/// `evalArgs` for `html`, `js` and `urlquery`: one string as is, otherwise `fmt.Sprint` (nil prints `<no value>`).
fn eval_args(args: &[Val]) -> Result<String, String> {
    if let [Val::Str(s)] = args {
        return Ok(s.clone());
    }
    let printable: Vec<Val> = args
        .iter()
        .map(|a| {
            if *a == Val::Invalid {
                Val::Str("<no value>".into())
            } else {
                a.clone()
            }
        })
        .collect();
    go_sprint(&printable, false)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if c < ' ' => out.push_str(&format!("\\u00{:02X}", c as u32)),
            c if !c.is_ascii() && !is_go_print(c) => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn url_query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Go fmt (fmt/print.go, fmt/format.go, strconv/ftoa.go)
// ---------------------------------------------------------------------------------------------------------------

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

/// Decimal digits of a float: `0.d1d2...dn × 10^dp`, no trailing zeros (zero has no digits and dp 0).
struct Decimal {
    d: Vec<u8>,
    dp: i64,
}

/// Parses Rust's `{:e}` output (`d.ddde±x`) into a [`Decimal`].
fn decimal_from_exp(s: &str) -> Decimal {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Decimal { d, dp: 0 };
    }
    Decimal { d, dp: exp + 1 }
}

/// Parses Rust's `{:.N}` output (`123.4560`) into a [`Decimal`].
fn decimal_from_fixed(s: &str) -> Decimal {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut d: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let mut dp = int.len() as i64;
    let leading = d.iter().take_while(|&&c| c == b'0').count();
    d.drain(..leading);
    dp -= leading as i64;
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Decimal { d, dp: 0 };
    }
    Decimal { d, dp }
}

fn fmt_e(out: &mut String, neg: bool, d: &Decimal, prec: i64, fmt: char) {
    if neg {
        out.push('-');
    }
    out.push(d.d.first().map_or('0', |&c| c as char));
    if prec > 0 {
        out.push('.');
        let nd = d.d.len() as i64;
        let m = nd.min(prec + 1);
        let mut i = 1;
        while i < m {
            out.push(d.d[i as usize] as char);
            i += 1;
        }
        while i <= prec {
            out.push('0');
            i += 1;
        }
    }
    out.push(fmt);
    let mut exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
}

fn fmt_f(out: &mut String, neg: bool, d: &Decimal, prec: i64) {
    if neg {
        out.push('-');
    }
    let nd = d.d.len() as i64;
    if d.dp > 0 {
        let m = nd.min(d.dp);
        out.extend(d.d[..m as usize].iter().map(|&c| c as char));
        for _ in m..d.dp {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = d.dp + i - 1;
            out.push(if (0..nd).contains(&j) {
                d.d[j as usize] as char
            } else {
                '0'
            });
        }
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)`.
fn go_format_float(v: f64, fmt: char, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let bits = v.to_bits();
    let neg = bits >> 63 != 0;
    if fmt == 'b' || fmt == 'x' || fmt == 'X' {
        let mut exp = ((bits >> 52) & 0x7FF) as i64;
        let mut mant = bits & ((1 << 52) - 1);
        if exp == 0 {
            exp += 1;
        } else {
            mant |= 1 << 52;
        }
        exp -= 1023;
        return if fmt == 'b' {
            go_fmt_b(neg, mant, exp)
        } else {
            go_fmt_x(prec, fmt, neg, mant, exp)
        };
    }
    let a = v.abs();
    let mut out = String::new();
    let upper_e = if fmt == 'E' || fmt == 'G' { 'E' } else { 'e' };
    if prec < 0 {
        let d = decimal_from_exp(&format!("{a:e}"));
        let nd = d.d.len() as i64;
        match fmt {
            'e' | 'E' => fmt_e(&mut out, neg, &d, (nd - 1).max(0), upper_e),
            'f' => fmt_f(&mut out, neg, &d, (nd - d.dp).max(0)),
            _ => {
                let exp = d.dp - 1;
                if !(-4..6).contains(&exp) {
                    fmt_e(&mut out, neg, &d, nd - 1, upper_e);
                } else {
                    fmt_f(&mut out, neg, &d, (nd - d.dp).max(0));
                }
            }
        }
        return out;
    }
    let prec = prec.min(10_000);
    match fmt {
        'e' | 'E' => {
            let d = decimal_from_exp(&format!("{a:.*e}", prec as usize));
            fmt_e(&mut out, neg, &d, prec, upper_e);
        }
        'f' => {
            let d = decimal_from_fixed(&format!("{a:.*}", prec as usize));
            fmt_f(&mut out, neg, &d, prec);
        }
        _ => {
            let mut prec = if prec == 0 { 1 } else { prec };
            let d = decimal_from_exp(&format!("{a:.*e}", (prec - 1) as usize));
            let nd = d.d.len() as i64;
            let mut eprec = prec;
            if eprec > nd && nd >= d.dp {
                eprec = nd;
            }
            let exp = d.dp - 1;
            if exp < -4 || exp >= eprec {
                if prec > nd {
                    prec = nd;
                }
                fmt_e(&mut out, neg, &d, prec - 1, upper_e);
            } else {
                if prec > d.dp {
                    prec = nd;
                }
                fmt_f(&mut out, neg, &d, (prec - d.dp).max(0));
            }
        }
    }
    out
}

fn go_fmt_b(neg: bool, mant: u64, exp: i64) -> String {
    let exp = exp - 52;
    format!(
        "{}{mant}p{}{exp}",
        if neg { "-" } else { "" },
        if exp >= 0 { "+" } else { "" }
    )
}

fn go_fmt_x(prec: i64, fmt: char, neg: bool, mut mant: u64, mut exp: i64) -> String {
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == 'X' {
        b"0123456789ABCDEF"
    } else {
        LOWER_HEX
    };
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push('0');
    out.push(fmt);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec.min(10_000) {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if fmt == 'X' { 'P' } else { 'p' });
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push('0');
    }
    out.push_str(&exp.to_string());
    out
}

#[derive(Clone, Copy, Default)]
struct Flags {
    wid_present: bool,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: i64,
    prec: i64,
}

/// Go's `fmt.pp`: formats values into a buffer, refusing to grow past [`MAX_OUTPUT`].
struct Printer {
    buf: String,
    f: Flags,
    overflow: bool,
}

impl Printer {
    fn new() -> Self {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            overflow: false,
        }
    }

    fn write(&mut self, s: &str) {
        if self.buf.len() + s.len() > MAX_OUTPUT {
            self.overflow = true;
            return;
        }
        self.buf.push_str(s);
    }

    fn write_char(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        self.write(c.encode_utf8(&mut tmp));
    }

    fn finish(self) -> Result<String, String> {
        if self.overflow {
            return Err(format!("formatted output exceeds {MAX_OUTPUT} bytes"));
        }
        Ok(self.buf)
    }

    fn write_padding(&mut self, n: i64) {
        if n <= 0 {
            return;
        }
        if self.buf.len() as u64 + n as u64 > MAX_OUTPUT as u64 {
            self.overflow = true;
            return;
        }
        let pad = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(pad, n as usize));
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.write(s);
            return;
        }
        let width = self.f.wid - s.chars().count() as i64;
        if !self.f.minus {
            self.write_padding(width);
            self.write(s);
        } else {
            self.write(s);
            self.write_padding(width);
        }
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    fn fmt_unicode(&mut self, u: u64) {
        let mut prec: i64 = 4;
        if self.f.prec_present && self.f.prec > 4 {
            prec = self.f.prec;
        }
        let mut s = format!("{u:X}");
        while (s.len() as i64) < prec {
            s.insert(0, '0');
        }
        let mut out = format!("U+{s}");
        if self.f.sharp {
            if let Some(c) = u32::try_from(u).ok().and_then(char::from_u32) {
                if is_go_print(c) {
                    out.push_str(&format!(" '{c}'"));
                }
            }
        }
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&out);
        self.f.zero = old;
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative { u.wrapping_neg() } else { u };
        let mut prec: i64 = 0;
        if self.f.prec_present {
            prec = self.f.prec;
            if prec == 0 && u == 0 {
                let old = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec -= 1;
            }
        }
        let mut buf: Vec<u8> = Vec::new();
        while u >= base {
            buf.push(digits[(u % base) as usize]);
            u /= base;
        }
        buf.push(digits[u as usize]);
        let prec = prec.min(MAX_OUTPUT as i64);
        while (buf.len() as i64) < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8_lossy(&buf).into_owned();
        let old = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old;
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present {
            return truncate_runes(s, self.f.prec.max(0) as usize);
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s).to_owned();
        self.pad(&s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let b = s.as_bytes();
        let mut length = b.len() as i64;
        if self.f.prec_present && self.f.prec < length {
            length = self.f.prec;
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let mut out = String::new();
        if self.f.sharp {
            out.push('0');
            out.push(digits[16] as char);
        }
        for (i, &c) in b.iter().take(length as usize).enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(digits[16] as char);
                }
            }
            out.push(digits[(c >> 4) as usize] as char);
            out.push(digits[(c & 0xF) as usize] as char);
        }
        self.write(&out);
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s).to_owned();
        if self.f.sharp && can_backquote(&s) {
            self.pad(&format!("`{s}`"));
            return;
        }
        let quoted = go_quote_with(&s, self.f.plus);
        self.pad(&quoted);
    }

    fn rune_of(c: u64) -> char {
        u32::try_from(c)
            .ok()
            .and_then(char::from_u32)
            .unwrap_or('\u{FFFD}')
    }

    fn fmt_c(&mut self, c: u64) {
        let r = Self::rune_of(c);
        self.pad(&r.to_string());
    }

    fn fmt_qc(&mut self, c: u64) {
        let r = Self::rune_of(c);
        let quoted = go_quote_rune(r, self.f.plus);
        self.pad(&quoted);
    }

    fn fmt_float(&mut self, v: f64, verb: char, prec: i64) {
        let prec = if self.f.prec_present {
            self.f.prec
        } else {
            prec
        };
        let s = go_format_float(v, verb, prec);
        let mut num: Vec<u8> = if s.starts_with(['-', '+']) {
            s.into_bytes()
        } else {
            [b"+", s.as_bytes()].concat()
        };
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        if num.get(1).is_some_and(|&c| c == b'I' || c == b'N') {
            let old = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = old;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = 0;
            if matches!(verb, 'v' | 'g' | 'G' | 'x') {
                digits = if prec == -1 { 6 } else { prec };
            }
            let mut tail: Vec<u8> = Vec::new();
            let mut has_dot = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_dot = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_dot {
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let num = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() as i64 {
                self.write(&num[..1]);
                self.write_padding(self.f.wid - num.len() as i64);
                self.write(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn bad_verb(&mut self, arg: &Val, verb: char) {
        self.write("%!");
        self.write_char(verb);
        self.write("(");
        if *arg == Val::Invalid {
            self.write("<nil>");
        } else {
            self.write(type_name(arg));
            self.write("=");
            self.print_arg(arg, 'v');
        }
        self.write(")");
    }

    /// `printArg`; [`Val::Invalid`] is a nil interface here.
    fn print_arg(&mut self, arg: &Val, verb: char) {
        if *arg == Val::Invalid {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(arg, verb),
            }
            return;
        }
        match verb {
            'T' => {
                self.fmt_s(type_name(arg));
                return;
            }
            'p' => {
                self.bad_verb(arg, verb);
                return;
            }
            _ => {}
        }
        match arg {
            Val::Bool(b) => match verb {
                't' | 'v' => self.fmt_boolean(*b),
                _ => self.bad_verb(arg, verb),
            },
            Val::Float(v) => match verb {
                'v' => self.fmt_float(*v, 'g', -1),
                'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(*v, verb, -1),
                'f' | 'e' | 'E' => self.fmt_float(*v, verb, 6),
                'F' => self.fmt_float(*v, 'f', 6),
                _ => self.bad_verb(arg, verb),
            },
            Val::Int(i) => self.fmt_integer_verb(arg, *i as u64, true, verb),
            Val::Uint8(u) => self.fmt_integer_verb(arg, u64::from(*u), false, verb),
            Val::Str(s) => match verb {
                'v' if self.f.sharp_v => self.fmt_q(s),
                'v' | 's' => self.fmt_s(s),
                'x' => self.fmt_sx(s, LDIGITS),
                'X' => self.fmt_sx(s, UDIGITS),
                'q' => self.fmt_q(s),
                _ => self.bad_verb(arg, verb),
            },
            Val::Invalid => {}
        }
    }

    fn fmt_integer_verb(&mut self, arg: &Val, v: u64, signed: bool, verb: char) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.fmt_integer(v, 16, false, 'v', LDIGITS);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.fmt_integer(v, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(v, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(v, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(v, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(v, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(v),
            'q' => self.fmt_qc(v),
            'U' => self.fmt_unicode(v),
            _ => self.bad_verb(arg, verb),
        }
    }
}

fn too_large(x: i64) -> bool {
    !(-1_000_000..=1_000_000).contains(&x)
}

/// `parsenum`: a decimal number in `s[start..end]`.
fn parse_num(s: &[u8], start: usize, end: usize) -> (i64, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let (mut num, mut isnum, mut i) = (0i64, false, start);
    while i < end && s[i].is_ascii_digit() {
        if too_large(num) {
            return (0, false, end);
        }
        num = num * 10 + i64::from(s[i] - b'0');
        isnum = true;
        i += 1;
    }
    (num, isnum, i)
}

fn int_from_arg(args: &[Val], arg_num: usize) -> (i64, bool, usize) {
    let Some(arg) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (num, is_int) = match arg {
        Val::Int(i) => (*i, true),
        Val::Uint8(u) => (i64::from(*u), true),
        _ => (0, false),
    };
    if too_large(num) {
        return (0, false, arg_num + 1);
    }
    (num, is_int, arg_num + 1)
}

/// Go's `fmt.Sprintf`. Arguments are `any`: [`Val::Invalid`] is nil.
fn go_sprintf(format: &str, args: &[Val]) -> Result<String, String> {
    let mut p = Printer::new();
    let s = format.as_bytes();
    let end = s.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;

    // `argNumber`: an optional `[n]` argument index at s[i..].
    let arg_number =
        |arg_num: usize, i: usize, good: &mut bool, reordered: &mut bool| -> (usize, usize, bool) {
            if i >= end || s[i] != b'[' {
                return (arg_num, i, false);
            }
            *reordered = true;
            let f = &s[i..];
            let (index, wid, ok) = 'parse: {
                if f.len() < 3 {
                    break 'parse (0i64, 1usize, false);
                }
                for j in 1..f.len() {
                    if f[j] == b']' {
                        let (width, ok, newi) = parse_num(f, 1, j);
                        if !ok || newi != j {
                            break 'parse (0, j + 1, false);
                        }
                        break 'parse (width - 1, j + 1, true);
                    }
                }
                (0, 1, false)
            };
            if ok && index >= 0 && (index as usize) < args.len() {
                return (index as usize, i + wid, true);
            }
            *good = false;
            (arg_num, i + wid, ok)
        };

    'format: while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && s[i] != b'%' {
            i += 1;
        }
        if i > last {
            p.write(format.get(last..i).unwrap_or(""));
        }
        if i >= end {
            break;
        }
        i += 1;
        p.f = Flags::default();
        while i < end {
            let c = s[i];
            match c {
                b'#' => p.f.sharp = true,
                b'0' => p.f.zero = true,
                b'+' => p.f.plus = true,
                b'-' => p.f.minus = true,
                b' ' => p.f.space = true,
                _ => {
                    if c.is_ascii_lowercase() && arg_num < args.len() {
                        if c == b'v' || c == b'w' {
                            p.f.sharp_v = p.f.sharp;
                            p.f.sharp = false;
                            p.f.plus_v = p.f.plus;
                            p.f.plus = false;
                        }
                        let arg = args[arg_num].clone();
                        p.print_arg(&arg, c as char);
                        arg_num += 1;
                        i += 1;
                        continue 'format;
                    }
                    break;
                }
            }
            i += 1;
        }

        let mut after_index;
        (arg_num, i, after_index) = arg_number(arg_num, i, &mut good_arg_num, &mut reordered);

        if i < end && s[i] == b'*' {
            i += 1;
            let (wid, present, next) = int_from_arg(args, arg_num);
            (p.f.wid, p.f.wid_present, arg_num) = (wid, present, next);
            if !p.f.wid_present {
                p.write("%!(BADWIDTH)");
            }
            if p.f.wid < 0 {
                p.f.wid = -p.f.wid;
                p.f.minus = true;
                p.f.zero = false;
            }
            after_index = false;
        } else {
            let (wid, present, next) = parse_num(s, i, end);
            (p.f.wid, p.f.wid_present, i) = (wid, present, next);
            if after_index && p.f.wid_present {
                good_arg_num = false;
            }
        }

        if i + 1 < end && s[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            (arg_num, i, after_index) = arg_number(arg_num, i, &mut good_arg_num, &mut reordered);
            if i < end && s[i] == b'*' {
                i += 1;
                let (prec, present, next) = int_from_arg(args, arg_num);
                (p.f.prec, p.f.prec_present, arg_num) = (prec, present, next);
                if p.f.prec < 0 {
                    p.f.prec = 0;
                    p.f.prec_present = false;
                }
                if !p.f.prec_present {
                    p.write("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (prec, present, next) = parse_num(s, i, end);
                (p.f.prec, p.f.prec_present, i) = (prec, present, next);
                if !p.f.prec_present {
                    p.f.prec = 0;
                    p.f.prec_present = true;
                }
            }
        }

        if !after_index {
            (arg_num, i, _) = arg_number(arg_num, i, &mut good_arg_num, &mut reordered);
        }

        if i >= end {
            p.write("%!(NOVERB)");
            break;
        }
        let verb = format
            .get(i..)
            .and_then(|r| r.chars().next())
            .unwrap_or('\u{FFFD}');
        i += if format.is_char_boundary(i) {
            verb.len_utf8()
        } else {
            1
        };

        if verb == '%' {
            p.write("%");
        } else if !good_arg_num {
            p.write("%!");
            p.write_char(verb);
            p.write("(BADINDEX)");
        } else if arg_num >= args.len() {
            p.write("%!");
            p.write_char(verb);
            p.write("(MISSING)");
        } else {
            if verb == 'v' || verb == 'w' {
                p.f.sharp_v = p.f.sharp;
                p.f.sharp = false;
                p.f.plus_v = p.f.plus;
                p.f.plus = false;
            }
            let arg = args[arg_num].clone();
            p.print_arg(&arg, verb);
            arg_num += 1;
        }
    }

    if !reordered && arg_num < args.len() {
        p.f = Flags::default();
        p.write("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                p.write(", ");
            }
            if *arg == Val::Invalid {
                p.write("<nil>");
            } else {
                p.write(type_name(arg));
                p.write("=");
                p.print_arg(arg, 'v');
            }
        }
        p.write(")");
    }
    p.finish()
}

/// Go's `fmt.Sprint` (`newline == false`) and `fmt.Sprintln`.
fn go_sprint(args: &[Val], newline: bool) -> Result<String, String> {
    let mut p = Printer::new();
    let mut prev_string = false;
    for (k, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Val::Str(_));
        if k > 0 && (newline || (!is_string && !prev_string)) {
            p.write(" ");
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    if newline {
        p.write("\n");
    }
    p.finish()
}

// ---------------------------------------------------------------------------------------------------------------
// Execution (text/template/exec.go)
// ---------------------------------------------------------------------------------------------------------------

/// The node Go's `state.at` points to, for error locations and contexts.
#[derive(Clone, Copy)]
enum At<'t> {
    Node(&'t Node),
    Pipe(&'t Pipe),
    Cmd(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(n) => n.pos(),
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// Control flow out of `walk` (Go panics with `walkBreak`/`walkContinue`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

type EResult<T> = Result<T, String>;

struct Exec<'t, 'l> {
    text: &'t str,
    trees: &'t Trees,
    labels: &'l BTreeMap<String, String>,
    name: &'t str,
    at: Option<At<'t>>,
    vars: Vec<(String, Val)>,
    out: String,
    depth: usize,
    steps: u64,
}

fn execute(text: &str, trees: &Trees, labels: &BTreeMap<String, String>) -> EResult<String> {
    let Some((name, root)) = trees.get_key_value(TEMPLATE_NAME) else {
        return Err(format!(
            "template: {TEMPLATE_NAME}: \"{TEMPLATE_NAME}\" is an incomplete or empty template"
        ));
    };
    let mut exec = Exec {
        text,
        trees,
        labels,
        name,
        at: None,
        vars: vec![("$".to_owned(), Val::Invalid)],
        out: String::new(),
        depth: 0,
        steps: 0,
    };
    exec.walk_list(&Val::Invalid, root)?;
    Ok(exec.out)
}

impl<'t> Exec<'t, '_> {
    fn errorf<R>(&self, msg: impl fmt::Display) -> EResult<R> {
        let Some(at) = self.at else {
            return Err(format!("template: {}: {msg}", self.name));
        };
        let pos = at.pos().min(self.text.len());
        let before = self.text.get(..pos).unwrap_or("");
        let col = match before.rfind('\n') {
            Some(nl) => pos - (nl + 1),
            None => pos,
        };
        let line = 1 + count_newlines(before);
        Err(format!(
            "template: {TEMPLATE_NAME}:{line}:{col}: executing {} at <{}>: {msg}",
            go_quote(self.name),
            at.context()
        ))
    }

    fn tick(&mut self) -> EResult<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.errorf(format!("template execution exceeds {MAX_STEPS} steps"));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> EResult<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return self.errorf(format!("template output exceeds {MAX_OUTPUT} bytes"));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk_list(&mut self, dot: &Val, list: &'t [Node]) -> EResult<Flow> {
        for node in list {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Val, node: &'t Node) -> EResult<Flow> {
        self.at = Some(At::Node(node));
        self.tick()?;
        match node {
            Node::Action { pipe, .. } => {
                let val = self.eval_pipeline(dot, Some(pipe))?;
                if pipe.decl.is_empty() {
                    self.at = Some(At::Node(node));
                    self.write(&print_plain(&val))?;
                }
                Ok(Flow::Normal)
            }
            Node::Break { .. } => Ok(Flow::Break),
            Node::Continue { .. } => Ok(Flow::Continue),
            Node::If(b) => self.nested(true, |e| e.walk_if_or_with(false, dot, b)),
            Node::With(b) => self.nested(true, |e| e.walk_if_or_with(true, dot, b)),
            Node::Range(b) => self.nested(true, |e| e.walk_range(dot, node, b)),
            // Variables declared in a {{template}} pipeline persist, as in Go.
            Node::Template { name, pipe, .. } => {
                self.nested(false, |e| e.walk_template(dot, node, name, pipe.as_ref()))
            }
            Node::Text { text, .. } => {
                self.write(text)?;
                Ok(Flow::Normal)
            }
        }
    }

    /// Runs a control structure or template call one level deeper; `pop` drops the variables it declared.
    fn nested(&mut self, pop: bool, f: impl FnOnce(&mut Self) -> EResult<Flow>) -> EResult<Flow> {
        if self.depth >= MAX_EXEC_DEPTH {
            return self.errorf(format!(
                "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
            ));
        }
        self.depth += 1;
        let mark = self.vars.len();
        let result = f(self);
        if pop {
            self.vars.truncate(mark);
        }
        self.depth -= 1;
        result
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val, b: &'t Branch) -> EResult<Flow> {
        let val = self.eval_pipeline(dot, Some(&b.pipe))?;
        if truth(&val) {
            if with {
                self.walk_list(&val, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(Flow::Normal)
        }
    }

    fn set_top_var(&mut self, n: usize, value: Val) {
        if let Some(i) = self.vars.len().checked_sub(n) {
            self.vars[i].1 = value;
        }
    }

    fn walk_range(&mut self, dot: &Val, node: &'t Node, b: &'t Branch) -> EResult<Flow> {
        self.at = Some(At::Node(node));
        let val = self.eval_pipeline(dot, Some(&b.pipe))?;
        let mark = self.vars.len();
        let count = match &val {
            Val::Int(n) => Some(*n),
            Val::Uint8(n) => Some(i64::from(*n)),
            Val::Invalid => None,
            other => {
                return self.errorf(format!("range can't iterate over {}", print_plain(other)))
            }
        };
        if let Some(count) = count {
            if b.pipe.decl.len() > 1 {
                return self.errorf(format!(
                    "can't use {} to iterate over more than one variable",
                    print_plain(&val)
                ));
            }
            for i in 0..count.max(0) {
                self.tick()?;
                let elem = if matches!(val, Val::Uint8(_)) {
                    Val::Uint8(i as u8)
                } else {
                    Val::Int(i)
                };
                if let Some(first) = b.pipe.decl.first() {
                    if b.pipe.is_assign {
                        self.set_var(first, elem.clone())?;
                    } else {
                        self.set_top_var(1, elem.clone());
                    }
                }
                let flow = self.walk_list(&elem, &b.list);
                self.vars.truncate(mark);
                if flow? == Flow::Break {
                    break;
                }
            }
            if count > 0 {
                return Ok(Flow::Normal);
            }
        }
        match &b.else_list {
            // Go's walkRange swallows a {{break}} from its else branch (it belongs to an outer range).
            Some(else_list) => match self.walk_list(dot, else_list)? {
                Flow::Break => Ok(Flow::Normal),
                flow => Ok(flow),
            },
            None => Ok(Flow::Normal),
        }
    }

    fn walk_template(
        &mut self,
        dot: &Val,
        node: &'t Node,
        name: &str,
        pipe: Option<&'t Pipe>,
    ) -> EResult<Flow> {
        self.at = Some(At::Node(node));
        let Some((tree_name, root)) = self.trees.get_key_value(name) else {
            return self.errorf(format!("template {} not defined", go_quote(name)));
        };
        let dot = self.eval_pipeline(dot, pipe)?;
        let vars = std::mem::replace(&mut self.vars, vec![("$".to_owned(), dot.clone())]);
        let caller = std::mem::replace(&mut self.name, tree_name);
        let result = self.walk_list(&dot, root);
        self.name = caller;
        self.vars = vars;
        result.map(|_| Flow::Normal)
    }

    fn eval_pipeline(&mut self, dot: &Val, pipe: Option<&'t Pipe>) -> EResult<Val> {
        let Some(pipe) = pipe else {
            return Ok(Val::Invalid);
        };
        self.at = Some(At::Pipe(pipe));
        let mut value: Option<Val> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Val::Invalid);
        for var in &pipe.decl {
            if pipe.is_assign {
                self.set_var(var, value.clone())?;
            } else {
                self.vars.push((var.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn set_var(&mut self, name: &str, value: Val) -> EResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn var_value(&self, name: &str) -> EResult<Val> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.errorf(format!("undefined variable: {name}")),
        }
    }

    fn not_a_function(&self, args: &[Arg], fallback: &Arg, final_val: &Option<Val>) -> EResult<()> {
        if args.len() > 1 || final_val.is_some() {
            let first = args.first().unwrap_or(fallback);
            return self.errorf(format!("can't give argument to non-function {first}"));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val,
        cmd: &'t Command,
        final_val: Option<Val>,
    ) -> EResult<Val> {
        self.tick()?;
        let Some(first) = cmd.args.first() else {
            return self.errorf("empty command");
        };
        match first {
            Arg::Field { ident, .. } => return self.eval_field_chain(first, dot.clone(), ident),
            Arg::Chain { .. } => return self.eval_chain_node(dot, first),
            Arg::Identifier { .. } => {
                return self.eval_function(dot, first, At::Cmd(cmd), &cmd.args, final_val)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, first, &final_val)?;
                return self.eval_pipeline(dot, Some(p));
            }
            Arg::Variable { .. } => return self.eval_variable_node(first, &cmd.args, &final_val),
            _ => {}
        }
        self.at = Some(At::Arg(first));
        self.not_a_function(&cmd.args, first, &final_val)?;
        match first {
            Arg::Bool { val, .. } => Ok(Val::Bool(*val)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => self.errorf("nil is not a command"),
            Arg::Number { num, .. } => self.ideal_constant(first, num),
            Arg::Str { text, .. } => Ok(Val::Str(text.clone())),
            _ => self.errorf(format!(
                "can't evaluate command {}",
                go_quote(&first.to_string())
            )),
        }
    }

    fn ideal_constant(&mut self, node: &'t Arg, num: &Number) -> EResult<Val> {
        self.at = Some(At::Arg(node));
        let text = &num.text;
        let hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        let rune_int = text.starts_with('\'');
        if num.is_float && !hex_int && !rune_int && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Val::Float(num.float));
        }
        if num.is_int {
            return Ok(Val::Int(num.int));
        }
        if num.is_uint {
            return self.errorf(format!("{text} overflows int"));
        }
        Ok(Val::Invalid)
    }

    /// Fields of nil are nil (`<no value>`); fields of anything else (strings, numbers) are an error.
    fn eval_field_chain(&mut self, node: &'t Arg, receiver: Val, ident: &[String]) -> EResult<Val> {
        if matches!(node, Arg::Field { .. }) {
            self.at = Some(At::Arg(node));
        }
        for name in ident {
            if receiver == Val::Invalid {
                continue;
            }
            return self.errorf(format!(
                "can't evaluate field {name} in type {}",
                type_name(&receiver)
            ));
        }
        Ok(receiver)
    }

    fn eval_chain_node(&mut self, dot: &Val, chain: &'t Arg) -> EResult<Val> {
        self.at = Some(At::Arg(chain));
        let Arg::Chain { node, field, .. } = chain else {
            return Ok(Val::Invalid);
        };
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return self.errorf(format!("indirection through explicit nil in {chain}"));
        }
        let receiver = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(chain, receiver, field)
    }

    fn eval_variable_node(
        &mut self,
        var: &'t Arg,
        args: &[Arg],
        final_val: &Option<Val>,
    ) -> EResult<Val> {
        self.at = Some(At::Arg(var));
        let Arg::Variable { ident, .. } = var else {
            return Ok(Val::Invalid);
        };
        let value = self.var_value(&ident[0])?;
        if ident.len() == 1 {
            self.not_a_function(args, var, final_val)?;
            return Ok(value);
        }
        self.eval_field_chain(var, value, &ident[1..])
    }

    fn eval_function(
        &mut self,
        dot: &Val,
        ident: &'t Arg,
        cmd: At<'t>,
        args: &'t [Arg],
        final_val: Option<Val>,
    ) -> EResult<Val> {
        self.at = Some(At::Arg(ident));
        let Arg::Identifier { name, .. } = ident else {
            return Ok(Val::Invalid);
        };
        let Some(func) = Func::lookup(name) else {
            return self.errorf(format!("{} is not a defined function", go_quote(name)));
        };
        self.eval_call(
            dot,
            func,
            cmd,
            name,
            args.get(1..).unwrap_or(&[]),
            final_val,
        )
    }

    fn eval_call(
        &mut self,
        dot: &Val,
        func: Func,
        cmd: At<'t>,
        name: &str,
        args: &'t [Arg],
        final_val: Option<Val>,
    ) -> EResult<Val> {
        let (fixed, variadic) = func.signature();
        let num_in = args.len() + usize::from(final_val.is_some());
        let num_fixed = if variadic.is_some() {
            if num_in < fixed.len() {
                return self.errorf(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    fixed.len(),
                    args.len()
                ));
            }
            fixed.len()
        } else {
            if num_in != fixed.len() {
                return self.errorf(format!(
                    "wrong number of args for {name}: want {} got {num_in}",
                    fixed.len()
                ));
            }
            args.len()
        };

        if func == Func::And || func == Func::Or {
            let mut v = Val::Invalid;
            for arg in args {
                v = self.eval_arg(dot, Some(Param::Value), arg)?;
                if truth(&v) == (func == Func::Or) {
                    return Ok(v);
                }
            }
            if let Some(f) = final_val {
                v = self.validate_type(f, Some(Param::Value))?;
            }
            return Ok(v);
        }

        let mut argv = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, fixed.get(i).copied(), &args[i])?);
            i += 1;
        }
        if let Some(elem) = variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, Some(elem), &args[i])?);
                i += 1;
            }
        }
        if let Some(f) = final_val.clone() {
            let typ = match variadic {
                Some(elem) if num_in > num_fixed => elem,
                _ => fixed.get(num_in - 1).copied().unwrap_or(Param::Any),
            };
            argv.push(self.validate_type(f, Some(typ))?);
        }

        let result = match func {
            Func::Call => {
                let callee = match args.first() {
                    Some(a) => a.to_string(),
                    None => match &final_val {
                        Some(Val::Str(s)) => s.clone(),
                        Some(Val::Invalid) | None => "<invalid Value>".to_owned(),
                        Some(v) => format!("<{} Value>", type_name(v)),
                    },
                };
                match argv.first() {
                    None | Some(Val::Invalid) => Err("call of nil".to_owned()),
                    Some(v) => Err(format!("non-function {callee} of type {}", type_name(v))),
                }
            }
            _ => self.call_builtin(func, &argv),
        };
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                self.at = Some(cmd);
                self.errorf(format!("error calling {name}: {e}"))
            }
        }
    }

    fn call_builtin(&self, func: Func, argv: &[Val]) -> Result<Val, String> {
        let arg = |i: usize| argv.get(i).cloned().unwrap_or(Val::Invalid);
        let str_arg = |i: usize| match argv.get(i) {
            Some(Val::Str(s)) => s.clone(),
            _ => String::new(),
        };
        Ok(match func {
            Func::FromCdLabel => {
                Val::Str(self.labels.get(&str_arg(0)).cloned().unwrap_or_default())
            }
            Func::Printf => Val::Str(go_sprintf(&str_arg(0), argv.get(1..).unwrap_or(&[]))?),
            Func::Print => Val::Str(go_sprint(argv, false)?),
            Func::Println => Val::Str(go_sprint(argv, true)?),
            Func::Html => Val::Str(html_escape(&eval_args(argv)?)),
            Func::Js => Val::Str(js_escape(&eval_args(argv)?)),
            Func::UrlQuery => Val::Str(url_query_escape(&eval_args(argv)?)),
            Func::Len => match arg(0) {
                Val::Str(s) => Val::Int(s.len() as i64),
                Val::Invalid => {
                    return Err("reflect: call of reflect.Value.Type on zero Value".into())
                }
                other => return Err(format!("len of type {}", type_name(&other))),
            },
            Func::Index => builtin_index(&arg(0), argv.get(1..).unwrap_or(&[]))?,
            Func::Slice => builtin_slice(&arg(0), argv.get(1..).unwrap_or(&[]))?,
            Func::Not => Val::Bool(!truth(&arg(0))),
            Func::Eq => Val::Bool(builtin_eq(&arg(0), argv.get(1..).unwrap_or(&[]))?),
            Func::Ne => Val::Bool(!builtin_eq(&arg(0), std::slice::from_ref(&arg(1)))?),
            Func::Lt => Val::Bool(builtin_lt(&arg(0), &arg(1))?),
            Func::Le => Val::Bool(builtin_le(&arg(0), &arg(1))?),
            Func::Gt => Val::Bool(!builtin_le(&arg(0), &arg(1))?),
            Func::Ge => Val::Bool(!builtin_lt(&arg(0), &arg(1))?),
            Func::And | Func::Or | Func::Call => Val::Invalid,
        })
    }

    /// `validateType` for the value types a template can produce.
    fn validate_type(&self, value: Val, typ: Option<Param>) -> EResult<Val> {
        match (value, typ) {
            (Val::Invalid, Some(Param::Str)) => self.errorf("invalid value; expected string"),
            (v @ Val::Str(_), _) => Ok(v),
            (v, Some(Param::Str)) => self.errorf(format!(
                "wrong type for value; expected string; got {}",
                type_name(&v)
            )),
            (v, _) => Ok(v),
        }
    }

    fn eval_arg(&mut self, dot: &Val, typ: Option<Param>, node: &'t Arg) -> EResult<Val> {
        self.at = Some(At::Arg(node));
        match node {
            Arg::Dot { .. } => return self.validate_type(dot.clone(), typ),
            Arg::Nil { .. } => {
                return match typ {
                    Some(Param::Str) => self.errorf("cannot assign nil to string"),
                    _ => Ok(Val::Invalid),
                }
            }
            Arg::Field { ident, .. } => {
                let v = self.eval_field_chain(node, dot.clone(), ident)?;
                return self.validate_type(v, typ);
            }
            Arg::Variable { .. } => {
                let v = self.eval_variable_node(node, &[], &None)?;
                return self.validate_type(v, typ);
            }
            Arg::Pipe(p) => {
                let v = self.eval_pipeline(dot, Some(p))?;
                return self.validate_type(v, typ);
            }
            Arg::Identifier { .. } => {
                let v = self.eval_function(dot, node, At::Arg(node), &[], None)?;
                return self.validate_type(v, typ);
            }
            Arg::Chain { .. } => {
                let v = self.eval_chain_node(dot, node)?;
                return self.validate_type(v, typ);
            }
            _ => {}
        }
        if typ == Some(Param::Str) {
            return match node {
                Arg::Str { text, .. } => Ok(Val::Str(text.clone())),
                other => self.errorf(format!("expected string; found {other}")),
            };
        }
        match node {
            Arg::Bool { val, .. } => Ok(Val::Bool(*val)),
            Arg::Number { num, .. } => self.ideal_constant(node, num),
            Arg::Str { text, .. } => Ok(Val::Str(text.clone())),
            other => self.errorf(format!(
                "can't handle assignment of {other} to empty interface argument"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Expected strings in the generated-looking tests were produced by Go 1.26 `text/template` with Hive's setup
    //! (`template.New("cdParams").Funcs(fromCDLabel)`, `Execute(buf, nil)`) and the labels below.
    use super::*;
    use serde_json::json;

    fn labels() -> BTreeMap<String, String> {
        [
            ("env", "prod"),
            ("n", "4"),
            ("region", "us-east-1"),
            ("empty", ""),
            ("name", "cluster-a"),
            ("pct", "50%"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[track_caller]
    fn ok(template: &str) -> String {
        match render(template, &labels()) {
            Ok(out) => out,
            Err(e) => panic!("{template:?} failed: {e:?}"),
        }
    }

    #[track_caller]
    fn parse_err(template: &str) -> String {
        match render(template, &labels()) {
            Err(TemplateError::Parse(m)) => m,
            other => panic!("{template:?}: expected a parse error, got {other:?}"),
        }
    }

    #[track_caller]
    fn exec_err(template: &str) -> String {
        match render(template, &labels()) {
            Err(TemplateError::Exec(m)) => m,
            other => panic!("{template:?}: expected an execution error, got {other:?}"),
        }
    }

    #[test]
    fn from_cd_label_substitutes_label_values() {
        assert_eq!(ok(r#"{{ fromCDLabel "env" }}"#), "prod");
        assert_eq!(
            ok(r#"cm-{{ fromCDLabel "name" }}-{{ fromCDLabel "region" }}"#),
            "cm-cluster-a-us-east-1"
        );
        assert_eq!(ok(r#"{{fromCDLabel "n"}}"#), "4");
    }

    #[test]
    fn from_cd_label_missing_or_empty_label_is_empty_string() {
        assert_eq!(ok(r#"[{{ fromCDLabel "missing" }}]"#), "[]");
        assert_eq!(ok(r#"[{{ fromCDLabel "empty" }}]"#), "[]");
        assert_eq!(ok(r#"[{{ fromCDLabel "" }}]"#), "[]");
    }

    #[test]
    fn from_cd_label_in_pipelines() {
        assert_eq!(ok(r#"{{ fromCDLabel "env" | printf "%s-y" }}"#), "prod-y");
        assert_eq!(ok(r#"{{ "env" | fromCDLabel }}"#), "prod");
        assert_eq!(ok(r#"{{ fromCDLabel (fromCDLabel "key-of-key") }}"#), "");
        assert_eq!(ok(r#"{{ fromCDLabel "env" | len }}"#), "4");
    }

    #[test]
    fn dot_and_dollar_are_nil_and_never_expose_labels() {
        assert_eq!(ok("{{ . }}"), "<no value>");
        assert_eq!(ok("{{ $ }}"), "<no value>");
        assert_eq!(ok("{{ .Foo }}"), "<no value>");
        assert_eq!(ok("{{ .Foo.Bar }}"), "<no value>");
        assert_eq!(ok("{{ $.env }}"), "<no value>");
        assert_eq!(ok(r#"{{ printf "%v" . }}"#), "<nil>");
        assert_eq!(ok(r#"{{ .Foo "arg" }}"#), "<no value>");
    }

    #[test]
    fn literals() {
        assert_eq!(
            ok(r#"{{ "s" }}|{{ `raw\n` }}|{{ 42 }}|{{ -7 }}|{{ true }}|{{ false }}"#),
            r#"s|raw\n|42|-7|true|false"#
        );
        assert_eq!(
            ok("{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}"),
            "31 15 15 5 1000"
        );
        assert_eq!(
            ok(r#"{{ 'a' }} {{ '\n' }} {{ '\x41' }} {{ 'é' }}"#),
            "97 10 65 233"
        );
        assert_eq!(
            ok("{{ 1.5 }} {{ 1e3 }} {{ 1.0 }} {{ 1e21 }} {{ 1e-7 }} {{ 0x1p4 }}"),
            "1.5 1000 1 1e+21 1e-07 16"
        );
        assert_eq!(ok(r#"{{ "\x41\101\u00e9\U0001F600\t|" }}"#), "AAé😀\t|");
    }

    #[test]
    fn text_without_actions_is_unchanged() {
        assert_eq!(ok("plain"), "plain");
        assert_eq!(ok("a }} b"), "a }} b");
        assert_eq!(ok("{ {"), "{ {");
        assert_eq!(ok("multi\nline\ttext"), "multi\nline\ttext");
        assert_eq!(ok("{{/* only a comment */}}"), "");
    }

    #[test]
    fn trim_markers() {
        assert_eq!(ok(r#"a  {{- "b" -}}  c"#), "abc");
        assert_eq!(
            ok("a\n\t{{- \"b\" }}\n c"),
            r#"ab
 c"#
        );
        assert_eq!(
            ok(r#"a {{ "b" -}}

 c"#),
            "a bc"
        );
        assert_eq!(ok(r#"{{- "x" -}}"#), "x");
        assert_eq!(ok("a {{- /* c */ -}} b"), "ab");
        assert_eq!(ok("{{-3}}"), "-3");
        assert_eq!(ok("{{- 3}}"), "3");
        assert_eq!(ok("{{3 -}}"), "3");
        assert_eq!(
            ok(r#"x
  {{- if true }}
  y
  {{- end }}
z"#),
            r#"x
  y
z"#
        );
    }

    #[test]
    fn comments() {
        assert_eq!(ok("a{{/* c */}}b"), "ab");
        assert_eq!(
            ok(r#"a{{- /* multi
line */ -}}  b"#),
            "ab"
        );
        assert_eq!(ok("{{/**/}}"), "");
    }

    #[test]
    fn if_else_if_else() {
        assert_eq!(ok("{{ if true }}yes{{ end }}"), "yes");
        assert_eq!(ok("{{ if false }}yes{{ else }}no{{ end }}"), "no");
        assert_eq!(
            ok(
                r#"{{ if eq (fromCDLabel "env") "dev" }}d{{ else if eq (fromCDLabel "env") "prod" }}p{{ else }}x{{ end }}"#
            ),
            "p"
        );
        assert_eq!(
            ok(
                r#"{{ if eq (fromCDLabel "env") "dev" }}d{{ else if eq (fromCDLabel "env") "qa" }}q{{ else }}other{{ end }}"#
            ),
            "other"
        );
        assert_eq!(
            ok(r#"{{ if fromCDLabel "empty" }}set{{ else }}unset{{ end }}"#),
            "unset"
        );
    }

    #[test]
    fn nested_if() {
        assert_eq!(
            ok("{{ if true }}a{{ if false }}b{{ else }}c{{ if 1 }}d{{ end }}{{ end }}e{{ end }}"),
            "acde"
        );
        assert_eq!(
            ok(
                r#"{{ if not (eq (fromCDLabel "env") "prod") }}np{{ else }}{{ if eq (fromCDLabel "n") "4" }}prod-4{{ end }}{{ end }}"#
            ),
            "prod-4"
        );
    }

    #[test]
    fn truthiness() {
        assert_eq!(
            ok(
                r#"{{ if "" }}T{{ else }}F{{ end }}{{ if "x" }}T{{ else }}F{{ end }}{{ if 0 }}T{{ else }}F{{ end }}{{ if 1 }}T{{ else }}F{{ end }}{{ if 0.0 }}T{{ else }}F{{ end }}{{ if . }}T{{ else }}F{{ end }}{{ if (index "\x00" 0) }}T{{ else }}F{{ end }}"#
            ),
            "FTFTFFF"
        );
    }

    #[test]
    fn with_and_else_with() {
        assert_eq!(
            ok(r#"{{ with fromCDLabel "env" }}[{{ . }}]{{ end }}"#),
            "[prod]"
        );
        assert_eq!(
            ok(r#"{{ with fromCDLabel "empty" }}[{{ . }}]{{ else }}none{{ end }}"#),
            "none"
        );
        assert_eq!(
            ok(
                r#"{{ with fromCDLabel "empty" }}a{{ else with fromCDLabel "env" }}b-{{ . }}{{ end }}"#
            ),
            "b-prod"
        );
        assert_eq!(
            ok(r#"{{ with $x := fromCDLabel "env" }}{{ $x }}{{ end }}"#),
            "prod"
        );
    }

    #[test]
    fn variables() {
        assert_eq!(ok(r#"{{ $x := "a" }}{{ $x }}"#), "a");
        assert_eq!(ok(r#"{{ $x := "a" }}{{ $x = "b" }}{{ $x }}"#), "b");
        assert_eq!(
            ok("{{ $x := 1 }}{{ if 1 }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"),
            "21"
        );
        assert_eq!(
            ok("{{ $x := 1 }}{{ if 1 }}{{ $x = 2 }}{{ end }}{{ $x }}"),
            "2"
        );
        assert_eq!(
            ok(r#"{{ $env := fromCDLabel "env" }}{{ if eq $env "prod" }}{{ $env }}!{{ end }}"#),
            "prod!"
        );
        assert_eq!(
            ok(r#"{{ if $x := fromCDLabel "env" }}{{ $x }}{{ else }}{{ $x }}none{{ end }}"#),
            "prod"
        );
    }

    #[test]
    fn range_over_integers_with_break_and_continue() {
        assert_eq!(ok("{{ range 3 }}{{ . }},{{ end }}"), "0,1,2,");
        assert_eq!(ok("{{ range $i := 4 }}{{ $i }}{{ end }}"), "0123");
        assert_eq!(ok("{{ range 0 }}x{{ else }}empty{{ end }}"), "empty");
        assert_eq!(ok("{{ range . }}x{{ else }}nil{{ end }}"), "nil");
        assert_eq!(
            ok("{{ range 5 }}{{ if eq . 3 }}{{ break }}{{ end }}{{ . }}{{ end }}"),
            "012"
        );
        assert_eq!(
            ok("{{ range 5 }}{{ if eq . 3 }}{{ continue }}{{ end }}{{ . }}{{ end }}"),
            "0124"
        );
        assert_eq!(ok(r#"{{ range len "abcd" }}{{ . }}{{ end }}"#), "0123");
    }

    #[test]
    fn define_template_and_block() {
        assert_eq!(
            ok(r#"{{ define "a" }}A{{ end }}{{ template "a" }}{{ template "a" }}"#),
            "AA"
        );
        assert_eq!(
            ok(r#"{{ define "a" }}<{{ . }}>{{ end }}{{ template "a" fromCDLabel "env" }}"#),
            "<prod>"
        );
        assert_eq!(ok(r#"{{ block "b" "x" }}[{{ . }}]{{ end }}"#), "[x]");
        assert_eq!(ok(r#"{{ define "cdParams" }}X{{ end }}"#), "X");
    }

    #[test]
    fn printf_verbs() {
        assert_eq!(
            ok(r#"{{ printf "%s|%d|%v|%q" "a" 42 "v" "q" }}"#),
            r#"a|42|v|"q""#
        );
        assert_eq!(
            ok(r#"{{ printf "%v|%v|%v|%v|%v" 1 "s" true 2.5 nil }}"#),
            "1|s|true|2.5|<nil>"
        );
        assert_eq!(
            ok(r#"{{ printf "%05d|%-5d|%+d|% d|%x|%X|%o|%b|%#x" 42 42 42 42 255 255 8 5 255 }}"#),
            "00042|42   |+42| 42|ff|FF|10|101|0xff"
        );
        assert_eq!(
            ok(r#"{{ printf "%5s|%-5s|%.2s|%q" "ab" "ab" "abcdef" "tab\there" }}"#),
            r#"   ab|ab   |ab|"tab\there""#
        );
        assert_eq!(
            ok(r#"{{ printf "%t|%c|%U|%x" true 65 0x1F600 "hi" }}"#),
            "true|A|U+1F600|6869"
        );
        assert_eq!(
            ok(
                r#"{{ printf "%f|%.2f|%e|%g|%8.3f|%v" 3.14159 3.14159 1234.5678 0.000012345 2.5 1e6 }}"#
            ),
            "3.141590|3.14|1.234568e+03|1.2345e-05|   2.500|1e+06"
        );
        assert_eq!(ok(r#"{{ printf "%[2]s-%[1]s" "a" "b" }}"#), "b-a");
        assert_eq!(
            ok(r#"{{ printf "%*d|%-*d|%.*f" 4 7 3 8 1 2.25 }}"#),
            "   7|8  |2.2"
        );
        assert_eq!(
            ok(r#"{{ printf "%%|%T|%T|%T" 1 "s" (index "a" 0) }}"#),
            "%|int|string|uint8"
        );
        assert_eq!(ok(r#"{{ printf "%s" (fromCDLabel "pct") }}"#), "50%");
    }

    #[test]
    fn printf_error_markers_like_go_fmt() {
        assert_eq!(ok(r#"{{ printf "%d" "abc" }}"#), "%!d(string=abc)");
        assert_eq!(ok(r#"{{ printf "%s" 5 }}"#), "%!s(int=5)");
        assert_eq!(ok(r#"{{ printf "%s %s" "a" }}"#), "a %!s(MISSING)");
        assert_eq!(ok(r#"{{ printf "%s" "a" "b" }}"#), "a%!(EXTRA string=b)");
        assert_eq!(ok(r#"{{ printf "%z" 3 }}"#), "%!z(int=3)");
        assert_eq!(ok(r#"{{ printf "%" }}"#), "%!(NOVERB)");
        assert_eq!(ok(r#"{{ printf "%[3]s" "a" }}"#), "%!s(BADINDEX)");
        assert_eq!(ok(r#"{{ printf "%d" nil }}"#), "%!d(<nil>)");
        assert_eq!(ok(r#"{{ printf (fromCDLabel "pct") }}"#), "50%!(NOVERB)");
    }

    #[test]
    fn print_println_html_js_urlquery() {
        assert_eq!(ok(r#"{{ print 1 2 "a" "b" 3 nil }}"#), "1 2ab3 <nil>");
        assert_eq!(
            ok(r#"{{ println 1 "a" }}"#),
            r#"1 a
"#
        );
        assert_eq!(
            ok(r#"{{ html "<a href='x'>&\"" }}"#),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"
        );
        assert_eq!(
            ok(r#"{{ js "a'b\"c<d>e&f=g\\h" }}"#),
            r#"a\'b\"c\u003Cd\u003Ee\u0026f\u003Dg\\h"#
        );
        assert_eq!(
            ok(r#"{{ urlquery "a b&c=d/é~" }}"#),
            "a+b%26c%3Dd%2F%C3%A9~"
        );
        assert_eq!(ok("{{ html nil }}"), "&lt;no value&gt;");
    }

    #[test]
    fn comparisons() {
        assert_eq!(
            ok(
                r#"{{ eq 1 1 }} {{ eq 1 2 }} {{ eq "a" "a" }} {{ eq 1 2 3 1 }} {{ eq . . }} {{ eq "a" . }}"#
            ),
            "true false true true true false"
        );
        assert_eq!(ok(r#"{{ ne 1 2 }} {{ ne "a" "a" }}"#), "true false");
        assert_eq!(
            ok(
                r#"{{ lt 1 2 }} {{ le 2 2 }} {{ gt 3 2 }} {{ ge 1 2 }} {{ lt "a" "b" }} {{ lt 1.5 2.5 }}"#
            ),
            "true true true false true true"
        );
        assert_eq!(
            ok(r#"{{ eq (index "a" 0) 97 }} {{ lt -1 (index "a" 0) }} {{ gt (index "a" 0) 100 }}"#),
            "true true false"
        );
    }

    #[test]
    fn and_or_not() {
        assert_eq!(
            ok(r#"{{ and 1 2 }}|{{ and 0 2 }}|{{ and "" "x" }}|{{ and 1 }}"#),
            "2|0||1"
        );
        assert_eq!(
            ok(r#"{{ or 0 "" }}|{{ or 0 "x" }}|{{ or . }}|{{ or "a" (len 3) }}"#),
            "|x|<no value>|a"
        );
        assert_eq!(
            ok(r#"{{ not true }} {{ not "" }} {{ not 0 }} {{ not . }}"#),
            "false true true true"
        );
        assert_eq!(ok(r#"{{ "x" | and 1 }}|{{ "" | or 0 }}"#), "x|");
        assert_eq!(
            ok(r#"{{ or (fromCDLabel "missing") "default" }}"#),
            "default"
        );
    }

    #[test]
    fn index_slice_len() {
        assert_eq!(
            ok(
                r#"{{ index "abc" 1 }} {{ index "abc" }} {{ printf "%c" (index (fromCDLabel "env") 0) }}"#
            ),
            "98 abc p"
        );
        assert_eq!(
            ok(r#"{{ slice "abcdef" 1 3 }} {{ slice "abcdef" 2 }} {{ slice "abcdef" }}"#),
            "bc cdef abcdef"
        );
        assert_eq!(
            ok(r#"{{ len "héllo" }} {{ len (fromCDLabel "region") }} {{ len "" }}"#),
            "6 9 0"
        );
    }

    #[test]
    fn pipelines_and_parentheses() {
        assert_eq!(ok(r#"{{ 1 | printf "%d" | printf "%s!" }}"#), "1!");
        assert_eq!(ok(r#"{{ "abc" | len }}"#), "3");
        assert_eq!(ok(r#"{{ len (printf "%d" 12345) }}"#), "5");
        assert_eq!(ok(r#"{{ (fromCDLabel "env") }}"#), "prod");
        assert_eq!(ok("{{ 2 | eq 2 }}"), "true");
        assert_eq!(ok(r#"{{ "a" | printf "%s%s" "b" }}"#), "ba");
        assert_eq!(ok(r#"{{ "a" | }}"#), "a");
    }

    #[test]
    fn parse_error_unclosed_action() {
        assert_eq!(
            parse_err(r#"{{ fromCDLabel "env""#),
            "template: cdParams:1: unclosed action"
        );
        assert_eq!(parse_err("{{"), "template: cdParams:1: unclosed action");
        assert_eq!(
            parse_err(
                r#"line1
{{ "x" 
"#
            ),
            "template: cdParams:3: unclosed action started at cdParams:2"
        );
        assert_eq!(
            parse_err(
                r#"{{ if
"#
            ),
            "template: cdParams:2: unclosed action started at cdParams:1"
        );
    }

    #[test]
    fn parse_error_unknown_function() {
        assert_eq!(
            parse_err("{{ foo }}"),
            r#"template: cdParams:1: function "foo" not defined"#
        );
        assert_eq!(
            parse_err(r#"{{ fromCdLabel "env" }}"#),
            r#"template: cdParams:1: function "fromCdLabel" not defined"#
        );
        assert_eq!(
            parse_err("{{ if bar }}{{ end }}"),
            r#"template: cdParams:1: function "bar" not defined"#
        );
    }

    #[test]
    fn parse_error_bad_pipeline() {
        assert_eq!(
            parse_err(r#"{{ "a" | "b" }}"#),
            "template: cdParams:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            parse_err(r#"{{ fromCDLabel "env" | 3 }}"#),
            "template: cdParams:1: non executable command in pipeline stage 2"
        );
        assert_eq!(
            parse_err(r#"{{ | "a" }}"#),
            r#"template: cdParams:1: unexpected "|" in command"#
        );
        assert_eq!(
            parse_err("{{ }}"),
            "template: cdParams:1: missing value for command"
        );
        assert_eq!(
            parse_err("{{ ( ) }}"),
            "template: cdParams:1: missing value for parenthesized pipeline"
        );
        assert_eq!(
            parse_err(r#"{{ "a" "b" | len }}x{{ 1 | nil }}"#),
            "template: cdParams:1: non executable command in pipeline stage 2"
        );
    }

    #[test]
    fn parse_error_unbalanced_control_structures() {
        assert_eq!(
            parse_err("{{ if true }}x"),
            "template: cdParams:1: unexpected EOF"
        );
        assert_eq!(
            parse_err("{{ end }}"),
            "template: cdParams:1: unexpected {{end}}"
        );
        assert_eq!(
            parse_err("{{ else }}"),
            "template: cdParams:1: unexpected {{else}}"
        );
        assert_eq!(
            parse_err("{{ if true }}x{{ else }}y{{ else }}z{{ end }}"),
            "template: cdParams:1: expected end; found {{else}}"
        );
        assert_eq!(
            parse_err("{{ range 1 }}{{ end }}{{ break }}"),
            "template: cdParams:1: {{break}} outside {{range}}"
        );
        assert_eq!(
            parse_err("{{ with }}{{ end }}"),
            "template: cdParams:1: missing value for with"
        );
    }

    #[test]
    fn parse_error_bad_tokens() {
        assert_eq!(
            parse_err(r#"{{ "unterminated }}"#),
            "template: cdParams:1: unterminated quoted string"
        );
        assert_eq!(
            parse_err("{{ `unterminated }}"),
            "template: cdParams:1: unterminated raw quoted string"
        );
        assert_eq!(
            parse_err("{{ 'ab' }}"),
            "template: cdParams:1: malformed character constant: 'ab'"
        );
        assert_eq!(
            parse_err("{{ 1a }}"),
            r#"template: cdParams:1: bad number syntax: "1a""#
        );
        assert_eq!(
            parse_err("{{ 08 }}"),
            r#"template: cdParams:1: integer overflow: "08""#
        );
        assert_eq!(
            exec_err("{{ 9223372036854775808 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <9223372036854775808>: 9223372036854775808 overflows int"#
        );
        assert_eq!(
            parse_err("{{ foo€ }}"),
            "template: cdParams:1: bad character U+20AC '€'"
        );
        assert_eq!(
            parse_err("{{ € }}"),
            "template: cdParams:1: unrecognized character in action: U+20AC '€'"
        );
        assert_eq!(
            parse_err(r#"{{ ("a" }}"#),
            "template: cdParams:1: unclosed left paren"
        );
        assert_eq!(
            parse_err(r#"{{ "a") }}"#),
            "template: cdParams:1: unexpected right paren"
        );
        assert_eq!(
            parse_err(r#"{{ "\q" }}"#),
            "template: cdParams:1: invalid syntax"
        );
        assert_eq!(
            parse_err("{{ $x }}"),
            r#"template: cdParams:1: undefined variable "$x""#
        );
        assert_eq!(
            parse_err(r#"{{ "a".Foo }}"#),
            r#"template: cdParams:1: unexpected . after term "\"a\"""#
        );
        assert_eq!(
            parse_err("a {{/* unclosed"),
            "template: cdParams:1: unclosed comment"
        );
        assert_eq!(
            parse_err(r#"{{/* c */ "x" }}"#),
            "template: cdParams:1: comment ends before closing delimiter"
        );
        assert_eq!(
            parse_err("{{ x := 1 }}"),
            r#"template: cdParams:1: function "x" not defined"#
        );
    }

    #[test]
    fn parse_error_template_definitions() {
        assert_eq!(
            parse_err(r#"{{ define "a" }}1{{ end }}{{ define "a" }}2{{ end }}"#),
            r#"template: cdParams:1: template: multiple definition of template "a""#
        );
        assert_eq!(
            parse_err(r#"{{ if true }}{{ define "a" }}{{ end }}{{ end }}"#),
            "template: cdParams:1: unexpected <define> in command"
        );
        assert_eq!(
            parse_err(r#"{{ define "a" }}x{{ else }}y{{ end }}"#),
            "template: cdParams:1: unexpected {{else}} in define clause"
        );
        assert_eq!(
            parse_err("{{ define 3 }}{{ end }}"),
            r#"template: cdParams:1: unexpected "3" in define clause"#
        );
    }

    #[test]
    fn exec_error_wrong_number_of_args() {
        assert_eq!(
            exec_err("{{ fromCDLabel }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <fromCDLabel>: wrong number of args for fromCDLabel: want 1 got 0"#
        );
        assert_eq!(
            exec_err(r#"{{ fromCDLabel "a" "b" }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <fromCDLabel>: wrong number of args for fromCDLabel: want 1 got 2"#
        );
        assert_eq!(
            exec_err("{{ len }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <len>: wrong number of args for len: want 1 got 0"#
        );
        assert_eq!(
            exec_err("{{ printf }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <printf>: wrong number of args for printf: want at least 1 got 0"#
        );
        assert_eq!(
            exec_err("{{ eq 1 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <eq 1>: error calling eq: missing argument for comparison"#
        );
        assert_eq!(
            exec_err("{{ and }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <and>: wrong number of args for and: want at least 1 got 0"#
        );
        assert_eq!(
            exec_err("{{ not 1 2 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <not>: wrong number of args for not: want 1 got 2"#
        );
    }

    #[test]
    fn exec_error_wrong_argument_types() {
        assert_eq!(
            exec_err("{{ fromCDLabel 3 }}"),
            r#"template: cdParams:1:15: executing "cdParams" at <3>: expected string; found 3"#
        );
        assert_eq!(
            exec_err("{{ fromCDLabel nil }}"),
            r#"template: cdParams:1:15: executing "cdParams" at <nil>: cannot assign nil to string"#
        );
        assert_eq!(
            exec_err("{{ fromCDLabel . }}"),
            r#"template: cdParams:1:15: executing "cdParams" at <.>: invalid value; expected string"#
        );
        assert_eq!(
            exec_err("{{ 3 | fromCDLabel }}"),
            r#"template: cdParams:1:7: executing "cdParams" at <fromCDLabel>: wrong type for value; expected string; got int"#
        );
        assert_eq!(
            exec_err("{{ printf 3 }}"),
            r#"template: cdParams:1:10: executing "cdParams" at <3>: expected string; found 3"#
        );
        assert_eq!(
            exec_err(r#"{{ fromCDLabel (len "ab") }}"#),
            r#"template: cdParams:1:20: executing "cdParams" at <"ab">: wrong type for value; expected string; got int"#
        );
    }

    #[test]
    fn exec_error_from_builtins() {
        assert_eq!(
            exec_err(r#"{{ eq 1 "a" }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <eq 1 "a">: error calling eq: incompatible types for comparison: int and string"#
        );
        assert_eq!(
            exec_err("{{ lt true false }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <lt true false>: error calling lt: invalid type for comparison"#
        );
        assert_eq!(
            exec_err("{{ lt . 1 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <lt . 1>: error calling lt: invalid type for comparison"#
        );
        assert_eq!(
            exec_err(r#"{{ index "abc" 3 }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <index "abc" 3>: error calling index: reflect: string index out of range"#
        );
        assert_eq!(
            exec_err(r#"{{ index "abc" 4 }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <index "abc" 4>: error calling index: index out of range: 4"#
        );
        assert_eq!(
            exec_err("{{ index 5 1 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <index 5 1>: error calling index: can't index item of type int"#
        );
        assert_eq!(
            exec_err("{{ index . 1 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <index . 1>: error calling index: index of untyped nil"#
        );
        assert_eq!(
            exec_err(r#"{{ slice "abcdef" 3 1 }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <slice "abcdef" 3 1>: error calling slice: invalid slice index: 3 > 1"#
        );
        assert_eq!(
            exec_err("{{ len 3 }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <len 3>: error calling len: len of type int"#
        );
        assert_eq!(
            exec_err("{{ len . }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <len .>: error calling len: reflect: call of reflect.Value.Type on zero Value"#
        );
        assert_eq!(
            exec_err(r#"{{ call "x" }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <call "x">: error calling call: non-function "x" of type string"#
        );
        assert_eq!(
            exec_err("{{ call . }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <call .>: error calling call: call of nil"#
        );
        assert_eq!(
            exec_err(
                r#"ab
 cd{{ index "x" 5 }}"#
            ),
            r#"template: cdParams:2:6: executing "cdParams" at <index "x" 5>: error calling index: index out of range: 5"#
        );
    }

    #[test]
    fn exec_error_non_function_and_nil_commands() {
        assert_eq!(
            exec_err(r#"{{ "a" "b" }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <"a">: can't give argument to non-function "a""#
        );
        assert_eq!(
            exec_err("{{ nil }}"),
            r#"template: cdParams:1:3: executing "cdParams" at <nil>: nil is not a command"#
        );
        assert_eq!(
            exec_err(r#"{{ $ "a" }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <$>: can't give argument to non-function $"#
        );
        assert_eq!(
            exec_err(r#"{{ ("x") "y" }}"#),
            r#"template: cdParams:1:3: executing "cdParams" at <("x") "y">: can't give argument to non-function "x""#
        );
        assert_eq!(
            exec_err(r#"{{ with "x" }}{{ .Foo }}{{ end }}"#),
            r#"template: cdParams:1:17: executing "cdParams" at <.Foo>: can't evaluate field Foo in type string"#
        );
        assert_eq!(
            exec_err(r#"{{ range "abc" }}x{{ end }}"#),
            r#"template: cdParams:1:9: executing "cdParams" at <"abc">: range can't iterate over abc"#
        );
        assert_eq!(
            exec_err(r#"{{ template "nope" }}"#),
            r#"template: cdParams:1:12: executing "cdParams" at <{{template "nope"}}>: template "nope" not defined"#
        );
        assert_eq!(
            exec_err(r#"{{ define "a" }}{{ len 3 }}{{ end }}{{ template "a" }}"#),
            r#"template: cdParams:1:19: executing "a" at <len 3>: error calling len: len of type int"#
        );
    }

    // ----- Hive resource and patch templating (HIVE-COMPAT.md §1.6, §10.1 #32) -----

    #[test]
    fn render_value_templates_every_string_value_but_never_keys() {
        let resource = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "cm-{{ fromCDLabel \"name\" }}",
                "namespace": "{{ fromCDLabel \"env\" }}",
                "labels": {"{{ key }}": "{{ fromCDLabel \"region\" }}"}
            },
            "data": {"missing": "{{ fromCDLabel \"missing\" }}", "plain": "plain"}
        });
        let rendered = render_value(&resource, &labels()).unwrap();
        assert_eq!(
            rendered,
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "cm-cluster-a", "namespace": "prod", "labels": {"{{ key }}": "us-east-1"}},
                "data": {"missing": "", "plain": "plain"}
            })
        );
    }

    #[test]
    fn render_value_non_string_schema_field_yields_a_string() {
        let resource = json!({"spec": {"replicas": 3, "probe": {"failureThreshold": "{{ fromCDLabel \"n\" }}", "periodSeconds": 10}}});
        let rendered = render_value(&resource, &labels()).unwrap();
        assert_eq!(rendered["spec"]["probe"]["failureThreshold"], json!("4"));
        assert_eq!(rendered["spec"]["probe"]["periodSeconds"], json!(10));
        assert_eq!(rendered["spec"]["replicas"], json!(3));
    }

    #[test]
    fn render_value_recurses_through_lists_and_leaves_other_values_alone() {
        let resource = json!({
            "apiVersion": "{{ fromCDLabel \"env\" }}.example.com/v1",
            "args": ["--env={{ fromCDLabel \"env\" }}", true, null, 1.5, "", ["{{ 1 }}"]],
            "empty": "",
            "null": null,
            "obj": {}
        });
        let rendered = render_value(&resource, &labels()).unwrap();
        assert_eq!(
            rendered,
            json!({
                "apiVersion": "prod.example.com/v1",
                "args": ["--env=prod", true, null, 1.5, "", ["1"]],
                "empty": "",
                "null": null,
                "obj": {}
            })
        );
    }

    #[test]
    fn render_value_without_templates_is_identity() {
        let resource = json!({"kind": "Secret", "data": {"a": "b"}, "n": [1, 2, {"x": "y"}]});
        assert_eq!(render_value(&resource, &labels()).unwrap(), resource);
    }

    #[test]
    fn render_value_parse_error_wording_matches_hive() {
        let err = render_value(&json!({"kind": "{{ bad"}), &labels()).unwrap_err();
        assert_eq!(
            err,
            r#"Failed to apply template to value "{{ bad": failed to parse template string "{{ bad": template: cdParams:1: function "bad" not defined"#
        );
    }

    #[test]
    fn render_value_exec_error_wording_matches_hive() {
        let err = render_value(&json!({"kind": "{{ fromCDLabel }}"}), &labels()).unwrap_err();
        assert_eq!(
            err,
            r#"Failed to apply template to value "{{ fromCDLabel }}": failed to execute template on string "{{ fromCDLabel }}": template: cdParams:1:3: executing "cdParams" at <fromCDLabel>: wrong number of args for fromCDLabel: want 1 got 0"#
        );
    }

    #[test]
    fn render_value_error_shows_the_top_level_value_with_earlier_strings_rendered() {
        // Hive prints `%#v` of the top-level field's value, after rendering what came before the failure.
        let resource = json!({"spec": {"list": ["{{ fromCDLabel \"env\" }}", "{{ index \"x\" 9 }}", "{{ fromCDLabel \"n\" }}"]}});
        let err = render_value(&resource, &labels()).unwrap_err();
        assert_eq!(
            err,
            r#"Failed to apply template to value map[string]interface {}{"list":[]interface {}{"prod", "{{ index \"x\" 9 }}", "{{ fromCDLabel \"n\" }}"}}: failed to execute template on string "{{ index \"x\" 9 }}": template: cdParams:1:3: executing "cdParams" at <index "x" 9>: error calling index: index out of range: 9"#
        );
    }

    #[test]
    fn render_value_error_formats_values_like_go_sharp_v() {
        let resource = json!({"metadata": {"name": "{{ foo }}", "labels": null, "n": 1, "f": 2.5, "t": true, "big": 1e21}});
        let err = render_value(&resource, &labels()).unwrap_err();
        assert_eq!(
            err,
            r#"Failed to apply template to value map[string]interface {}{"big":1e+21, "f":2.5, "labels":interface {}(nil), "n":1, "name":"{{ foo }}", "t":true}: failed to parse template string "{{ foo }}": template: cdParams:1: function "foo" not defined"#
        );
    }

    #[test]
    fn go_sharp_v_matches_go() {
        let v = json!({"a": [1, 2.5, "x\t\"", null, {"b": true}], "c": 1e21, "d": [], "e": {}});
        assert_eq!(
            go_sharp_v(&v, 0),
            r#"map[string]interface {}{"a":[]interface {}{1, 2.5, "x\t\"", interface {}(nil), map[string]interface {}{"b":true}}, "c":1e+21, "d":[]interface {}{}, "e":map[string]interface {}{}}"#
        );
        assert_eq!(go_sharp_v(&json!(null), 0), "<nil>");
        assert_eq!(go_sharp_v(&json!("é\u{a0}"), 0), r#""é\u00a0""#);
    }

    #[test]
    fn render_patch_renders_the_whole_string() {
        let patch = r#"{"data": {"env": "{{ fromCDLabel "env" }}", "n": {{ fromCDLabel "n" }}}}"#;
        assert_eq!(
            render_patch(patch, &labels()).unwrap(),
            r#"{"data": {"env": "prod", "n": 4}}"#
        );
        assert_eq!(render_patch("", &labels()).unwrap(), "");
        assert_eq!(
            render_patch(r#"{"a": 1}"#, &labels()).unwrap(),
            r#"{"a": 1}"#
        );
    }

    #[test]
    fn render_patch_error_wording_matches_hive() {
        assert_eq!(
            render_patch(r#"{"a": "{{ nope }}"}"#, &labels()).unwrap_err(),
            r#"failed to parse template string "{\"a\": \"{{ nope }}\"}": template: cdParams:1: function "nope" not defined"#
        );
        assert_eq!(
            render_patch("{{ len 3 }}", &labels()).unwrap_err(),
            r#"failed to execute template on string "{{ len 3 }}": template: cdParams:1:3: executing "cdParams" at <len 3>: error calling len: len of type int"#
        );
    }

    #[test]
    fn labels_are_read_per_call() {
        let mut other = BTreeMap::new();
        other.insert("env".to_owned(), "staging".to_owned());
        assert_eq!(
            render(r#"{{ fromCDLabel "env" }}"#, &other).unwrap(),
            "staging"
        );
        assert_eq!(
            render(r#"{{ fromCDLabel "env" }}"#, &labels()).unwrap(),
            "prod"
        );
        assert_eq!(
            render(r#"{{ fromCDLabel "env" }}"#, &BTreeMap::new()).unwrap(),
            ""
        );
    }

    #[test]
    fn template_error_displays_the_go_message() {
        let err = render("{{ foo }}", &labels()).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"template: cdParams:1: function "foo" not defined"#
        );
        assert_eq!(err.message(), err.to_string());
    }

    // ----- Documented divergences and guard rails -----

    #[test]
    fn complex_literals_are_rejected() {
        assert_eq!(
            parse_err("{{ 1+2i }}"),
            r#"template: cdParams:1: complex numbers are not supported: "1+2i""#
        );
    }

    #[test]
    fn nesting_is_limited_without_overflowing_the_stack() {
        let depth_ok = MAX_NESTING - 1;
        let parens = format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(depth_ok),
            ")".repeat(depth_ok)
        );
        assert_eq!(ok(&parens), "1");
        let too_deep = format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        assert_eq!(
            parse_err(&too_deep),
            "template: cdParams:1: max expression depth exceeded"
        );
        let ifs = format!(
            "{}x{}",
            "{{ if 1 }}".repeat(depth_ok),
            "{{ end }}".repeat(depth_ok)
        );
        assert_eq!(ok(&ifs), "x");
        let ifs = format!(
            "{}x{}",
            "{{ if 1 }}".repeat(MAX_NESTING + 1),
            "{{ end }}".repeat(MAX_NESTING + 1)
        );
        assert_eq!(
            parse_err(&ifs),
            "template: cdParams:1: max expression depth exceeded"
        );
    }

    #[test]
    fn execution_is_bounded() {
        let recursive = r#"{{ define "r" }}{{ template "r" }}{{ end }}{{ template "r" }}"#;
        assert!(exec_err(recursive).ends_with(&format!(
            "exceeded maximum template depth ({MAX_EXEC_DEPTH})"
        )));
        assert!(exec_err("{{ range 100000000 }}{{ end }}")
            .ends_with("template execution exceeds 1000000 steps"));
        assert!(exec_err(r#"{{ printf "%10000000d" 1 }}"#)
            .ends_with("error calling printf: formatted output exceeds 4194304 bytes"));
        let doubling = format!(
            r#"{{{{ $x := "{}" }}}}{}"#,
            "a".repeat(1024),
            r#"{{ $x = printf "%s%s" $x $x }}"#.repeat(20)
        );
        assert!(exec_err(&doubling).ends_with("formatted output exceeds 4194304 bytes"));
    }

    /// A tiny deterministic PRNG so the fuzz test needs no extra dependency.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn fuzz_random_and_garbled_templates_never_panic() {
        const FRAGMENTS: &[&str] = &[
            "{{",
            "}}",
            "{{-",
            "-}}",
            " ",
            "\"",
            "`",
            "'",
            "(",
            ")",
            "|",
            "$",
            "$x",
            ":=",
            "=",
            ".",
            ".Foo",
            ",",
            "fromCDLabel",
            "\"env\"",
            "printf",
            "\"%s\"",
            "\"%d\"",
            "\"%v\"",
            "%",
            "if",
            "else",
            "end",
            "range",
            "with",
            "define",
            "template",
            "block",
            "break",
            "continue",
            "nil",
            "true",
            "1",
            "0",
            "-1",
            "3.5",
            "1e3",
            "0x1F",
            "'a'",
            "eq",
            "lt",
            "and",
            "or",
            "not",
            "len",
            "index",
            "slice",
            "print",
            "html",
            "js",
            "urlquery",
            "call",
            "foo",
            "\n",
            "/*",
            "*/",
            "é",
            "€",
            "\\",
            "x",
            "{{ if true }}",
            "{{ end }}",
            "{{ range 3 }}",
            "{{ $x := 1 }}",
            "{{ . }}",
            "{{ fromCDLabel \"env\" }}",
            "\u{0}",
            "\u{a0}",
            "😀",
            "\r",
        ];
        const CHARS: &[char] = &[
            '{', '}', '-', '"', '`', '\'', '(', ')', '|', '$', ':', '=', '.', ',', '/', '*', '\\',
            ' ', '\t', '\n', '0', '1', '9', 'a', 'x', 'e', 'p', 'i', '_', '+', '%', 'é', '€',
            '\u{7f}', '\u{1}', '😀',
        ];
        let labels = labels();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for round in 0..6000 {
            let mut s = String::new();
            let n = 1 + rng.below(24);
            for _ in 0..n {
                if round % 2 == 0 {
                    s.push_str(FRAGMENTS[rng.below(FRAGMENTS.len())]);
                } else {
                    s.push(CHARS[rng.below(CHARS.len())]);
                }
            }
            let first = render(&s, &labels);
            assert_eq!(
                first,
                render(&s, &labels),
                "non-deterministic result for {s:?}"
            );
            let _ = render_value(&json!({"k": s, "l": [s]}), &labels);
            let _ = render_patch(&s, &labels);
        }
    }

    #[test]
    fn fuzz_random_printf_formats_never_panic() {
        const PIECES: &[&str] = &[
            "%", "#", "0", "+", "-", " ", "[", "]", "1", "2", "9", ".", "*", "v", "s", "d", "q",
            "x", "X", "o", "O", "b", "c", "U", "t", "f", "F", "e", "E", "g", "G", "T", "p", "w",
            "z", "é", "|",
        ];
        const ARGS: &[&str] = &[
            "1",
            "-1",
            "0",
            "255",
            "3.25",
            "-0.5",
            "1e20",
            "5e-324",
            "\"abc\"",
            "\"héllo\"",
            "\"\"",
            "true",
            "nil",
            "'x'",
            "(index \"é\" 0)",
            ".",
        ];
        let labels = labels();
        let mut rng = XorShift(42);
        for _ in 0..3000 {
            let format: String = (0..1 + rng.below(10))
                .map(|_| PIECES[rng.below(PIECES.len())])
                .collect();
            let args: Vec<&str> = (0..rng.below(4))
                .map(|_| ARGS[rng.below(ARGS.len())])
                .collect();
            let template = format!("{{{{ printf {} {} }}}}", go_quote(&format), args.join(" "));
            assert!(render(&template, &labels).is_ok(), "{template}");
        }
    }
}
