//! Hive's SyncSet templates (HIVE-COMPAT.md §1.6): Go `text/template`, executed with a nil data object, with one
//! custom function `fromCDLabel "<key>"` that returns the ClusterDeployment's label value (or `""`).
//!
//! This is a small self-contained re-implementation of Go's `text/template` (lexer → parser → evaluator), ported
//! from the Go 1.2x sources so that output and error messages match what Hive produces. Hive names its template
//! `cdParams` (`templateForCD` in `pkg/controller/clustersync/templates.go`), so every error reads like
//! `template: cdParams:1:3: executing "cdParams" at <fromCDLabel>: wrong number of args for fromCDLabel: want 1 got 0`.
//! We keep our own engine rather than the `gtmpl` crate: gtmpl's functions are plain `fn` pointers (so
//! `fromCDLabel` could only read per-call labels through a thread-local), its execution errors do not follow Go's
//! `template: name:L:C: executing ...` format that Hive's messages carry, and its last release was in 2021.
//!
//! The files follow the flow: `lex` (with `quote` and `number` for literals) → `parse` (building `node` trees) →
//! `exec` (calling the builtins in `funcs`, which format with `gofmt`); `tests` drives it all through [`render`].
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

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value as Json;

mod exec;
mod funcs;
mod gofmt;
mod lex;
mod node;
mod number;
mod parse;
mod quote;
#[cfg(test)]
mod tests;

use exec::execute;
use gofmt::go_format_float;
use parse::parse;
use quote::go_quote;

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
