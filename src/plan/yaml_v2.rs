//! YAML read as Hive reads a patch body: kubectl's `yaml.ToJSON` (sigs.k8s.io/yaml over yaml.v2) turns any JSON or
//! YAML into the JSON it sends, and this module does the same, from the events of `granit-parser` (the YAML parser
//! under serde-saphyr, so the project has one YAML stack).
//!
//! yaml.v2 is YAML 1.1, and so is this reading of unquoted (plain) scalars: `yes`/`no`/`on`/`off`/`y`/`n` (in the
//! casings yaml.v2 knows) are booleans, a leading `0` means octal (`0644` is 420), underscores in numbers are dropped
//! (`1_000`), and `0X`/`0O`/`0B` prefixes count like `0x`/`0o`/`0b`. That is what Hive sends for the same SyncSet, and
//! what kubectl does with a manifest: a patch that sets `defaultMode: 0644` or `paused: yes` means the same here as
//! there, and a ConfigMap patch with `enabled: yes` fails here as there (a boolean is no string). Quoted and block
//! scalars are strings; a scalar tagged with a core type (`!!int "3"`) is resolved and must be of it, `!!str` makes a
//! string, and any other tag leaves the text as it is. Map keys go through the same reading and are then
//! written as sigs.k8s.io/yaml writes them (`on:` becomes the key `"true"`). Numbers come out as Go's `encoding/json`
//! writes its float64s: an integral float has no fraction (`1.0` is sent as `1`), and NaN or an infinity cannot be
//! sent (`json: unsupported value: NaN`).
//!
//! Errors read as yaml.v2 words them (`yaml: line <n>: <problem>`, with its line numbering) for the problems both
//! parsers find. `hack/yaml-compat` checks all of this against sigs.k8s.io/yaml itself on generated bodies (every
//! scalar form above, in block and flow style, a third of them broken by a stray character, a cut or a tab); on
//! 20,000 of them (seed 1): of the 13,574 Go reads, 13,492 give the same JSON here; of the 6,426 it refuses, 6,050
//! are refused here too, 4,782 with the same message. What differs: merge keys (`<<: *anchor`, which yaml.v2 merges
//! and this keeps as an ordinary key); tabs, which libyaml refuses as indentation in more places than this parser
//! does (`\tkey: value` is read here); trailing garbage after a complete flow collection or quoted scalar (`[]]`,
//! which yaml.v2 reads up to the end of the first node); `?` keys in flow collections; and the wording of rarer
//! errors. A stream of several documents is read up to its first, as yaml.v2 does.
//!
//! Hostile input: nesting is bounded by the parser (`recursion limit exceeded`), and aliases may add at most as many
//! nodes as the document itself has, plus `ALIAS_NODES` (an alias bomb fails with `repetition limit exceeded`).

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{ErrorKind, Event, Options, Parser, ScalarStyle, ScanError, Tag};
use serde_json::{Map, Value};

/// Nodes that aliases may add beyond the document's own.
const ALIAS_NODES: usize = 10_000;

/// `text` (JSON or YAML) as the JSON value kubectl would send, or the reason it is neither (a yaml.v2-style
/// `yaml: line <n>: <problem>`, or Go's `json: unsupported value: ...`).
pub fn to_json(text: &str) -> Result<Value, String> {
    // JSON is YAML and reads the same either way; serde_json is the faster reader of it.
    let (mut value, specials) = match serde_json::from_str::<Value>(text) {
        Ok(value) => (value, false),
        Err(_) => {
            let mut reader = Reader::default();
            let value = reader.document(text)?;
            (value, reader.specials)
        }
    };
    // NaN and the infinities have no JSON form, nor null keys: Go fails when it writes one, so one that a later
    // repeated key replaced is no failure.
    if specials {
        if let Some((key, v)) = first_bad_key(&value) {
            // sigs.k8s.io/yaml's words, the key and value as Go's `%#v` prints them.
            let (kind, key) = match key.strip_prefix("uint64:") {
                Some(n) => (
                    "uint64",
                    format!("{:#x}", n.parse::<u64>().unwrap_or_default()),
                ),
                None => ("%!s(<nil>)", "<nil>".to_owned()),
            };
            return Err(format!(
                "unsupported map key of type: {kind}, key: {key}, value: {}",
                go_syntax(v)
            ));
        }
        if let Some(f) = first_special(&value) {
            return Err(format!("json: unsupported value: {}", go_special(f)));
        }
    }
    as_go_numbers(&mut value);
    Ok(value)
}

