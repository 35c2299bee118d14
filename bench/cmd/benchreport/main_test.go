package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ginlimit/ginlimit/bench"
)

// sampleOutput is go test output as benchreport saves it, with results made
// up so that the numbers below are easy to check.
const sampleOutput = `date: 2026-01-02
go: go1.26.8 linux/amd64
redis: 7.0.15
command: cd bench && go run ./cmd/benchreport -count 6 -benchtime 300ms
goos: linux
goarch: amd64
pkg: github.com/ginlimit/ginlimit/bench
cpu: Test CPU @ 2.00GHz
BenchmarkPeers/memory-admit/ginlimit/sliding-2         	 1000000	       100.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/ginlimit/sliding-2         	 1000000	       101.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/ginlimit/sliding-2         	 1000000	       102.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/ginlimit/sliding-2         	 1000000	       103.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/ginlimit/sliding-2         	 1000000	       104.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/ginlimit/sliding-2         	 1000000	       200.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/ginlimit/fixed-2           	 1000000	        90.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPeers/memory-admit/xrate/token-2              	 1000000	       205.0 ns/op	      48 B/op	       1 allocs/op
BenchmarkPeers/memory-admit/ulule/fixed-2              	  100000	      4100 ns/op	     512 B/op	       9 allocs/op
BenchmarkPeers/middleware/baseline-2                   	 1000000	      1000 ns/op	    1024 B/op	      10 allocs/op
BenchmarkPeers/middleware/ginlimit/sliding-2           	 1000000	      1250 ns/op	    1024 B/op	      10 allocs/op
BenchmarkPeers/middleware/jgl-2                        	 1000000	      1100 ns/op	    1100 B/op	      14 allocs/op
BenchmarkPeers/redis-deny/ginlimit/sliding-2           	 1000000	       500.0 ns/op	       0.01000 cmds/op	      16 B/op	       1 allocs/op
BenchmarkPeers/redis-deny/redis_rate/gcra-2            	   50000	     20000 ns/op	       1.000 cmds/op	     400 B/op	      12 allocs/op
BenchmarkPeers/redis-down/ginlimit/sliding-2           	    1000	     1000 ns/op	         1.000 2xx/op	         0 429/op	         0 5xx/op	       101.0 max-ms	     100 B/op	       2 allocs/op
BenchmarkPeers/redis-down/ulule/fixed-2                	    1000	     9000 ns/op	         0 2xx/op	         0 429/op	         1.000 5xx/op	       250.0 max-ms	     900 B/op	      20 allocs/op
BenchmarkOther-2                                       	 1000000	        10.0 ns/op
PASS
ok  	github.com/ginlimit/ginlimit/bench	12.345s
`

