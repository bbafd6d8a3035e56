// Command templatecompat compares hivesync's port of Go's text/template (src/plan/template) with Go's own, as Hive
// runs it: template.New("cdParams").Funcs({fromCDLabel}).Parse(s), then Execute(buf, nil).
//
//	templatecompat gen -n 40000 -seed 1 > cases.jsonl   generated cases: a template and the cluster's labels
//	templatecompat run < cases.jsonl > go.jsonl         Go's answer per case: output, parse_error or exec_error
//	templatecompat compare cases.jsonl go.jsonl rust.jsonl
//
// Complex-number literals (3i) are left out: hivesync refuses them at parse time on purpose (src/plan/template).
//
// hack/template-compat/compare.sh runs the three with hivesync's side (examples/template_compat.rs) in between.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"text/template"
)

// Case is one template and the ClusterDeployment labels fromCDLabel reads.
type Case struct {
	Template string            `json:"template"`
	Labels   map[string]string `json:"labels"`
}

// Result is what one engine said about a case; exactly one field is set.
type Result struct {
	Output     *string `json:"output,omitempty"`
	ParseError *string `json:"parse_error,omitempty"`
	ExecError  *string `json:"exec_error,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: templatecompat gen|run|compare ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		n := fs.Int("n", 40000, "number of cases")
		seed := fs.Int64("seed", 1, "random seed (the same seed gives the same cases)")
		_ = fs.Parse(os.Args[2:])
		gen(*n, *seed)
	case "run":
		run()
	case "compare":
		if len(os.Args) != 5 {
			fmt.Fprintln(os.Stderr, "usage: templatecompat compare CASES GO RUST")
			os.Exit(2)
		}
		os.Exit(compare(os.Args[2], os.Args[3], os.Args[4]))
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}

func encoder(w *bufio.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func execute(c Case) Result {
	funcs := template.FuncMap{"fromCDLabel": func(key string) string { return c.Labels[key] }}
	t, err := template.New("cdParams").Funcs(funcs).Parse(c.Template)
	if err != nil {
		msg := err.Error()
		return Result{ParseError: &msg}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, nil); err != nil {
		msg := err.Error()
		return Result{ExecError: &msg}
	}
	out := buf.String()
	return Result{Output: &out}
}

func run() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := encoder(out)
	for in.Scan() {
		var c Case
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Fprintf(os.Stderr, "bad case: %v\n", err)
			os.Exit(2)
		}
		if err := enc.Encode(execute(c)); err != nil {
			fmt.Fprintf(os.Stderr, "write: %v\n", err)
			os.Exit(2)
		}
	}
}

// ------------------------------------------------------------------------------------------------- the generator

var labelPool = map[string]string{
	"env": "prod", "region": "us-east-1", "n": "4", "empty": "", "name": "cluster-a", "pct": "50%",
	"quote": `a"b`, "unicode": "héllo, wörld", "html": "<b>&amp;</b>", "space": " padded ",
}

type g struct{ r *rand.Rand }

func (g g) pick(xs ...string) string { return xs[g.r.Intn(len(xs))] }

func (g g) literal() string {
	switch g.r.Intn(12) {
	case 0:
		return `"` + g.pick("", "a", "hello", "x y", `q\"q`, `\n`, `\t`, "é", "%d", "{{", `\x41`, `\u00e9`) + `"`
	case 1:
		return "`" + g.pick("", "raw", "a\\nb", "{{x}}", "tab\there") + "`"
	case 2:
		return g.pick("0", "1", "-1", "42", "007", "0x1F", "0o17", "0b101", "1_000", "9223372036854775807", "-9223372036854775808", "18446744073709551615")
	case 3:
		return g.pick("1.5", "-0.25", "1e3", "1e-7", "0.1", "3.0", "1e21", "0x1p-2", ".5", "2.")
	case 4:
		return g.pick("'a'", "'\\n'", "'é'", "'\\x41'", "'\\u00e9'", "'''")
	case 5:
		return g.pick("true", "false", "nil")
	case 6:
		return "$"
	case 7:
		return "."
	case 8:
		return "(fromCDLabel " + g.labelKey() + ")"
	default:
		return `"` + g.pick("a", "b", "abc", "10", "") + `"`
	}
}

func (g g) labelKey() string {
	return `"` + g.pick("env", "region", "n", "empty", "name", "pct", "quote", "unicode", "html", "space", "missing") + `"`
}

func (g g) arg(depth int) string {
	if depth > 2 || g.r.Intn(3) > 0 {
		return g.literal()
	}
	return "(" + g.pipeline(depth+1) + ")"
}

func (g g) args(depth, min, max int) string {
	n := min + g.r.Intn(max-min+1)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.arg(depth)
	}
	return strings.Join(parts, " ")
}

func (g g) command(depth int) string {
	switch g.r.Intn(20) {
	case 0:
		return "fromCDLabel " + g.labelKey()
	case 1:
		return "fromCDLabel"
	case 2:
		return `printf "` + g.pick("%d", "%s", "%v", "%q", "%x", "%5.2f", "%-4d|", "%t", "%c", "%03d", "%e", "%g", "%+d", "%U", "%[2]v %[1]v", "%!", "%d %d", "%08.3f", "%#v", "%T", "%%", "%*d", "%.3s", "%x %X", "%o %b") + `" ` + g.args(depth, 0, 3)
	case 3:
		return g.pick("print", "println") + " " + g.args(depth, 0, 3)
	case 4:
		return g.pick("len") + " " + g.arg(depth)
	case 5:
		return "index " + g.args(depth, 1, 3)
	case 6:
		return "slice " + g.args(depth, 1, 3)
	case 7:
		return g.pick("and", "or") + " " + g.args(depth, 1, 3)
	case 8:
		return "not " + g.args(depth, 0, 2)
	case 9:
		return g.pick("eq", "ne", "lt", "le", "gt", "ge") + " " + g.args(depth, 1, 3)
	case 10:
		return g.pick("html", "js", "urlquery") + " " + g.args(depth, 0, 2)
	case 11:
		return g.pick("call", "nosuchfunc", "Upper", "eq") + " " + g.args(depth, 0, 2)
	case 12:
		return g.pick(".Field", "$.X", ".", "$x", "$undefined")
	default:
		return g.literal()
	}
}