/// `error` without the document's text, for a body that may hold a Secret's values: the scalar a tag could not decode
/// and the key and value of an unwritable map key are replaced by `<redacted>` (position errors quote nothing).
pub fn redacted(error: &str) -> String {
    if let Some(at) = error.find(", key: ") {
        return format!("{}, key: <redacted>", &error[..at]);
    }
    match error.split('`').collect::<Vec<_>>().as_slice() {
        [before, _, after] => format!("{before}`<redacted>`{after}"),
        _ => error.to_owned(),
    }
}

/// Stands for NaN or an infinity in the document until it is written (`SPECIAL` then `NaN`, `+Inf` or `-Inf`).
const SPECIAL: &str = "\u{10FFFF}yaml-v2-special:";

fn special(f: f64) -> Value {
    Value::String(format!("{SPECIAL}{}", go_special(f)))
}

/// A key `map_key` could not write, if one is left (what follows `SPECIAL` and `key:`), with its value.
fn first_bad_key(value: &Value) -> Option<(&str, &Value)> {
    match value {
        Value::Array(items) => items.iter().find_map(first_bad_key),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| Some((k.strip_prefix(SPECIAL)?.strip_prefix("key:")?, v)))
            .or_else(|| map.values().find_map(first_bad_key)),
        _ => None,
    }
}

/// A value as Go's `%#v` prints what yaml.v2 read: scalars exactly; a collection by its Go type only.
fn go_syntax(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) if s.starts_with(SPECIAL) => "NaN".into(),
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(_) => "[]interface {}{...}".into(),
        Value::Object(_) => "map[interface {}]interface {}{...}".into(),
        other => other.to_string(),
    }
}

/// The first NaN or infinity Go's `encoding/json` would meet (maps in key order, as it writes them).
fn first_special(value: &Value) -> Option<f64> {
    match value {
        Value::String(s) => match s.strip_prefix(SPECIAL)? {
            "NaN" => Some(f64::NAN),
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        Value::Array(items) => items.iter().find_map(first_special),
        Value::Object(map) => map.values().find_map(first_special),
        _ => None,
    }
}

/// A collection being read.
enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        started_at: usize,
    },
    Map {
        object: Map<String, Value>,
        key: Option<String>,
        anchor: usize,
        started_at: usize,
    },
}

#[derive(Default)]
struct Reader {
    stack: Vec<Frame>,
    /// Anchored nodes, with how many nodes each holds.
    anchors: HashMap<usize, (Value, usize)>,
    /// Nodes read from the document itself (the alias budget grows with it).
    own_nodes: usize,
    /// Nodes copied by aliases.
    copied: usize,
    /// Whether a NaN or an infinity was read.
    specials: bool,
}

