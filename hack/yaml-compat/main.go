// Command yamlcompat compares hivesync's reading of syncset patch bodies (src/plan/yaml_v2.rs) with what Hive sends:
// kubectl's yaml.ToJSON, that is sigs.k8s.io/yaml.YAMLToJSON over yaml.v2, then the JSON it writes.
//
//	yamlcompat gen -n 20000 -seed 1 > cases.jsonl   generated bodies: valid YAML of every scalar form, and mutations
//	yamlcompat run < cases.jsonl > go.jsonl         Go's answer per case: the JSON sent, or the error
//	yamlcompat compare cases.jsonl go.jsonl rust.jsonl
//
// hack/yaml-compat/compare.sh runs the three with hivesync's side (examples/yaml_compat.rs) in between.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"strings"

	"sigs.k8s.io/yaml"
)

// Case is one patch body.
type Case struct {
	Text string `json:"text"`
}

// Result is what one side said about a case; exactly one field is set.
type Result struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: yamlcompat gen|run|compare ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ExitOnError)
		n := fs.Int("n", 20000, "number of cases")
		seed := fs.Int64("seed", 1, "random seed (the same seed gives the same cases)")
		_ = fs.Parse(os.Args[2:])
		gen(*n, *seed)
	case "run":
		run()
	case "compare":
		if len(os.Args) != 5 {
			fmt.Fprintln(os.Stderr, "usage: yamlcompat compare CASES GO RUST")
			os.Exit(2)
		}
		os.Exit(compare(os.Args[2], os.Args[3], os.Args[4]))
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", os.Args[1])
		os.Exit(2)
	}
}

// Plain scalars whose reading differs between YAML 1.1 and 1.2, or between Go and a naive reader.
var scalars = []string{
	"yes", "Yes", "YES", "yEs", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
	"true", "True", "TRUE", "tRue", "false", "False", "FALSE", "~", "null", "Null", "NULL", "nUll", "",
	"0", "-0", "+0", "00", "0644", "08", "09.5", "0x1F", "0X1f", "0o17", "0O17", "0b101", "0B11", "-0x10", "+12",
	"1_000", "1__0", "_1", "1_", "1.0", "1.5", "-1.5", ".5", "5.", "1e3", "1E3", "1e+3", "1.5e-3", "1e", "e3",
	".inf", ".Inf", ".INF", "+.inf", "-.inf", "-.Inf", ".nan", ".NaN", ".NAN", "inf", "nan",
	"18446744073709551615", "18446744073709551616", "9223372036854775807", "9223372036854775808",
	"-9223372036854775808", "-9223372036854775809", "1e400", "123456789012345678901234567890",
	"2024-01-02", "2024-01-02T03:04:05Z", "1:30", "1:30:00", "190:20:30", "1.2.3", "0x", "0o", "0b", "0xZZ",
	"a", "hello world", "a:b", "a#b", "-a", "?a", "=", "<<", "@", "`",
}

var quoted = []string{`"yes"`, `'on'`, `"0644"`, `'1_000'`, `"true"`, `""`, `''`, `"a\tb"`, `"\u00e9"`, `'it''s'`,
	`!!str yes`, `!!str 0644`, `!!null ""`, `!!int 3`, `!!bool yes`, `!!float 1`, `!thing value`, `|
  two
  lines
`, `>
  folded
  text
`}

func scalar(r *rand.Rand) string {
	if r.Intn(4) == 0 {
		return quoted[r.Intn(len(quoted))]
	}
	return scalars[r.Intn(len(scalars))]
}

func key(r *rand.Rand) string {
	switch r.Intn(5) {
	case 0:
		return scalars[r.Intn(len(scalars))]
	case 1:
		return quoted[r.Intn(10)]
	default:
		return fmt.Sprintf("k%d", r.Intn(6))
	}
}

// block writes a node in block style at the given indentation.
func block(r *rand.Rand, b *strings.Builder, indent, depth int) {
	pad := strings.Repeat("  ", indent)
	switch {
	case depth > 2 || r.Intn(3) == 0:
		s := scalar(r)
		if strings.ContainsRune(s, '\n') {
			s = strings.ReplaceAll(s, "\n  ", "\n"+pad+"  ")
			b.WriteString(" " + s)
			return
		}
		b.WriteString(" " + s + "\n")
	case r.Intn(2) == 0:
		b.WriteString("\n")
		for i := 0; i <= r.Intn(3); i++ {
			b.WriteString(pad + "-")
			block(r, b, indent+1, depth+1)
		}
	default:
		b.WriteString("\n")
		for i := 0; i <= r.Intn(3); i++ {
			b.WriteString(pad + key(r) + ":")
			block(r, b, indent+1, depth+1)
		}
	}
}