func parseSample(t *testing.T) *results {
	t.Helper()
	res, err := parse(strings.NewReader(sampleOutput), "sample", func(msg string) { t.Errorf("warning: %s", msg) })
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestParse(t *testing.T) {
	res := parseSample(t)

	var names []string
	for _, sc := range res.Scenarios {
		names = append(names, sc.Name)
	}
	if want := []string{"memory-admit", "middleware", "redis-deny", "redis-down"}; !slices.Equal(names, want) {
		t.Errorf("scenarios = %q, want %q", names, want)
	}

	sliding := res.Scenario("memory-admit").Reference()
	if sliding == nil {
		t.Fatal("memory-admit has no ginlimit/sliding row")
	}
	if got, want := sliding.Ns.Center, 102.5; got != want {
		t.Errorf("ginlimit/sliding median = %v ns/op, want %v", got, want)
	}
	if got, want := sliding.Ns.PctRangeString(), "95%"; got != want { // 200/102.5 - 1
		t.Errorf("ginlimit/sliding spread = %s, want %s", got, want)
	}
	if got, want := sliding.Ns.N, 6; got != want {
		t.Errorf("ginlimit/sliding runs = %d, want %d", got, want)
	}

	var labels []string
	for _, r := range res.Scenario("memory-admit").Rows {
		labels = append(labels, r.Label())
	}
	if want := []string{"ginlimit/fixed", "ginlimit/sliding", "xrate/token", "ulule/fixed"}; !slices.Equal(labels, want) {
		t.Errorf("memory-admit rows = %q, want %q", labels, want)
	}

	down := res.Scenario("redis-down").Reference()
	if got, ok := down.Metric("max-ms"); !ok || got != 101 {
		t.Errorf("redis-down max-ms = %v, %t, want 101, true", got, ok)
	}
	if !slices.Equal(res.Procs, []int{2}) {
		t.Errorf("procs = %v, want [2]", res.Procs)
	}
	if got, want := res.Config["cpu"], "Test CPU @ 2.00GHz"; got != want {
		t.Errorf("cpu = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{"no results", "goos: linux\nPASS\n"},
		{"other benchmarks only", "BenchmarkOther-2 \t 100 \t 10.0 ns/op\n"},
		{"no ns/op", "BenchmarkPeers/memory-admit/ginlimit-2 \t 100 \t 3 cmds/op\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(strings.NewReader(tt.give), "give", func(string) {})
			if err == nil {
				t.Error("got no error, want one")
			}
		})
	}
}

func TestParseWarnsOfBadNames(t *testing.T) {
	give := "BenchmarkPeers/memory-admit-2 \t 100 \t 10.0 ns/op\n" +
		"BenchmarkPeers/memory-admit/ginlimit-2 \t 100 \t 10.0 ns/op\n"
	var warnings []string
	res, err := parse(strings.NewReader(give), "give", func(msg string) { warnings = append(warnings, msg) })
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 {
		t.Errorf("warnings = %q, want one about memory-admit-2", warnings)
	}
	if got := len(res.Scenario("memory-admit").Rows); got != 1 {
		t.Errorf("memory-admit has %d rows, want 1", got)
	}
}

func TestRenderMarkdown(t *testing.T) {
	md := string(renderMarkdown(parseSample(t), bench.Libraries))

	for _, want := range []string{
		"Measured on 2026-01-02.",
		"- CPU: Test CPU @ 2.00GHz\n",
		"- CPUs used (GOMAXPROCS): 2\n",
		"- Go: go1.26.8 linux/amd64\n",
		"- Redis: 7.0.15\n",
		"cd bench && go run ./cmd/benchreport -count 6 -benchtime 300ms\n",
		"- Every number is the median of 1 to 6 runs.\n",
		"![memory-admit: ns/op of each library](benchmarks/memory-admit.svg)",
		// The ratio is 205 / 102.5; a single run has no confidence interval.
		"| xrate | token | 205 ± ∞ | 2.00× | 1 | 48 |\n",
		"| **ginlimit** | sliding | 102 ± 95% | 1.00× | 0 | 0 |\n",
		"| Library | Variant | ns/op | over baseline | vs ginlimit | allocs/op | B/op |\n",
		"| **ginlimit** | sliding | 1,250 ± ∞ | +250 | 1.00× | 10 | 1,024 |\n",
		"| baseline |  | 1,000 ± ∞ | 0 | 0.80× | 10 | 1,024 |\n",
		"| Library | Variant | ns/op | vs ginlimit | allocs/op | B/op | cmds/op |\n",
		"| **ginlimit** | sliding | 500 ± ∞ | 1.00× | 1 | 16 | 0.0100 |\n",
		"| redis_rate | gcra | 20,000 ± ∞ | 40.0× | 12 | 400 | 1 |\n",
		"| **ginlimit** | sliding | 1,000 ± ∞ | 1.00× | 2 | 100 | 101 | 100% | 0% | 0% |\n",
		"- **ulule**, [github.com/ulule/limiter/v3](https://pkg.go.dev/github.com/ulule/limiter/v3@v3.11.2) v3.11.2: ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}

	// Rows are sorted by ns/op.
	var last int
	for _, row := range []string{"| **ginlimit** | fixed |", "| **ginlimit** | sliding | 102", "| xrate |", "| ulule | fixed | 4,100"} {
		i := strings.Index(md, row)
		if i < last {
			t.Errorf("row %q is at %d, before the previous row at %d", row, i, last)
		}
		last = i
	}
}

func TestTargets(t *testing.T) {
	got := make(map[string]outcome)
	for _, o := range evaluate(parseSample(t)) {
		got[o.Goal] = o
	}
	tests := []struct {
		give         string
		want         status
		wantMeasured string
	}{
		{"ginlimit/sliding is faster than every other library", met, "2.00× (102 ns/op; fastest other, xrate/token: 205 ns/op)"},
		{"ginlimit/sliding allocates nothing", met, "0 allocs/op"},
		{"ginlimit/sliding adds at most 200 ns/op to a request", missed, "+250 ns/op (1,250 against 1,000 for the baseline)"},
		{"ginlimit/sliding has at least 1.5× the throughput of every other library", noData, "scenario not run"},
		{"ginlimit/sliding has at least 10× the throughput of every other library", met, "40.0× (500 ns/op; fastest other, redis_rate/gcra: 20,000 ns/op)"},
		{"ginlimit/sliding sends at most 0.05 Redis commands per decision", met, "0.0100 cmds/op"},
		{"ginlimit/sliding decides within 100 ms, the default Redis timeout", missed, "101 ms at most"},
		{"ginlimit/sliding answers no request with a 5xx", met, "0% 5xx"},
	}
	if len(got) != len(tests) {
		t.Errorf("got %d targets, want %d", len(got), len(tests))
	}
	for _, tt := range tests {
		o, ok := got[tt.give]
		if !ok {
			t.Errorf("no target %q", tt.give)
			continue
		}
		if o.Status != tt.want || o.Measured != tt.wantMeasured {
			t.Errorf("%s: got %v, %q; want %v, %q", tt.give, o.Status, o.Measured, tt.want, tt.wantMeasured)
		}
	}

	md := string(renderMarkdown(parseSample(t), nil))
	for _, want := range []string{
		"5 of 8 targets met.",
		"| middleware | ginlimit/sliding adds at most 200 ns/op to a request | +250 ns/op (1,250 against 1,000 for the baseline) | **missed** |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestRenderChart(t *testing.T) {
	res := parseSample(t)
	tests := []struct {
		give    string
		wantLog bool // ulule's 4100 ns/op is more than 30 times ginlimit/fixed's 90
	}{
		{"memory-admit", true},
		{"middleware", false},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			sc := res.Scenario(tt.give)
			svg, err := renderChart(sc)
			if err != nil {
				t.Fatal(err)
			}
			again, err := renderChart(sc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(svg, again) {
				t.Error("two renderings of the same scenario differ")
			}
			for _, want := range []string{"<svg", "ns/op (lower is better)", ">ginlimit/sliding<", ">" + sc.Rows[len(sc.Rows)-1].Label() + "<"} {
				if !bytes.Contains(svg, []byte(want)) {
					t.Errorf("chart lacks %q", want)
				}
			}
			// Only a logarithmic axis labels its ticks as durations.
			if got := bytes.Contains(svg, []byte(">100ns<")); got != tt.wantLog {
				t.Errorf("logarithmic axis = %t, want %t", got, tt.wantLog)
			}
		})
	}
}

func TestFormatNum(t *testing.T) {
	tests := []struct {
		give float64
		want string
	}{
		{0, "0"},
		{0.0123456, "0.0123"},
		{4.5678, "4.57"},
		{78.91, "78.9"},
		{102.5, "102"},
		{123456.7, "123,457"},
		{-12.34, "-12.3"},
		{48, "48"},
		{1234567, "1,234,567"},
		{-1234.6, "-1,235"},
	}
	for _, tt := range tests {
		if got := formatNum(tt.give); got != tt.want {
			t.Errorf("formatNum(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestRunFrom(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(t.TempDir(), "saved.txt")
	if err := os.WriteFile(from, []byte(sampleOutput), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := run([]string{"-from", from, "-root", root}, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.Bytes())
	}

	raw, err := os.ReadFile(filepath.Join(root, "docs", "benchmarks", "raw.txt"))
	if err != nil || string(raw) != sampleOutput {
		t.Errorf("raw.txt is not a copy of the -from file (error %v)", err)
	}
	md, err := os.ReadFile(filepath.Join(root, "docs", "BENCHMARKS.md"))
	if err != nil || !bytes.Contains(md, []byte("Measured on 2026-01-02.")) {
		t.Errorf("BENCHMARKS.md was not written from the -from file (error %v)", err)
	}
	for _, name := range []string{"memory-admit", "middleware", "redis-deny", "redis-down"} {
		if _, err := os.Stat(filepath.Join(root, "docs", "benchmarks", name+".svg")); err != nil {
			t.Error(err)
		}
	}
}

// TestLibraryVersions checks that bench.Libraries names the versions that
// the bench module requires.
func TestLibraryVersions(t *testing.T) {
	args := []string{"list", "-m", "-f", "{{.Path}} {{.Version}}"}
	want := make(map[string]string)
	for _, l := range bench.Libraries {
		args = append(args, l.Module)
		want[l.Module] = l.Version
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		module, version, _ := strings.Cut(strings.TrimSpace(line), " ")
		if want[module] != version {
			t.Errorf("bench.Libraries has %s %s, go.mod requires %s", module, want[module], version)
		}
	}
}
