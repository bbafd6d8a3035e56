//! Tests of the template engine through its public API: Go `text/template` behaviour (literals, trim markers,
//! control structures, builtins, `printf`), parse and execution error texts, Hive's resource and patch templating
//! wrappers, the guard rails, and fuzzing for panics.
//!
//! Expected strings in the generated-looking tests were produced by Go 1.26 `text/template` with Hive's setup
//! (`template.New("cdParams").Funcs(fromCDLabel)`, `Execute(buf, nil)`) and the labels below.
use super::quote::go_quote;
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
fn from_cd_label_takes_piped_and_nested_arguments_and_feeds_pipelines() {
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
fn string_raw_number_char_and_float_literals_print_as_in_go() {
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
fn trim_markers_drop_the_whitespace_beside_an_action_but_a_minus_without_space_is_a_sign() {
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
fn comments_print_nothing_even_across_lines_and_with_trim_markers() {
    assert_eq!(ok("a{{/* c */}}b"), "ab");
    assert_eq!(
        ok(r#"a{{- /* multi
line */ -}}  b"#),
        "ab"
    );
    assert_eq!(ok("{{/**/}}"), "");
}

#[test]
fn if_else_if_else_takes_the_first_true_branch_and_an_empty_label_is_false() {
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
fn ifs_nest_in_either_branch() {
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
fn empty_strings_zeros_nil_and_zero_bytes_are_false_as_in_go() {
    assert_eq!(
        ok(
            r#"{{ if "" }}T{{ else }}F{{ end }}{{ if "x" }}T{{ else }}F{{ end }}{{ if 0 }}T{{ else }}F{{ end }}{{ if 1 }}T{{ else }}F{{ end }}{{ if 0.0 }}T{{ else }}F{{ end }}{{ if . }}T{{ else }}F{{ end }}{{ if (index "\x00" 0) }}T{{ else }}F{{ end }}"#
        ),
        "FTFTFFF"
    );
}

#[test]
fn with_sets_dot_to_a_non_empty_value_and_else_with_tries_the_next() {
    assert_eq!(
        ok(r#"{{ with fromCDLabel "env" }}[{{ . }}]{{ end }}"#),
        "[prod]"
    );
    assert_eq!(
        ok(r#"{{ with fromCDLabel "empty" }}[{{ . }}]{{ else }}none{{ end }}"#),
        "none"
    );
    assert_eq!(
        ok(r#"{{ with fromCDLabel "empty" }}a{{ else with fromCDLabel "env" }}b-{{ . }}{{ end }}"#),
        "b-prod"
    );
    assert_eq!(
        ok(r#"{{ with $x := fromCDLabel "env" }}{{ $x }}{{ end }}"#),
        "prod"
    );
}

#[test]
fn variables_are_declared_assigned_and_scoped_to_their_block() {
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
fn defined_templates_are_called_by_name_and_block_defines_and_calls_at_once() {
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
fn printf_formats_verbs_flags_widths_and_argument_indexes_as_go() {
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
    assert_eq!(
        ok(r#"{{ printf "%x|%X|%x" 1.5 -1024.0 0.0 }}"#),
        "0x1.8p+00|-0X1P+10|0x0p+00"
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
fn print_println_and_the_html_js_urlquery_escapers_match_go() {
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
fn eq_ne_lt_le_gt_ge_compare_numbers_strings_and_bytes_as_go() {
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
fn and_and_or_return_the_deciding_argument_and_not_negates() {
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
fn index_slice_and_len_work_on_a_string_s_bytes() {
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
fn a_piped_value_becomes_the_last_argument_and_parentheses_group_a_call() {
    assert_eq!(ok(r#"{{ 1 | printf "%d" | printf "%s!" }}"#), "1!");
    assert_eq!(ok(r#"{{ "abc" | len }}"#), "3");
    assert_eq!(ok(r#"{{ len (printf "%d" 12345) }}"#), "5");
    assert_eq!(ok(r#"{{ (fromCDLabel "env") }}"#), "prod");
    assert_eq!(ok("{{ 2 | eq 2 }}"), "true");
    assert_eq!(ok(r#"{{ "a" | printf "%s%s" "b" }}"#), "ba");
    assert_eq!(ok(r#"{{ "a" | }}"#), "a");
}

#[test]
fn an_unclosed_action_fails_to_parse_and_says_where_it_started() {
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
fn an_undefined_function_fails_to_parse_and_function_names_are_case_sensitive() {
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
fn a_pipeline_stage_that_is_not_a_command_and_an_empty_command_fail_to_parse() {
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
fn unbalanced_if_else_end_and_a_break_outside_range_fail_to_parse() {
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
fn malformed_strings_numbers_characters_parens_and_comments_fail_with_go_s_messages() {
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
fn a_redefined_nested_or_malformed_define_fails_to_parse() {
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
fn a_call_with_the_wrong_number_of_arguments_fails_when_executed() {
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
fn an_argument_of_the_wrong_type_fails_at_its_own_column() {
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
fn a_failing_builtin_is_reported_as_error_calling_it_with_go_s_reason() {
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
fn arguments_to_non_functions_nil_commands_and_missing_templates_fail_when_executed() {
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

// ----- Hive resource and patch templating (docs/hive-compatibility.md, "Templates"; Hive scenario #32) -----

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
fn recursion_depth_steps_and_output_size_are_capped_during_execution() {
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

// ----- The render budget of one syncset for one cluster -----

const BUDGET_PREFIX: &str = "the syncset's templates exceed the render budget of";

#[track_caller]
fn exec_err_with(template: &str, budget: &mut Budget) -> String {
    match render_with(template, &labels(), budget) {
        Err(TemplateError::Exec(m)) => m,
        other => panic!("{template:?}: expected an execution error, got {other:?}"),
    }
}

#[test]
fn a_huge_unicode_precision_fails_on_the_output_cap_before_padding() {
    // Used to pad by inserting at the front digit by digit: ~5e13 byte moves before any check.
    assert_eq!(
        exec_err(r#"{{ printf "%.10000000U" 1 }}"#),
        r#"template: cdParams:1:3: executing "cdParams" at <printf "%.10000000U" 1>: error calling printf: formatted output exceeds 4194304 bytes"#
    );
    // Under the caps the padding is linear and the result Go's.
    let out = ok(r#"{{ printf "%.1000000U" 1 }}"#);
    assert_eq!(out.len(), 2 + 1_000_000);
    assert!(out.starts_with("U+0000") && out.ends_with("0001"));
    assert_eq!(
        ok(r#"{{ printf "%.6U|%#.6U|%U" 65 233 1 }}"#),
        "U+000041|U+0000E9 'é'|U+0001"
    );
    // With less budget left than the per-call cap, the same call spends the budget and says so.
    let mut budget = Budget::new(1000, 100_000);
    assert_eq!(
        exec_err_with(r#"{{ printf "%.200000U" 1 }}"#, &mut budget),
        r#"template: cdParams:1:3: executing "cdParams" at <printf "%.200000U" 1>: error calling printf: the syncset's templates exceed the render budget of 100000 output bytes for one cluster"#
    );
    assert!(budget.exhausted());
}

#[test]
fn widths_and_precisions_are_checked_against_what_is_left_before_the_work() {
    let budget = || Budget::new(1_000_000, 10_000);
    let over = "exceed the render budget of 10000 output bytes for one cluster";
    for template in [
        r#"{{ printf "%20000d" 1 }}"#,
        r#"{{ printf "%.20000d" 1 }}"#,
        r#"{{ printf "%020000d" 1 }}"#,
        r#"{{ printf "%*d" 20000 1 }}"#,
        r#"{{ printf "%.20000x" 1 }}"#,
        r#"{{ printf "%.9999f" 1.5 }}{{ printf "%.9999f" 1.5 }}"#,
        r#"{{ printf "%#.20000g" 1.5 }}"#,
        r#"{{ printf "%20000s" "" }}"#,
        r#"{{ printf "%x" (printf "%6000s" "") }}"#,
        r#"{{ printf "%q" (printf "%6000s" "") | printf "%s%s" "x" }}"#,
        r#"{{ print (printf "%6000s" "") (printf "%6000s" "") }}"#,
    ] {
        let msg = exec_err_with(template, &mut budget());
        assert!(msg.ends_with(over), "{template}: {msg}");
    }
    // Float precision is work even when the result is short: `%.9999g` of 1.5 prints "1.5".
    assert_eq!(ok(r#"{{ printf "%.9999g" 1.5 }}"#), "1.5");
    let msg = exec_err_with(
        r#"{{ range 10 }}{{ printf "%.9999g" 1.5 }}{{ end }}"#,
        &mut budget(),
    );
    assert!(msg.ends_with(over), "{msg}");
}

#[test]
fn a_format_full_of_unclosed_argument_indexes_is_formatted_in_linear_time() {
    // Go rescans the rest of the format from every `[`: 200k of them used to cost 2e10 byte comparisons.
    assert_eq!(ok(r#"{{ printf "%[%[%[x" 1 }}"#), "%[%!x(BADINDEX)");
    assert_eq!(ok(r#"{{ printf "%[%[x" 1 }}"#), "%[x");
    let big = format!(r#"{{{{ printf "{}x" 1 }}}}"#, "%[".repeat(200_000));
    assert!(ok(&big) == format!("{}x", "%[".repeat(100_000)));
    // One `]` at the very end: the first `[`'s index is then everything up to it, not a number (Go's answer).
    let big = format!(r#"{{{{ printf "{}]x" 1 }}}}"#, "%[".repeat(200_000));
    assert_eq!(ok(&big), "%!x(BADINDEX)");
    let big = format!(r#"{{{{ printf "{}%[1]d" 1 }}}}"#, "%[x".repeat(100_000));
    assert_eq!(ok(&big), "%!d(BADINDEX)");
    assert_eq!(
        ok(r#"{{ printf "%[2]d %[1]d %[x]d %[3]d" 1 2 }}"#),
        "2 1 %!d(BADINDEX) %!d(BADINDEX)"
    );
}

#[test]
fn range_over_a_huge_integer_stops_at_the_step_caps() {
    assert_eq!(
        exec_err("{{ range 100000000 }}x{{ end }}"),
        r#"template: cdParams:1:21: executing "cdParams" at <x>: template execution exceeds 1000000 steps"#
    );
    // With less of the syncset's budget left than the per-string cap, the budget stops it.
    let mut budget = Budget::new(500_000, 16 << 20);
    let msg = exec_err_with("{{ range 100000000 }}x{{ end }}", &mut budget);
    assert!(
        msg.ends_with(
            "the syncset's templates exceed the render budget of 500000 steps for one cluster"
        ),
        "{msg}"
    );
    assert!(msg.starts_with(r#"template: cdParams:1:"#), "{msg}");
    assert_eq!(budget.steps_left(), 0);
}

#[test]
fn the_budget_is_shared_by_the_strings_and_stays_spent() {
    let mut budget = Budget::new(1_000_000, 10_000);
    let four_k = r#"{{ range 4 }}{{ printf "%500s" "" }}{{ end }}"#; // 2000 printed + 2000 returned by printf
    assert_eq!(
        render_with(four_k, &labels(), &mut budget).unwrap().len(),
        2000
    );
    assert_eq!(
        render_with(four_k, &labels(), &mut budget).unwrap().len(),
        2000
    );
    assert_eq!(budget.output_left(), 10_000 - 8_000);
    let msg = exec_err_with(four_k, &mut budget);
    assert!(
        msg.ends_with(&format!(
            "{BUDGET_PREFIX} 10000 output bytes for one cluster"
        )),
        "{msg}"
    );
    // Spent for good: the next string fails without being parsed, a plain one is returned as is.
    assert_eq!(
        exec_err_with("{{ 1 }}", &mut budget),
        "template: cdParams: the syncset's templates exceed the render budget of 10000 output bytes for one cluster"
    );
    assert_eq!(
        render_with("plain", &labels(), &mut budget).unwrap(),
        "plain"
    );
}

#[test]
fn reading_long_strings_costs_steps_and_copying_them_costs_nothing() {
    // Each `eq` reads ~2 MB: charged one step per 64 bytes, so the loop stops after a few dozen rounds.
    let compare =
        r#"{{ $x := printf "%1000000s" "" }}{{ range 100000 }}{{ if eq $x $x }}{{ end }}{{ end }}"#;
    assert!(exec_err(compare).ends_with("template execution exceeds 1000000 steps"));
    // Escaping returns a new string: charged as output bytes.
    let escape = r#"{{ $x := printf "%1000000s" "" }}{{ range 100 }}{{ $y := html $x }}{{ end }}"#;
    assert!(exec_err(escape).ends_with("error calling html: the syncset's templates exceed the render budget of 16777216 output bytes for one cluster"));
    let slices =
        r#"{{ $x := printf "%1000000s" "" }}{{ range 100 }}{{ $y := slice $x 1 }}{{ end }}"#;
    assert!(exec_err(slices).ends_with("error calling slice: the syncset's templates exceed the render budget of 16777216 output bytes for one cluster"));
    // Moving a long literal or variable around is free (shared, not copied): 100k rounds of 100 kB succeed.
    let literal = format!(
        r#"{{{{ range 100000 }}}}{{{{ $y := "{}" }}}}{{{{ $z := $y }}}}{{{{ end }}}}done"#,
        "a".repeat(100_000)
    );
    assert_eq!(ok(&literal), "done");
}

#[test]
fn variable_lookups_do_not_scan_every_declaration() {
    let decls: String = (0..100_000)
        .map(|i| format!("{{{{$v{i} := {i}}}}}"))
        .collect();
    // 100k lookups of the deepest one: a scan from the top would compare 1e10 names.
    let template =
        format!("{decls}{{{{ range 100000 }}}}{{{{ $v0 }}}}{{{{ end }}}}{{{{ $v99999 }}}}");
    let out = ok(&template);
    assert!(out == format!("{}99999", "0".repeat(100_000)));
    // Scoping is Go's: inner declarations shadow and go away, assignments reach the innermost, templates start afresh.
    assert_eq!(
        ok("{{ $x := 1 }}{{ range 2 }}{{ $x := 5 }}{{ $x = 6 }}{{ $x }}{{ end }}{{ $x }}"),
        "661"
    );
    assert_eq!(
        ok("{{ $x := 1 }}{{ range $i := 2 }}{{ $x = $i }}{{ end }}{{ $x }}"),
        "1"
    );
    assert_eq!(
        ok(
            r#"{{ define "t" }}{{ $ }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x := 1 }}{{ template "t" 7 }}{{ $x }}"#
        ),
        "721"
    );
}

#[test]
fn many_arguments_and_long_field_chains_cost_steps() {
    let args = format!(
        "{{{{ range 1000000 }}}}{{{{ $y := print {} }}}}{{{{ end }}}}",
        "1 ".repeat(10_000)
    );
    assert!(exec_err(&args).ends_with("template execution exceeds 1000000 steps"));
    // `$` is nil, so every field of it is nil too: the whole chain is walked on every evaluation.
    let chain = format!(
        "{{{{ range 1000000 }}}}{{{{ $y := ${} }}}}{{{{ end }}}}",
        ".a".repeat(100_000)
    );
    assert!(exec_err(&chain).ends_with("template execution exceeds 1000000 steps"));
}

#[test]
fn render_value_with_spends_one_budget_over_every_string() {
    // Each string stays well under the per-string caps (4 MB printed); together they pass 16 MiB.
    let heavy = r#"{{ range 1000 }}{{ printf "%4000s" "" }}{{ end }}"#;
    let resource = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": heavy, "b": heavy, "c": heavy}});
    let one = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": heavy}});
    assert_eq!(
        render_value(&one, &labels()).unwrap()["data"]["a"]
            .as_str()
            .unwrap()
            .len(),
        4_000_000
    );
    let err = render_value(&resource, &labels()).unwrap_err();
    assert!(err.contains(r#"failed to execute template on string "{{ range 1000 }}{{ printf \"%4000s\" \"\" }}{{ end }}": template: cdParams:1:"#), "{err}");
    assert!(err.ends_with("the syncset's templates exceed the render budget of 16777216 output bytes for one cluster"), "{}", &err[err.len() - 200..]);
}

// ----- Secrets stay out of messages -----

#[test]
fn a_failing_secret_value_shows_keys_only() {
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
        "stringData": {"a": "PLANTED-VALUE", "b": "{{ bad", "c": "{{ \"PLANTED-RENDERED\" }}"}
    });
    let err = render_value(&secret, &labels()).unwrap_err();
    assert_eq!(
        err,
        r#"Failed to apply template to value map[string]interface {}{"a":"<redacted>", "b":"<redacted>", "c":"<redacted>"}: failed to parse template string "<redacted>": template: cdParams:1: <redacted>"#
    );
    // Execution errors lose their context and detail (both may quote the value), keep the position.
    let secret = json!({"kind": "Secret", "data": {"a": "{{ \"PLANTED-RENDERED\" }}", "b": "x{{ index \"PLANTED-VALUE\" 99 }}"}});
    let err = render_value(&secret, &labels()).unwrap_err();
    assert_eq!(
        err,
        r#"Failed to apply template to value map[string]interface {}{"a":"<redacted>", "b":"<redacted>"}: failed to execute template on string "<redacted>": template: cdParams:1:4: <redacted>"#
    );
    // A guard rail's text holds nothing of the value: it stays.
    let secret =
        json!({"kind": "Secret", "data": {"a": "PLANTED-VALUE{{ range 10000000 }}{{ end }}"}});
    let err = render_value(&secret, &labels()).unwrap_err();
    assert!(!err.contains("PLANTED"), "{err}");
    assert!(err.ends_with(r#"failed to execute template on string "<redacted>": template: cdParams:1:22: template execution exceeds 1000000 steps"#), "{err}");
    // Other fields of a Secret keep Hive's message.
    let secret = json!({"kind": "Secret", "type": "{{ bad", "data": {"a": "PLANTED-VALUE"}});
    assert_eq!(
        render_value(&secret, &labels()).unwrap_err(),
        r#"Failed to apply template to value "{{ bad": failed to parse template string "{{ bad": template: cdParams:1: function "bad" not defined"#
    );
}

#[test]
fn a_templated_or_missing_kind_counts_as_a_possible_secret() {
    for kind in [
        json!("{{ fromCDLabel \"kind\" }}"),
        json!(""),
        json!(null),
        json!("secret"),
        json!("SealedSecret"),
    ] {
        let resource = json!({"kind": kind, "stringData": {"a": "PLANTED-VALUE", "b": "{{ bad"}});
        let err = render_value(&resource, &labels()).unwrap_err();
        assert!(!err.contains("PLANTED"), "{kind}: {err}");
    }
    assert!(kind_may_be_secret(None));
    assert!(!kind_may_be_secret(Some("ConfigMap")));
}

#[test]
fn a_config_map_keeps_hive_s_exact_message() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "PLANTED-VALUE", "b": "{{ bad"}});
    assert_eq!(
        render_value(&cm, &labels()).unwrap_err(),
        r#"Failed to apply template to value map[string]interface {}{"a":"PLANTED-VALUE", "b":"{{ bad"}: failed to parse template string "{{ bad": template: cdParams:1: function "bad" not defined"#
    );
}

#[test]
fn a_patch_of_a_possible_secret_is_redacted() {
    let patch = r#"{"stringData": {"a": "PLANTED-VALUE", "b": "{{ len 3 }}"}}"#;
    let mut budget = Budget::per_syncset();
    assert_eq!(
        render_patch_with(patch, &labels(), &mut budget, true).unwrap_err(),
        r#"failed to execute template on string "<redacted>": template: cdParams:1:47: <redacted>"#
    );
    assert_eq!(
        render_patch_with(patch, &labels(), &mut budget, false).unwrap_err(),
        r#"failed to execute template on string "{\"stringData\": {\"a\": \"PLANTED-VALUE\", \"b\": \"{{ len 3 }}\"}}": template: cdParams:1:47: executing "cdParams" at <len 3>: error calling len: len of type int"#
    );
}

#[test]
fn redacted_go_errors_keep_only_what_we_generate() {
    let budget = Budget::per_syncset();
    let r = |m: &str| redact_go_error(m, &budget);
    assert_eq!(
        r("template: cdParams:12: function \"secret\" not defined"),
        "template: cdParams:12: <redacted>"
    );
    assert_eq!(
        r("template: cdParams:1:7: executing \"x\" at <\"secret\">: boom"),
        "template: cdParams:1:7: <redacted>"
    );
    assert_eq!(
        r("template: secret-name: boom"),
        "template: cdParams: <redacted>"
    );
    assert_eq!(
        r("template: multiple definition of template \"secret\""),
        "template: cdParams: <redacted>"
    );
    assert_eq!(
        r("template: cdParams:1:2: executing \"cdParams\" at <printf \"secret\">: error calling printf: formatted output exceeds 4194304 bytes"),
        "template: cdParams:1:2: formatted output exceeds 4194304 bytes"
    );
    assert_eq!(
        r("template: cdParams:3: max expression depth exceeded"),
        "template: cdParams:3: max expression depth exceeded"
    );
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
        '{', '}', '-', '"', '`', '\'', '(', ')', '|', '$', ':', '=', '.', ',', '/', '*', '\\', ' ',
        '\t', '\n', '0', '1', '9', 'a', 'x', 'e', 'p', 'i', '_', '+', '%', 'é', '€', '\u{7f}',
        '\u{1}', '😀',
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
        "%", "#", "0", "+", "-", " ", "[", "]", "1", "2", "9", ".", "*", "v", "s", "d", "q", "x",
        "X", "o", "O", "b", "c", "U", "t", "f", "F", "e", "E", "g", "G", "T", "p", "w", "z", "é",
        "|",
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