impl Reader {
    /// The first document of `text`.
    fn document(&mut self, source: &str) -> Result<Value, String> {
        let mut options = Options::default();
        options.set_emit_comments(false);
        let mut source_chars = None;
        for next in Parser::new_from_str_with_options(source, options) {
            let (event, span) = next.map_err(|e| scan_error(source, &e))?;
            let line = span.start.line();
            let node = match event {
                Event::DocumentEnd | Event::StreamEnd => return Ok(Value::Null),
                Event::Scalar(text, style, anchor, tag) => {
                    let mut text = text;
                    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                        && source
                            .rsplit('\n')
                            .next()
                            .is_some_and(|last| !last.trim().is_empty())
                        && span.end.index()
                            >= *source_chars.get_or_insert_with(|| source.chars().count())
                    {
                        // A block scalar cut by the end of the text has no final line break in yaml.v2.
                        if let Some(cut) = text.strip_suffix('\n') {
                            text = Cow::Owned(cut.to_owned());
                        }
                    }
                    let value = match scalar(&text, style, tag.as_deref())? {
                        Scalar::Value(value) => value,
                        // sigs.k8s.io/yaml writes a NaN key as `.nan`.
                        Scalar::Special(f) if self.expecting_key() => {
                            Value::String(go_float_key(f))
                        }
                        Scalar::Special(f) => {
                            self.specials = true;
                            special(f)
                        }
                    };
                    let at = self.nodes();
                    self.finished(value, anchor, at, line)?
                }
                Event::Alias(id) => {
                    let Some((value, size)) = self.anchors.get(&id) else {
                        return Err(format!("yaml: line {line}: unknown anchor referenced"));
                    };
                    self.copied += size;
                    if self.copied > self.own_nodes + ALIAS_NODES {
                        return Err("yaml: repetition limit exceeded".into());
                    }
                    let value = value.clone();
                    self.place(value, line)?
                }
                Event::SequenceStart(_, anchor, _) => {
                    self.stack.push(Frame::Seq {
                        items: Vec::new(),
                        anchor,
                        started_at: self.nodes(),
                    });
                    None
                }
                Event::MappingStart(_, anchor, _) => {
                    self.stack.push(Frame::Map {
                        object: Map::new(),
                        key: None,
                        anchor,
                        started_at: self.nodes(),
                    });
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        anchor,
                        started_at,
                    }) => self.finished(Value::Array(items), anchor, started_at, line)?,
                    Some(Frame::Map {
                        object,
                        anchor,
                        started_at,
                        ..
                    }) => self.finished(Value::Object(object), anchor, started_at, line)?,
                    None => None,
                },
                // Stream and document starts, comments, anchor metadata.
                _ => None,
            };
            if let Some(root) = node {
                return Ok(root);
            }
        }
        Ok(Value::Null)
    }

    /// Nodes held so far, an alias's copies included.
    fn nodes(&self) -> usize {
        self.own_nodes + self.copied
    }

    /// Whether the next node is a map key.
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// A node of the document is complete: remembered if anchored, then placed.
    fn finished(
        &mut self,
        value: Value,
        anchor: usize,
        started_at: usize,
        line: usize,
    ) -> Result<Option<Value>, String> {
        self.own_nodes += 1;
        if anchor != 0 {
            let size = self.nodes() - started_at;
            self.anchors.insert(anchor, (value.clone(), size));
        }
        self.place(value, line)
    }

    /// A node goes into its parent, or is the document's root (returned).
    fn place(&mut self, value: Value, line: usize) -> Result<Option<Value>, String> {
        let specials = &mut self.specials;
        match self.stack.last_mut() {
            None => Ok(Some(value)),
            Some(Frame::Seq { items, .. }) => {
                items.push(value);
                Ok(None)
            }
            Some(Frame::Map { object, key, .. }) => {
                match key.take() {
                    // A repeated key: the last one wins, as in yaml.v2.
                    Some(k) => {
                        object.insert(k, value);
                    }
                    None => {
                        let k = map_key(value, line)?;
                        *specials |= k.starts_with(SPECIAL);
                        *key = Some(k);
                    }
                }
                Ok(None)
            }
        }
    }
}

/// A scalar as yaml.v2 reads it.
enum Scalar {
    Value(Value),
    /// NaN or an infinity, which JSON cannot hold.
    Special(f64),
}