// flow writes a node in flow style.
func flow(r *rand.Rand, depth int) string {
	switch {
	case depth > 2 || r.Intn(3) == 0:
		s := scalar(r)
		if strings.ContainsRune(s, '\n') || s == "" || s == "`" || s == "@" || strings.HasPrefix(s, "?") {
			return "x"
		}
		return s
	case r.Intn(2) == 0:
		var items []string
		for i := 0; i < r.Intn(4); i++ {
			items = append(items, flow(r, depth+1))
		}
		return "[" + strings.Join(items, ", ") + "]"
	default:
		var items []string
		for i := 0; i < r.Intn(4); i++ {
			items = append(items, key(r)+": "+flow(r, depth+1))
		}
		return "{" + strings.Join(items, ", ") + "}"
	}
}

func document(r *rand.Rand) string {
	var b strings.Builder
	switch r.Intn(4) {
	case 0:
		b.WriteString("data: " + flow(r, 0) + "\n")
	case 1:
		b.WriteString(flow(r, 0))
	default:
		for i := 0; i <= r.Intn(3); i++ {
			b.WriteString(key(r) + ":")
			block(r, &b, 1, 0)
		}
	}
	return b.String()
}

const noise = ":{}[],-\t'\"&*!|>#%@` \n?"

// mutate breaks a document the way a hand edit does: a stray character, a cut, a tab.
func mutate(r *rand.Rand, s string) string {
	if s == "" {
		return string(noise[r.Intn(len(noise))])
	}
	at := r.Intn(len(s) + 1)
	switch r.Intn(3) {
	case 0:
		return s[:at] + string(noise[r.Intn(len(noise))]) + s[at:]
	case 1:
		return s[:at]
	default:
		return s[:at] + "\t" + s[at:]
	}
}

func gen(n int, seed int64) {
	r := rand.New(rand.NewSource(seed))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for i := 0; i < n; i++ {
		text := document(r)
		if r.Intn(3) == 0 {
			text = mutate(r, text)
		}
		_ = enc.Encode(Case{Text: text})
	}
}

func run() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	for in.Scan() {
		var c Case
		if err := json.Unmarshal(in.Bytes(), &c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		var res Result
		j, err := yaml.YAMLToJSON([]byte(c.Text))
		if err != nil {
			s := err.Error()
			res.Error = &s
		} else {
			s := string(j)
			res.Output = &s
		}
		_ = enc.Encode(res)
	}
}

func read(path string) []Result {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	var out []Result
	for in.Scan() {
		var r Result
		if err := json.Unmarshal(in.Bytes(), &r); err != nil {
			fmt.Fprintln(os.Stderr, path, err)
			os.Exit(2)
		}
		out = append(out, r)
	}
	return out
}

// sameJSON: the same JSON as the API server reads it. Numbers compare as float64s: past 2^53 Go writes an integral
// float64 as its shortest digits padded with zeros (9223372036854776000) and hivesync as a float (9.223372036854776e18),
// the same number.
func sameJSON(a, b string) bool {
	if a == b {
		return true
	}
	var x, y interface{}
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func compare(casesPath, goPath, rustPath string) int {
	f, _ := os.Open(casesPath)
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	var cases []Case
	for in.Scan() {
		var c Case
		_ = json.Unmarshal(in.Bytes(), &c)
		cases = append(cases, c)
	}
	g, h := read(goPath), read(rustPath)
	if len(g) != len(cases) || len(h) != len(cases) {
		fmt.Fprintf(os.Stderr, "lengths differ: %d cases, %d Go, %d hivesync\n", len(cases), len(g), len(h))
		return 2
	}
	var values, valueSame, errors, errorBoth, errorSame, shown int
	for i, c := range cases {
		gr, hr := g[i], h[i]
		switch {
		case gr.Output != nil:
			values++
			if hr.Output != nil && sameJSON(*hr.Output, *gr.Output) {
				valueSame++
				continue
			}
		default:
			errors++
			if hr.Error != nil {
				errorBoth++
				if *hr.Error == *gr.Error {
					errorSame++
					continue
				}
			}
		}
		if shown < 400 {
			shown++
			gj, _ := json.Marshal(gr)
			hj, _ := json.Marshal(hr)
			fmt.Printf("case %d %q\n  Go:       %s\n  hivesync: %s\n", i, c.Text, gj, hj)
		}
	}
	fmt.Printf("%d cases: %d read by Go, %d of them the same JSON here; %d refused by Go, %d refused here too, %d with the same message\n",
		len(cases), values, valueSame, errors, errorBoth, errorSame)
	if valueSame != values || errorBoth != errors {
		return 1
	}
	return 0
}