func (g g) pipeline(depth int) string {
	p := g.command(depth)
	if g.r.Intn(5) == 0 {
		p += " | " + g.pick("print", "len", "printf \"%v!\"", "html", "js", "urlquery", "not", "println", "index", "fromCDLabel")
	}
	if g.r.Intn(6) == 0 {
		p = "$x := " + p
	}
	return p
}

func (g g) action() string {
	open, close := "{{", "}}"
	if g.r.Intn(5) == 0 {
		open = "{{- "
	}
	if g.r.Intn(5) == 0 {
		close = " -}}"
	}
	switch g.r.Intn(14) {
	case 0:
		return open + "if " + g.pipeline(0) + close + g.text() + g.pick("", "{{else}}"+g.text(), "{{else if "+g.pipeline(0)+"}}"+g.text()) + "{{end}}"
	case 1:
		return open + "with " + g.pipeline(0) + close + "{{.}}" + g.pick("", "{{else}}"+g.text()) + "{{end}}"
	case 2:
		return open + "range " + g.pick("$i := ", "$i, $v := ", "") + g.pick("3", "0", "-1", "nil", `"abc"`, "fromCDLabel \"n\"", "2.5") + close + g.pick("{{.}}", "{{$i}}", "x", "{{break}}", "{{if eq . 1}}{{continue}}{{end}}{{.}}") + g.pick("", "{{else}}none") + "{{end}}"
	case 3:
		return `{{define "t"}}` + g.text() + `{{end}}{{template "t"` + g.pick("", " 1", ` "s"`) + "}}"
	case 4:
		return `{{block "b" ` + g.literal() + `}}[{{.}}]{{end}}`
	case 5:
		return "{{/* " + g.pick("a comment", "") + " */}}"
	case 6:
		return g.pick("{{", "{{end}}", "{{if}}", "{{ 1 2 }}", "{{)}}", `{{"unterminated}}`, "{{$x = 1}}", "{{template \"nope\"}}", "{{range}}{{end}}", "{{1 | 2}}", "{{else}}", "{{break}}", "{{.X.Y}}", "{{(1)(2)}}", "{{'ab'}}", "{{1e}}", "{{0x}}")
	case 7:
		return open + "$y := " + g.pipeline(0) + close + "{{$y}}"
	default:
		return open + g.pipeline(0) + close
	}
}

func (g g) text() string {
	return g.pick("", "a", " ", "\n", "text ", "é", "-", "  x  ")
}

func gen(n int, seed int64) {
	gg := g{rand.New(rand.NewSource(seed))}
	keys := make([]string, 0, len(labelPool))
	for k := range labelPool {
		keys = append(keys, k)
	}
	// Map order is random: sort for a reproducible label subset.
	sortStrings(keys)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := encoder(out)
	for i := 0; i < n; i++ {
		var b strings.Builder
		parts := 1 + gg.r.Intn(3)
		for j := 0; j < parts; j++ {
			b.WriteString(gg.text())
			b.WriteString(gg.action())
		}
		b.WriteString(gg.text())
		labels := map[string]string{}
		for _, k := range keys {
			if gg.r.Intn(4) > 0 {
				labels[k] = labelPool[k]
			}
		}
		if err := enc.Encode(Case{Template: b.String(), Labels: labels}); err != nil {
			fmt.Fprintf(os.Stderr, "write: %v\n", err)
			os.Exit(2)
		}
	}
}

func sortStrings(xs []string) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

// ------------------------------------------------------------------------------------------------- the comparison

func lines(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

func compare(casesPath, goPath, rustPath string) int {
	cases, goRes, rustRes := lines(casesPath), lines(goPath), lines(rustPath)
	if len(goRes) != len(cases) || len(rustRes) != len(cases) {
		fmt.Printf("%d cases but %d Go and %d hivesync answers\n", len(cases), len(goRes), len(rustRes))
		return 1
	}
	kinds := map[string]int{}
	mismatches := 0
	for i := range cases {
		var gr Result
		_ = json.Unmarshal([]byte(goRes[i]), &gr)
		switch {
		case gr.Output != nil:
			kinds["output"]++
		case gr.ParseError != nil:
			kinds["parse_error"]++
		default:
			kinds["exec_error"]++
		}
		if goRes[i] == rustRes[i] {
			continue
		}
		mismatches++
		if mismatches <= 20 {
			fmt.Printf("case %d: %s\n  go:       %s\n  hivesync: %s\n", i+1, cases[i], goRes[i], rustRes[i])
		}
	}
	fmt.Printf("%d cases (Go: %d outputs, %d parse errors, %d execution errors): %d differ\n",
		len(cases), kinds["output"], kinds["parse_error"], kinds["exec_error"], mismatches)
	if mismatches > 0 {
		return 1
	}
	return 0
}