/// A scalar as yaml.v2 resolves it. Untagged, a plain scalar is resolved and any other is a string; tagged with a
/// core type (`!!bool`, `!!int`, `!!float`, `!!null`, `!!timestamp`), quoted or not, it is resolved and must be of
/// that type; `!!str` makes it a string, and other tags leave its text as it is.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Scalar, String> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain => yaml11::resolve(text),
            _ => Scalar::Value(Value::String(text.to_owned())),
        });
    };
    let wanted = ["bool", "int", "float", "null", "timestamp"]
        .into_iter()
        .find(|t| tag.is_yaml_core_schema_tag(t));
    let Some(wanted) = wanted else {
        return Ok(Scalar::Value(Value::String(text.to_owned())));
    };
    let resolved = yaml11::resolve(text);
    let got = match &resolved {
        Scalar::Special(_) => "float",
        Scalar::Value(Value::Null) => "null",
        Scalar::Value(Value::Bool(_)) => "bool",
        Scalar::Value(Value::Number(n)) if n.is_f64() => "float",
        Scalar::Value(Value::Number(_)) => "int",
        Scalar::Value(_) => "str",
    };
    // An integer is a float too; a timestamp stays its text.
    if got == wanted || (wanted == "float" && got == "int") || wanted == "timestamp" {
        Ok(resolved)
    } else {
        Err(format!(
            "yaml: cannot decode !!{got} `{text}` as a !!{wanted}"
        ))
    }
}

/// A map key, written as sigs.k8s.io/yaml writes a non-string key of yaml.v2's. A key it cannot write (null, or an
/// integer past int64) fails only if it is still there at the end (`first_special`): a repeated key may replace its
/// map.
fn map_key(key: Value, line: usize) -> Result<String, String> {
    Ok(match key {
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => go_float_key(f),
            _ if n.is_u64() && !n.is_i64() => format!("{SPECIAL}key:uint64:{n}"),
            _ => n.to_string(),
        },
        Value::Null => format!("{SPECIAL}key:null"),
        Value::Array(_) | Value::Object(_) => {
            return Err(format!(
                "yaml: line {line}: a collection cannot be a map key"
            ))
        }
    })
}

/// yaml.v2's form, `yaml: line <n>: <problem>`, with libyaml's words for the problems it shares with this parser.
/// yaml.v2 numbers lines oddly: a scanner's problem by its line counted from 1, a parser's counted from 0, and the
/// first line (0) not at all.
fn scan_error(text: &str, e: &ScanError) -> String {
    use ErrorKind as K;
    let line = e.marker().line().saturating_sub(1);
    let (scanner, problem): (bool, Cow<str>) = match e.kind() {
        K::ExpectedNodeContent => (false, "did not find expected node content".into()),
        K::ExpectedBlockMappingKey => (false, "did not find expected key".into()),
        K::ExpectedFlowMappingSeparator => (false, "did not find expected ',' or '}'".into()),
        K::ExpectedFlowSequenceSeparator => (false, "did not find expected ',' or ']'".into()),
        K::ExpectedBlockSequenceEntry => (false, "did not find expected '-' indicator".into()),
        K::UnknownAnchor => (false, "found undefined alias".into()),
        // The stream ends inside a flow collection: libyaml says what it expected next, at the end of the text
        // (which it counts as a line of its own when the text does not end with a line break).
        K::UnclosedFlowCollection { open } => {
            let end = text.matches('\n').count() + usize::from(!text.ends_with('\n'));
            let last = text.trim_end().chars().last();
            let expected = if matches!(last, Some('[' | '{' | ',' | ':')) {
                "did not find expected node content".into()
            } else if *open == '[' {
                "did not find expected ',' or ']'".into()
            } else {
                "did not find expected ',' or '}'".into()
            };
            return located(end, expected);
        }
        K::SimpleKeyExpected => (true, "could not find expected ':'".into()),
        K::UnexpectedCharacter { .. } => {
            (true, "found character that cannot start any token".into())
        }
        K::TabNotAllowed | K::TabInIndentation | K::TabInBlockIndentation | K::TabInPlainScalar => {
            (
                true,
                "found a tab character that violates indentation".into(),
            )
        }
        K::UnclosedQuotedScalar
        | K::UnexpectedEof
        | K::UnexpectedEofFlowSequence
        | K::UnexpectedEofFlowMapping
        | K::UnexpectedEofImplicitFlowMapping
        | K::UnexpectedEofBlockSequence
        | K::UnexpectedEofBlockMapping => (true, "found unexpected end of stream".into()),
        K::UnknownQuotedScalarEscape => (true, "found unknown escape character".into()),
        K::InvalidQuotedScalarHexEscape => (true, "did not find expected hexdecimal number".into()),
        K::InvalidBlockScalarHeader => (true, "did not find expected comment or line break".into()),
        K::MissingAnchorOrAliasName => (
            true,
            "did not find expected alphabetic or numeric character".into(),
        ),
        K::MissingTagUri => (true, "did not find expected tag URI".into()),
        K::RecursionLimitExceeded => return "yaml: recursion limit exceeded".into(),
        other => (true, other.to_string().into()),
    };
    located(if scanner && line > 0 { line + 1 } else { line }, problem)
}

