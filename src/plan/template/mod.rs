//! Hive's SyncSet templates (docs/hive-compatibility.md, "Templates"): Go `text/template`, executed with a nil data
//! object, with one custom function `fromCDLabel "<key>"` that returns the ClusterDeployment's label value (or `""`).
//!
//! This is a small self-contained re-implementation of Go's `text/template` (lexer → parser → evaluator), ported
//! from the Go 1.2x sources so that output and error messages match what Hive produces. Hive names its template
//! `cdParams` (`templateForCD` in `pkg/controller/clustersync/templates.go`), so every error reads like
//! `template: cdParams:1:3: executing "cdParams" at <fromCDLabel>: wrong number of args for fromCDLabel: want 1 got 0`.
//! We keep our own engine rather than the `gtmpl` crate: gtmpl's functions are plain `fn` pointers (so
//! `fromCDLabel` could only read per-call labels through a thread-local), its execution errors do not follow Go's
//! `template: name:L:C: executing ...` format that Hive's messages carry, and its last release was in 2021. Nor the
//! newer `gotmpl` port (0.x): what this engine must do beyond Go is inside the evaluator, not around it: one
//! [`Budget`] of steps and output bytes shared by every string of a syncset and charged by the builtins before they
//! work (a `printf` width, a `slice`), the nesting and call-depth limits, and the redaction of a failing Secret
//! template's text in the error; a general-purpose library would have to grow those hooks, and its error texts would
//! still have to match Hive's byte for byte.
//!
//! Compatibility with Go is measured, not assumed: `hack/template-compat/compare.sh [N] [SEED]` generates N random
//! templates (default 40 000; literals, pipelines, every builtin, control structures, variables, define/block, trim
//! markers, and malformed ones), runs each through Go's `text/template` as Hive does and through this engine
//! (`examples/template_compat.rs`), and lists every case whose output or error text differs. Seeds 1, 2 and 3 with
//! Go 1.26: 120 000 cases, none differ. Complex literals (`3i`) are left out of the generator: refused here on
//! purpose (below).
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
//! Not supported: complex-number literals (a parse error here).
//!
//! Guard rails Go does not have. Nesting deeper than 100 levels fails to parse. Each string's execution is capped in
//! steps, template-call depth and output size. And one [`Budget`] covers *all* the strings of one syncset rendered for
//! one cluster (every resource string and every patch; `decode::decode_for` makes it): per-string caps alone let a
//! 1.4 MB SyncSet hold thousands of strings that each stay under them (~100 GB of output for one cluster). The budget
//! counts steps (actions, commands, arguments, `range` iterations, plus one step per [`BYTES_PER_STEP`] bytes a
//! builtin reads from its string arguments or a variable or template name hashes) and output bytes (what is written,
//! plus every string a builtin returns, so a `printf` whose result is printed counts twice; `printf`'s float digits
//! count too). `printf` checks widths and precisions against what is left *before* doing the work. Running out fails
//! that string with `... the syncset's templates exceed the render budget of N steps|output bytes for one cluster`,
//! and no later string of the syncset is rendered. Variables are found through a name index, not a scan.
//!
//! Secrets: Hive's messages quote the failing template string and `%#v` its top-level field, and decode errors dump
//! the whole object. For a resource that may be a Secret (its raw `kind` says Secret, is templated, or is missing:
//! [`kind_may_be_secret`]), the values of `data` and `stringData` are replaced by `<redacted>` in those messages, and
//! so is everything of a failing template's own text and Go error but its `cdParams:line:col` and a guard-rail
//! text; patches of such kinds likewise. Other objects keep Hive's messages exactly.
//!
//! Inside the engine an error is a `String` (`Result<_, String>` in `parse`, `exec`, `funcs`, `number`, `quote`): it is
//! Go's error text, which reaches a status entry verbatim; [`TemplateError`] only tells a parse failure from an
//! execution one.

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
/// Steps one syncset may spend rendering for one cluster, over all its strings: ten strings at the per-string cap.
/// The costliest loops found spend the whole budget (steps or bytes) in ~0.75 s of CPU in a release build (`printf`
/// in a `range`; an empty `range` takes 0.05 s). Real payloads are nowhere near: OSD's production templated set
/// (`osd-cluster-metadata`) costs 15 steps, and with templates forced on for all 378 of its sets the costliest
/// needs 15.
const SYNCSET_MAX_STEPS: u64 = 10_000_000;
/// Output bytes one syncset may produce rendering for one cluster, over all its strings (see [`Budget`] for what
/// counts): four strings at the per-string cap, ten times the largest SyncSet etcd stores (~1.5 MB). OSD's templated
/// set costs 28 bytes; with templates forced on for all its sets the costliest needs 449.
const SYNCSET_MAX_OUTPUT: usize = 16 << 20;
/// Bytes of string a builtin may read (compare, escape, format, look up) for one step: a memcmp of 64 bytes costs
/// far less than a step, so ordinary templates are not affected, but `eq $huge $huge` in a loop runs out.
const BYTES_PER_STEP: usize = 64;
/// What replaces a Secret's values in messages.
const REDACTED: &str = "<redacted>";

