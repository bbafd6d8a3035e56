//! Values and builtins, ported from `text/template/funcs.go`: the values a nil-data template can produce ([`Val`]),
//! Go's truth rules, the builtin function table with its Go signatures ([`Func`], [`Param`]) including
//! `fromCDLabel`, and the builtins that need no execution state (`eq`/`lt`/`le`, `index`, `slice`, `html`, `js`,
//! `urlquery` and `evalArgs`).

use std::rc::Rc;

use super::gofmt::{go_format_float, go_sprint, Formatted, Overflow};
use super::quote::is_go_print;

/// The values a template can produce with nil data.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Val {
    /// Go's zero `reflect.Value`: nil data, `.Field` of nil, `nil` passed to a builtin. Prints `<no value>`.
    Invalid,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// A byte from `index` on a string.
    Uint8(u8),
    Float(f64),
    /// Shared: passing a string around (variables, arguments, `index`) copies no bytes, so a long string costs its
    /// length only where its bytes are read or written, and those places charge the render budget.
    Str(Rc<str>),
}

pub(super) fn type_name(v: &Val) -> &'static str {
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
pub(super) fn truth(v: &Val) -> bool {
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
pub(super) fn print_plain(v: &Val) -> String {
    match v {
        Val::Invalid => "<no value>".to_owned(),
        Val::Bool(b) => b.to_string(),
        Val::Int(i) => i.to_string(),
        Val::Uint8(u) => u.to_string(),
        Val::Float(f) => go_format_float(*f, 'g', -1),
        Val::Str(s) => s.to_string(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Func {
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
pub(super) enum Param {
    Str,
    Any,
    Value,
}

impl Func {
    pub(super) fn lookup(name: &str) -> Option<Func> {
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
    pub(super) fn signature(self) -> (&'static [Param], Option<Param>) {
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

pub(super) fn builtin_eq(a: &Val, rest: &[Val]) -> Result<bool, String> {
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

pub(super) fn builtin_lt(a: &Val, b: &Val) -> Result<bool, String> {
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

pub(super) fn builtin_le(a: &Val, b: &Val) -> Result<bool, String> {
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

pub(super) fn builtin_index(item: &Val, indexes: &[Val]) -> Result<Val, String> {
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

pub(super) fn builtin_slice(item: &Val, indexes: &[Val]) -> Result<Val, String> {
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
    Ok(Val::Str(Rc::from(
        String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).as_ref(),
    )))
}

/// `evalArgs` for `html`, `js` and `urlquery`: one string as is (no copy, no cost), otherwise `fmt.Sprint` (nil
/// prints `<no value>`) within `limit` bytes.
pub(super) fn eval_args(args: &[Val], limit: usize) -> Result<Formatted, Overflow> {
    if let [Val::Str(s)] = args {
        return Ok(Formatted {
            text: s.clone(),
            cost: 0,
        });
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
    go_sprint(&printable, false, limit)
}

pub(super) fn html_escape(s: &str) -> String {
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

pub(super) fn js_escape(s: &str) -> String {
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

pub(super) fn url_query_escape(s: &str) -> String {
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