/// `yaml: line <n>: <problem>`, or `yaml: <problem>` for line 0.
fn located(line: usize, problem: Cow<str>) -> String {
    if line == 0 {
        format!("yaml: {problem}")
    } else {
        format!("yaml: line {line}: {problem}")
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)` of NaN and the infinities.
fn go_special(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "+Inf"
    } else {
        "-Inf"
    }
}

/// A float map key as sigs.k8s.io/yaml writes it: `strconv.FormatFloat(f, 'g', -1, 32)`, with `.inf`, `-.inf` and
/// `.nan` for the special values.
fn go_float_key(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let f = f as f32;
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        f.to_string()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Integral floats as integers, as Go's `encoding/json` writes a float64 (`1.0` → `1`); the others unchanged. Only
/// below 2^53, where a float64 is an exact integer: above, Go writes the float's shortest digits padded with zeros
/// (`9223372036854776000`), which no i64 holds, so the float stays one (the same number for whoever reads it).
fn as_go_numbers(value: &mut Value) {
    const TWO_53: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or_default();
            if f.fract() == 0.0 && f.abs() < TWO_53 {
                *value = (f as i64).into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_go_numbers),
        Value::Object(map) => map.values_mut().for_each(as_go_numbers),
        _ => {}
    }
}

/// yaml.v2's `resolve` of a plain scalar that YAML 1.2 leaves a string.
mod yaml11 {
    use serde_json::Value;

    use super::Scalar;

    /// A plain scalar as yaml.v2 resolves it: null, a boolean, a number (NaN and the infinities apart) or a string.
    pub(super) fn resolve(s: &str) -> Scalar {
        Scalar::Value(match s {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
                Value::Bool(true)
            }
            "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off"
            | "OFF" => Value::Bool(false),
            ".nan" | ".NaN" | ".NAN" => return Scalar::Special(f64::NAN),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Scalar::Special(f64::INFINITY)
            }
            "-.inf" | "-.Inf" | "-.INF" => return Scalar::Special(f64::NEG_INFINITY),
            _ => number(s).unwrap_or_else(|| Value::String(s.to_owned())),
        })
    }

    /// A plain scalar starting with a digit, a sign or a dot: underscores dropped, then Go's
    /// `strconv.ParseInt(s, 0, 64)`, `ParseUint(s, 0, 64)`, and a float of YAML's form.
    fn number(s: &str) -> Option<Value> {
        let first = *s.as_bytes().first()?;
        if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
            return None;
        }
        let plain: String = s.chars().filter(|&c| c != '_').collect();
        if let Some(int) = go_parse_int(&plain) {
            return Some(int);
        }
        if !is_yaml_float(&plain) {
            return None;
        }
        // Out of range: yaml.v2's ParseFloat fails, and the scalar stays a string.
        let float = plain.parse::<f64>().ok().filter(|f| f.is_finite())?;
        serde_json::Number::from_f64(float).map(Value::Number)
    }

    /// `ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)` (which takes no sign): base from the prefix (`0x`,
    /// `0o`, `0b` in either case, `0` for octal), decimal otherwise.
    fn go_parse_int(s: &str) -> Option<Value> {
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (radix, digits) = match body.as_bytes() {
            [b'0', b'x' | b'X', ..] => (16, &body[2..]),
            [b'0', b'o' | b'O', ..] => (8, &body[2..]),
            [b'0', b'b' | b'B', ..] => (2, &body[2..]),
            [b'0', _, ..] => (8, &body[1..]),
            _ => (10, body),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let magnitude = u64::from_str_radix(digits, radix).ok()?;
        if negative {
            (magnitude <= 1 << 63).then(|| Value::from((magnitude as i64).wrapping_neg()))
        } else if magnitude <= i64::MAX as u64 || !s.starts_with('+') {
            Some(Value::from(magnitude))
        } else {
            None
        }
    }

    /// yaml.v2's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
    fn is_yaml_float(s: &str) -> bool {
        let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
        let digits = |from: usize| {
            b[from.min(b.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let whole = digits(0);
        let mut at = whole;
        if b.get(at) == Some(&b'.') {
            let fraction = digits(at + 1);
            if whole == 0 && fraction == 0 {
                return false;
            }
            at += 1 + fraction;
        } else if whole == 0 {
            return false;
        }
        if matches!(b.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(b.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            let exponent = digits(at);
            if exponent == 0 {
                return false;
            }
            at += exponent;
        }
        at == b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::to_json;
    use serde_json::json;

    // Each expectation is what sigs.k8s.io/yaml.YAMLToJSON gives (hack/yaml-compat).
    #[test]
    fn what_go_fails_to_write_fails_only_if_it_is_still_there_at_the_end() {
        assert_eq!(to_json("a: .nan\na: 1\n"), Ok(json!({"a": 1})));
        assert_eq!(
            to_json("a: [.inf]"),
            Err("json: unsupported value: +Inf".into())
        );
        assert_eq!(to_json("a: {~: 1}\na: 2\n"), Ok(json!({"a": 2})));
        assert_eq!(
            to_json("9223372036854775808: x"),
            Err(
                r#"unsupported map key of type: uint64, key: 0x8000000000000000, value: "x""#
                    .into()
            )
        );
        assert_eq!(to_json(".nan: x"), Ok(json!({".nan": "x"})));
    }

    #[test]
    fn tags_resolve_as_yaml_v2_resolves_them() {
        assert_eq!(
            to_json("a: !!int \"3\"\nb: !!str 0644\nc: !!float 1\nd: !thing yes\ne: !!bool yes\n"),
            Ok(json!({"a": 3, "b": "0644", "c": 1, "d": "yes", "e": true}))
        );
        assert_eq!(
            to_json("a: !!int abc"),
            Err("yaml: cannot decode !!str `abc` as a !!int".into())
        );
    }

    #[test]
    fn a_block_scalar_cut_by_the_end_of_the_text_has_no_final_line_break() {
        assert_eq!(
            to_json("a: |\n  two\n  lines"),
            Ok(json!({"a": "two\nlines"}))
        );
        assert_eq!(
            to_json("a: |\n  two\n  lines\n"),
            Ok(json!({"a": "two\nlines\n"}))
        );
        assert_eq!(to_json("a: |\n  two\n  "), Ok(json!({"a": "two\n"})));
    }

    #[test]
    fn errors_are_worded_and_numbered_as_yaml_v2_does() {
        assert_eq!(
            to_json("{k1: "),
            Err("yaml: line 1: did not find expected node content".into())
        );
        assert_eq!(
            to_json("a:\n  b: [c\n"),
            Err("yaml: line 2: did not find expected ',' or ']'".into())
        );
        assert_eq!(
            to_json("'abc"),
            Err("yaml: found unexpected end of stream".into())
        );
    }
}