/// What one syncset may spend rendering its templates for one cluster, shared by all its strings. Once a string runs
/// out, [`Budget::exhausted`] stays true and every later render fails at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    max_steps: u64,
    max_output: usize,
    steps: u64,
    output: usize,
    exhausted: Option<Exhausted>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exhausted {
    Steps,
    Output,
}

impl Default for Budget {
    fn default() -> Self {
        Self::per_syncset()
    }
}

impl Budget {
    /// The budget of one syncset for one cluster: [`SYNCSET_MAX_STEPS`] steps and [`SYNCSET_MAX_OUTPUT`] bytes.
    pub fn per_syncset() -> Self {
        Self::new(SYNCSET_MAX_STEPS, SYNCSET_MAX_OUTPUT)
    }

    /// A budget of `max_steps` steps and `max_output` output bytes (tests use small ones).
    pub fn new(max_steps: u64, max_output: usize) -> Self {
        Budget {
            max_steps,
            max_output,
            steps: 0,
            output: 0,
            exhausted: None,
        }
    }

    /// Whether a render has run out of this budget (nothing more will render with it).
    pub fn exhausted(&self) -> bool {
        self.exhausted.is_some()
    }

    /// Steps left.
    pub fn steps_left(&self) -> u64 {
        if self.exhausted.is_some() {
            return 0;
        }
        self.max_steps.saturating_sub(self.steps)
    }

    /// Output bytes left.
    pub fn output_left(&self) -> usize {
        if self.exhausted.is_some() {
            return 0;
        }
        self.max_output.saturating_sub(self.output)
    }

    /// Spends `n` steps, or fails (for good) with the message naming the limit.
    fn take_steps(&mut self, n: u64) -> Result<(), String> {
        if n > self.steps_left() {
            return Err(self.exhaust(Exhausted::Steps));
        }
        self.steps += n;
        Ok(())
    }

    /// Spends `n` output bytes, or fails (for good) with the message naming the limit.
    fn take_output(&mut self, n: usize) -> Result<(), String> {
        if n > self.output_left() {
            return Err(self.exhaust(Exhausted::Output));
        }
        self.output += n;
        Ok(())
    }

    /// Marks the budget spent and returns the message naming the limit that was hit.
    fn exhaust(&mut self, which: Exhausted) -> String {
        let which = *self.exhausted.get_or_insert(which);
        self.message(which)
    }

    fn message(&self, which: Exhausted) -> String {
        match which {
            Exhausted::Steps => format!(
                "the syncset's templates exceed the render budget of {} steps for one cluster",
                self.max_steps
            ),
            Exhausted::Output => format!(
                "the syncset's templates exceed the render budget of {} output bytes for one cluster",
                self.max_output
            ),
        }
    }

    /// The guard-rail texts a message may end with; they hold nothing from the template, so redaction keeps them.
    fn guard_rail_texts(&self) -> [String; 7] {
        [
            self.message(Exhausted::Steps),
            self.message(Exhausted::Output),
            format!("template execution exceeds {MAX_STEPS} steps"),
            format!("template output exceeds {MAX_OUTPUT} bytes"),
            format!("formatted output exceeds {MAX_OUTPUT} bytes"),
            format!("exceeded maximum template depth ({MAX_EXEC_DEPTH})"),
            "max expression depth exceeded".to_owned(),
        ]
    }
}

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

/// Renders one template string with `fromCDLabel` reading `labels`, with a budget of its own. The data object
/// ("dot") is nil, so `{{ . }}` prints `<no value>` and never exposes the labels. Strings without `{{` are returned
/// unchanged.
pub fn render(template: &str, labels: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    render_with(template, labels, &mut Budget::per_syncset())
}

/// [`render`], spending from `budget` (shared by all the strings of one syncset for one cluster). With the budget
/// already exhausted it fails without parsing.
pub fn render_with(
    template: &str,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Result<String, TemplateError> {
    if !template.contains("{{") {
        return Ok(template.to_owned());
    }
    if let Some(which) = budget.exhausted {
        return Err(TemplateError::Exec(format!(
            "template: {TEMPLATE_NAME}: {}",
            budget.message(which)
        )));
    }
    let trees = parse(template).map_err(TemplateError::Parse)?;
    execute(template, &trees, labels, budget).map_err(TemplateError::Exec)
}

/// Hive's resource templating (`processResourceParameters`): every *string value* in the JSON tree (recursively
/// through maps and lists, including `apiVersion`, `kind` and `metadata`) is parsed and executed as a template.
/// Map keys are never templated, empty strings and non-string values are left alone.
///
/// The error is Hive's: `Failed to apply template to value <%#v of the top-level field's value>: failed to parse
/// template string "<s>": <Go error>` (or `failed to execute template on string ...`). As in Hive, the `%#v` value
/// shows the strings already rendered before the failing one (Hive's map order is random; ours is sorted by key).
/// The caller adds `failed to parameterize resource <i>: `. This one has a budget of its own; see
/// [`render_value_with`].
pub fn render_value(value: &Json, labels: &BTreeMap<String, String>) -> Result<Json, String> {
    render_value_with(value, labels, &mut Budget::per_syncset())
}

/// [`render_value`], spending from `budget`. When the raw resource may be a Secret ([`kind_may_be_secret`] of its
/// pre-render `kind`) and the failing field is `data` or `stringData`, the message keeps the keys but none of the
/// values: `Failed to apply template to value map[string]interface {}{"a":"<redacted>"}: failed to parse template
/// string "<redacted>": template: cdParams:1: <redacted>`.
pub fn render_value_with(
    value: &Json,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Result<Json, String> {
    let secret = value
        .as_object()
        .is_some_and(|map| kind_may_be_secret(map.get("kind").and_then(Json::as_str)));
    let mut out = value.clone();
    match &mut out {
        Json::Object(map) => {
            for key in sorted_keys(map) {
                if let Some(v) = map.get_mut(&key) {
                    if let Err(e) = apply_in_place(v, labels, budget) {
                        if secret && (key == "data" || key == "stringData") {
                            return Err(format!(
                                "Failed to apply template to value {}: {}",
                                redacted_sharp_v(v),
                                e.redacted(budget)
                            ));
                        }
                        return Err(format!(
                            "Failed to apply template to value {}: {}",
                            go_sharp_v(v, 0),
                            e.message()
                        ));
                    }
                }
            }
        }
        other => {
            if let Err(e) = apply_in_place(other, labels, budget) {
                return Err(format!(
                    "Failed to apply template to value {}: {}",
                    go_sharp_v(other, 0),
                    e.message()
                ));
            }
        }
    }
    Ok(out)
}

/// Hive's patch templating (`processPatchParameters`): the whole patch string is rendered once. The error is Hive's
/// `failed to parse template string "<s>": ...` / `failed to execute template on string "<s>": ...`; the caller adds
/// `failed to parameterize patch <i>: `. This one has a budget of its own; see [`render_patch_with`].
pub fn render_patch(patch: &str, labels: &BTreeMap<String, String>) -> Result<String, String> {
    render_patch_with(patch, labels, &mut Budget::per_syncset(), false)
}

/// [`render_patch`], spending from `budget`. With `secret` (the patch's target kind may be a Secret, see
/// [`kind_may_be_secret`]) the message holds neither the patch nor anything the Go error took from it.
pub fn render_patch_with(
    patch: &str,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
    secret: bool,
) -> Result<String, String> {
    apply_to_string(patch, labels, budget).map_err(|e| {
        if secret {
            e.redacted(budget)
        } else {
            e.message()
        }
    })
}

/// Whether a resource whose raw (pre-render) `kind` is this (`None`: missing or not a string) may be a core Secret,
/// whose `data` and `stringData` must stay out of messages. Conservative: a kind that mentions "secret" in any case, is templated (`{{`, it may render
/// to `Secret`), or is missing, empty or not a string (what the object is cannot be told) counts. `apiVersion` is not
/// looked at: it may be templated, missing or wrong while the values are still secret.
pub fn kind_may_be_secret(kind: Option<&str>) -> bool {
    match kind {
        Some(k) => k.is_empty() || k.contains("{{") || k.to_ascii_lowercase().contains("secret"),
        None => true,
    }
}

/// The `data`/`stringData` value of a possible Secret with its values replaced by [`REDACTED`] (keys kept), in place.
pub fn redact_secret_values(value: &mut Json) {
    match value {
        Json::Object(map) => {
            for v in map.values_mut() {
                *v = Json::String(REDACTED.to_owned());
            }
        }
        other => *other = Json::String(REDACTED.to_owned()),
    }
}

/// `%#v` of a redacted `data`/`stringData` value: `map[string]interface {}{"a":"<redacted>"}`.
fn redacted_sharp_v(value: &Json) -> String {
    let mut value = value.clone();
    redact_secret_values(&mut value);
    go_sharp_v(&value, 0)
}

/// A Go template error with nothing taken from the template text or values: the `template: cdParams:L[:C]:`
/// location that we generate, then the guard-rail text the message ends with if any (fixed texts, so nothing of the
/// value can come through them even if the template mimics one), else [`REDACTED`].
fn redact_go_error(message: &str, budget: &Budget) -> String {
    let mut location = format!("template: {TEMPLATE_NAME}");
    if let Some(rest) = message.strip_prefix(&format!("template: {TEMPLATE_NAME}:")) {
        let mut rest = rest;
        for _ in 0..2 {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 10 {
                break;
            }
            location.push(':');
            location.push_str(&rest[..digits]);
            match rest[digits..].strip_prefix(':') {
                Some(r) => rest = r,
                None => break,
            }
        }
    }
    let detail = budget
        .guard_rail_texts()
        .into_iter()
        .find(|text| message.ends_with(&format!(": {text}")))
        .unwrap_or_else(|| REDACTED.to_owned());
    format!("{location}: {detail}")
}

fn sorted_keys(map: &serde_json::Map<String, Json>) -> Vec<String> {
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    keys
}

/// One string's template failed: the string and the Go error, formatted by the caller with or without redaction.
struct StringFailure {
    template: String,
    error: TemplateError,
}

impl StringFailure {
    /// Hive's `failed to parse template string "<s>": ...` / `failed to execute template on string "<s>": ...`.
    fn message(&self) -> String {
        self.with(&go_quote(&self.template), self.error.message())
    }

    /// The same with the string and the Go error's details redacted.
    fn redacted(&self, budget: &Budget) -> String {
        let detail = redact_go_error(self.error.message(), budget);
        self.with(&go_quote(REDACTED), &detail)
    }

    fn with(&self, quoted: &str, detail: &str) -> String {
        match self.error {
            TemplateError::Parse(_) => {
                format!("failed to parse template string {quoted}: {detail}")
            }
            TemplateError::Exec(_) => {
                format!("failed to execute template on string {quoted}: {detail}")
            }
        }
    }
}

/// Hive's `applyTemplate` for one string: empty strings are skipped.
fn apply_to_string(
    s: &str,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Result<String, StringFailure> {
    if s.is_empty() {
        return Ok(String::new());
    }
    render_with(s, labels, budget).map_err(|error| StringFailure {
        template: s.to_owned(),
        error,
    })
}

/// Renders strings in place, stopping at the first error (what was rendered before it stays rendered, like Hive).
fn apply_in_place(
    v: &mut Json,
    labels: &BTreeMap<String, String>,
    budget: &mut Budget,
) -> Result<(), StringFailure> {
    match v {
        Json::String(s) => {
            let rendered = apply_to_string(s, labels, budget)?;
            *s = rendered;
        }
        Json::Array(items) => {
            for item in items.iter_mut() {
                apply_in_place(item, labels, budget)?;
            }
        }
        Json::Object(map) => {
            for key in sorted_keys(map) {
                if let Some(x) = map.get_mut(&key) {
                    apply_in_place(x, labels, budget)?;
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
