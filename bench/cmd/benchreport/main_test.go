package main

import (
	"bytes"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
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
redis-goroutines: 64
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
BenchmarkPeers/redis-admit/ginlimit/sliding-2          	  100000	     12000 ns/op	         3.000 cmds/op	         9.000 cmd-us/op	        10.00 redis-us/op	     768 B/op	       9 allocs/op
BenchmarkPeers/redis-admit/ginlimit/fixed-2            	  100000	      8000 ns/op	         3.000 cmds/op	         6.000 cmd-us/op	         7.000 redis-us/op	     768 B/op	       9 allocs/op
BenchmarkPeers/redis-admit/ginlimit/token-2            	  100000	     10000 ns/op	         3.000 cmds/op	         8.000 cmd-us/op	        12.00 redis-us/op	     768 B/op	       9 allocs/op
BenchmarkPeers/redis-admit/ulule/fixed-2               	  100000	     20000 ns/op	         3.000 cmds/op	         5.000 cmd-us/op	        20.00 redis-us/op	     848 B/op	      21 allocs/op
BenchmarkPeers/redis-hot/ginlimit/sliding-2            	  100000	     10000 ns/op	         0.2000 cmds/op	         1.000 cmd-us/op	         2.000 redis-us/op	     768 B/op	       9 allocs/op
BenchmarkPeers/redis-hot/ulule/fixed-2                 	  100000	     16000 ns/op	         3.000 cmds/op	         4.000 cmd-us/op	        15.00 redis-us/op	     848 B/op	      21 allocs/op
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
	if want := []string{"memory-admit", "middleware", "redis-admit", "redis-hot", "redis-deny", "redis-down"}; !slices.Equal(names, want) {
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
	md := string(renderMarkdown(parseSample(t), nil, bench.Libraries))

	for _, want := range []string{
		"Measured on 2026-01-02.",
		"- CPU: Test CPU @ 2.00GHz\n",
		"- CPUs used (GOMAXPROCS): 2\n",
		"- Go: go1.26.8 linux/amd64\n",
		"- Redis: 7.0.15, on the same machine, over loopback\n",
		"cd bench && go run ./cmd/benchreport -count 6 -benchtime 300ms\n",
		"- Every number is the median of 1 to 6 runs, one a round.\n",
		"every library decides from 64 goroutines at once",
		"`PoolSize` is raised to the number of goroutines",
		"![memory-admit: time per admitted decision (shorter bars are better)](benchmarks/memory-admit.svg)",
		// The ratio is 205 / 102.5; a single run has no confidence interval.
		"| xrate | token | 205 ns ± ∞ | 2.00× | 1 | 48 |\n",
		"| **ginlimit** | sliding | 102 ns ± 95% | 1.00× | 0 | 0 |\n",
		"| ulule | fixed | 4.10 µs ± ∞ | 40.0× | 9 | 512 |\n",
		"| Library | Variant | time/op | over baseline | vs ginlimit | allocs/op | B/op |\n",
		"| **ginlimit** | sliding | 1.25 µs ± ∞ | +250 ns | 1.00× | 10 | 1,024 |\n",
		"| baseline |  | 1 µs ± ∞ | 0 | 0.80× | 10 | 1,024 |\n",
		"| Library | Variant | time/op | vs ginlimit | allocs/op | B/op | cmds/op |\n",
		"| **ginlimit** | sliding | 500 ns ± ∞ | 1.00× | 1 | 16 | 0.0100 |\n",
		"| redis_rate | gcra | 20 µs ± ∞ | 40.0× | 12 | 400 | 1 |\n",
		"| **ginlimit** | sliding | 1 µs ± ∞ | 1.00× | 2 | 100 | 101 | 100% | 0% | 0% |\n",
		// Redis CPU both ways is a column and the headline of the section.
		"| Library | Variant | time/op | vs ginlimit | allocs/op | B/op | cmds/op | Redis CPU µs | Redis cmd µs |\n",
		"| ulule | fixed | 20 µs ± ∞ | 1.67× | 21 | 848 | 3 | 20 | 5 |\n",
		"**Redis CPU per decision, ginlimit against ulule/fixed**",
		"| Library | time/op | Redis CPU µs (INFO cpu) | Redis cmd µs (commandstats) | cmds/op |\n",
		"| **ginlimit/sliding** | 12 µs (0.60×) | 10 (0.50×) | 9 (1.80×) | 3 (1.00×) |\n",
		"| ulule/fixed | 20 µs | 20 | 5 | 3 |\n",
		"![redis-admit: Redis CPU per decision (shorter bars are better)](benchmarks/redis-admit-redis-cpu.svg)",
		"- **ulule**, [github.com/ulule/limiter/v3](https://pkg.go.dev/github.com/ulule/limiter/v3@v3.11.2) v3.11.2: ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}

	// Rows are sorted by time/op.
	var last int
	for _, row := range []string{"| **ginlimit** | fixed |", "| **ginlimit** | sliding | 102", "| xrate |", "| ulule | fixed | 4.10"} {
		i := strings.Index(md, row)
		if i < last {
			t.Errorf("row %q is at %d, before the previous row at %d", row, i, last)
		}
		last = i
	}
	// Without a study, no study section.
	if strings.Contains(md, "## Concurrency") {
		t.Error("markdown has a concurrency section without a study")
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
		{"ginlimit/sliding is faster than every other library", met, "2.00× (102 ns; fastest other, xrate/token: 205 ns)"},
		{"ginlimit/sliding allocates nothing", met, "0 allocs/op"},
		{"ginlimit/sliding adds at most 200 ns/op to a request", missed, "+250 ns (1.25 µs against 1 µs for the baseline)"},
		// Met by INFO cpu (0.35×), missed by commandstats (1.20×): missed.
		{"Redis CPU per admitted decision, fixed window: ginlimit/fixed at most ulule/fixed's (1×), by INFO cpu and by commandstats", missed,
			"INFO cpu: 0.35× (7 against 20 µs); commandstats: 1.20× (6 against 5 µs)"},
		{"Redis CPU per admitted decision, sliding window: ginlimit/sliding at most 1.3× ulule/fixed's, by INFO cpu and by commandstats", missed,
			"INFO cpu: 0.50× (10 against 20 µs); commandstats: 1.80× (9 against 5 µs)"},
		{"Redis CPU per admitted decision, token bucket: ginlimit/token at most 1.3× ulule/fixed's, by INFO cpu and by commandstats", missed,
			"INFO cpu: 0.60× (12 against 20 µs); commandstats: 1.60× (8 against 5 µs)"},
		{"Many keys: every ginlimit algorithm takes at most 0.8× ulule/fixed's time per admitted decision", met,
			"sliding 0.60× (12 µs), fixed 0.40× (8 µs), token 0.50× (10 µs); ulule/fixed: 20 µs"},
		{"ginlimit/sliding has at least 1.5× the throughput of every other library", met, "1.67× (12 µs; fastest other, ulule/fixed: 20 µs)"},
		{"64 concurrent requests on one key: every ginlimit algorithm sends at most 0.25 Redis commands per decision", met, "sliding 0.200 cmds/op"},
		{"64 concurrent requests on one key: every ginlimit algorithm takes at most half of ulule/fixed's time per decision", missed,
			"sliding 0.62× (10 µs); ulule/fixed: 16 µs"},
		{"ginlimit/sliding has at least 10× the throughput of every other library", met, "40.0× (500 ns; fastest other, redis_rate/gcra: 20 µs)"},
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

	md := string(renderMarkdown(parseSample(t), nil, nil))
	for _, want := range []string{
		"8 of 14 targets met.",
		"| middleware | ginlimit/sliding adds at most 200 ns/op to a request | +250 ns (1.25 µs against 1 µs for the baseline) | **missed** |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// TestTargetsNeedTheirConcurrency checks that a goal set for 64 concurrent
// requests is neither met nor missed by a run from another number.
func TestTargetsNeedTheirConcurrency(t *testing.T) {
	res, err := parse(strings.NewReader(strings.Replace(sampleOutput, "redis-goroutines: 64", "redis-goroutines: 8", 1)), "sample", func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range evaluate(res) {
		if strings.HasPrefix(o.Goal, "64 concurrent requests") && (o.Status != noData || o.Measured != "run from 8 goroutines, not 64") {
			t.Errorf("%s: got %v, %q; want no data", o.Goal, o.Status, o.Measured)
		}
	}
}

func TestRenderChart(t *testing.T) {
	res := parseSample(t)
	tests := []struct {
		give      string
		wantLog   bool // ulule's 4100 ns/op is more than 30 times ginlimit/fixed's 90
		wantTicks []string
		wantAxis  string
	}{
		{"memory-admit", true, []string{">10 ns<", ">100 ns<", ">1 µs<", ">10 µs<"}, "time per admitted decision, logarithmic scale"},
		{"middleware", false, []string{">0<", ">0.5<", ">1.5<"}, "time per request (µs), linear scale from zero"},
		{"redis-admit", false, []string{">0<", ">5<", ">20<"}, "time per admitted decision (µs), linear scale from zero"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			c := scenarioCharts(res.Scenario(tt.give))[0]
			svg, err := renderChart(c)
			if err != nil {
				t.Fatal(err)
			}
			again, err := renderChart(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(svg, again) {
				t.Error("two renderings of the same chart differ")
			}
			for _, want := range append([]string{
				"<svg", "font-family=\"system-ui,", "sans-serif\"",
				">" + tt.give + ": " + scenarioMeasure(tt.give) + " (shorter bars are better)<",
				">ginlimit/sliding<", tt.wantAxis,
			}, tt.wantTicks...) {
				if !bytes.Contains(svg, []byte(esc(want))) && !bytes.Contains(svg, []byte(want)) {
					t.Errorf("chart lacks %q", want)
				}
			}
			if got := bytes.Contains(svg, []byte("logarithmic")); got != tt.wantLog {
				t.Errorf("logarithmic axis = %t, want %t", got, tt.wantLog)
			}
			checkTextFits(t, svg)
		})
	}
}

func TestRenderRedisCPUChart(t *testing.T) {
	cs := scenarioCharts(parseSample(t).Scenario("redis-admit"))
	if len(cs) != 2 {
		t.Fatalf("got %d charts, want time and Redis CPU", len(cs))
	}
	svg, err := renderChart(cs[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"redis-admit: Redis CPU per decision (shorter bars are better)",
		"Redis CPU (INFO cpu: all the server&#39;s work)", "Redis cmd (INFO commandstats: running the commands)",
		">20 µs<", ">5 µs<", "Redis CPU per decision (µs), linear scale from zero",
	} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("chart lacks %q", want)
		}
	}
	checkTextFits(t, svg)
}

// TestChartFitsLongLabels checks that long labels and values widen the
// chart rather than overflow it.
func TestChartFitsLongLabels(t *testing.T) {
	c := chart{
		File: "long.svg", Title: "a title that is much longer than the chart would be wide by default, with WIDE LETTERS MMMM WWWW",
		Measure: "time", Series: []string{"time"},
		Rows: []chartRow{
			{Label: "a-library-with-a-very-long-name/and-a-long-variant-MMMMWWWW", Values: []float64{6.654e9}},
			{Label: "x", Kind: ginlimitRow, Values: []float64{438}},
		},
	}
	svg, err := renderChart(c)
	if err != nil {
		t.Fatal(err)
	}
	checkTextFits(t, svg)
}

var (
	svgSizeRE = regexp.MustCompile(`<svg [^>]*width="([0-9.]+)" height="([0-9.]+)"`)
	svgTextRE = regexp.MustCompile(`<text x="([0-9.]+)" y="([0-9.]+)" font-size="([0-9.]+)"( font-weight="bold")?( text-anchor="(end|middle)")?[^>]*>([^<]*)</text>`)
)

// checkTextFits fails t if the estimated extent of some text of svg falls
// outside the picture.
func checkTextFits(t *testing.T, svg []byte) {
	t.Helper()
	m := svgSizeRE.FindSubmatch(svg)
	if m == nil {
		t.Fatal("no svg size")
	}
	width, _ := strconv.ParseFloat(string(m[1]), 64)
	height, _ := strconv.ParseFloat(string(m[2]), 64)
	texts := svgTextRE.FindAllSubmatch(svg, -1)
	if len(texts) == 0 {
		t.Fatal("no text found")
	}
	for _, m := range texts {
		x, _ := strconv.ParseFloat(string(m[1]), 64)
		y, _ := strconv.ParseFloat(string(m[2]), 64)
		size, _ := strconv.ParseFloat(string(m[3]), 64)
		text := html.UnescapeString(string(m[7]))
		w := textWidth(text, size, len(m[4]) > 0)
		left := x
		switch string(m[6]) {
		case "end":
			left = x - w
		case "middle":
			left = x - w/2
		}
		if left < 0 || left+w > width || y-size < 0 || y+size/2 > height {
			t.Errorf("text %q (x %v, width about %.0f, y %v) does not fit in %vx%v", text, left, w, y, width, height)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		give float64 // nanoseconds
		want string
	}{
		{0, "0"},
		{0.63, "0.630 ns"},
		{438, "438 ns"},
		{999.4, "999 ns"},
		{999.7, "1.000 µs"},
		{14469, "14.5 µs"},
		{50422588, "50.4 ms"},
		{1694916337, "1.69 s"},
		{6654286946, "6.65 s"},
		{-1250, "-1.25 µs"},
	}
	for _, tt := range tests {
		if got := formatDuration(tt.give); got != tt.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestAxis(t *testing.T) {
	tests := []struct {
		lo, hi    float64
		wantLog   bool
		wantTicks []string
	}{
		{90, 4100, true, []string{"10 ns", "100 ns", "1 µs", "10 µs"}},
		{1000, 1250, false, []string{"0", "0.5", "1", "1.5"}},
		{1, 3.4, false, []string{"0", "1", "2", "3", "4"}},
		{5000, 20000, false, []string{"0", "5", "10", "15", "20"}},
		{438, 6.654e9, true, []string{"100 ns", "1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s"}},
	}
	for _, tt := range tests {
		a := newAxis(tt.lo, tt.hi)
		var ticks []string
		for _, tk := range a.ticks {
			ticks = append(ticks, tk.label)
		}
		if a.log != tt.wantLog || !slices.Equal(ticks, tt.wantTicks) {
			t.Errorf("newAxis(%v, %v): log %t, ticks %q; want %t, %q", tt.lo, tt.hi, a.log, ticks, tt.wantLog, tt.wantTicks)
		}
		if !a.log && (a.ticks[0].value != 0 || a.max < tt.hi) {
			t.Errorf("newAxis(%v, %v): linear axis from %v to %v, want from 0 to at least %v", tt.lo, tt.hi, a.ticks[0].value, a.max, tt.hi)
		}
	}
}

func TestSchedule(t *testing.T) {
	p := plan{
		{Name: "a", Libraries: []string{"x/1", "y", "z"}},
		{Name: "b", Libraries: []string{"x/1", "w"}},
	}
	var got []string
	for _, r := range schedule(p, 3) {
		got = append(got, fmt.Sprintf("%d %s", r.Round, r.Name()))
	}
	want := []string{
		"1 a/x/1", "1 a/y", "1 a/z", "1 b/x/1", "1 b/w",
		"2 a/y", "2 a/z", "2 a/x/1", "2 b/w", "2 b/x/1",
		"3 a/z", "3 a/x/1", "3 a/y", "3 b/x/1", "3 b/w",
	}
	if !slices.Equal(got, want) {
		t.Errorf("schedule:\ngot  %q\nwant %q", got, want)
	}
	// No sub-benchmark runs twice in a row.
	for i := 1; i < len(got); i++ {
		if got[i][2:] == got[i-1][2:] {
			t.Errorf("%s runs twice in a row", got[i][2:])
		}
	}
}

func TestBenchPattern(t *testing.T) {
	tests := []struct {
		scenario, library, want string
	}{
		{"redis-admit", "ginlimit/sliding", "^BenchmarkPeers$/^redis-admit$/^ginlimit$/^sliding$"},
		{"middleware", "baseline", "^BenchmarkPeers$/^middleware$/^baseline$"},
		{"redis-hot", "redis_rate/gcra", "^BenchmarkPeers$/^redis-hot$/^redis_rate$/^gcra$"},
		{"a.b", "c+d", `^BenchmarkPeers$/^a\.b$/^c\+d$`},
	}
	for _, tt := range tests {
		if got := benchPattern(tt.scenario, tt.library); got != tt.want {
			t.Errorf("benchPattern(%q, %q) = %q, want %q", tt.scenario, tt.library, got, tt.want)
		}
	}
}

func TestParsePlan(t *testing.T) {
	p, err := parsePlan("memory-admit/ginlimit/sliding\nmemory-admit/ulule/fixed\n\nmiddleware/baseline\n")
	if err != nil {
		t.Fatal(err)
	}
	want := plan{
		{Name: "memory-admit", Libraries: []string{"ginlimit/sliding", "ulule/fixed"}},
		{Name: "middleware", Libraries: []string{"baseline"}},
	}
	if !slices.EqualFunc(p, want, func(a, b scenarioPlan) bool { return a.Name == b.Name && slices.Equal(a.Libraries, b.Libraries) }) {
		t.Errorf("parsePlan = %v, want %v", p, want)
	}
	for _, give := range []string{"", "memory-admit\n", "/ginlimit\n"} {
		if _, err := parsePlan(give); err == nil {
			t.Errorf("parsePlan(%q): got no error, want one", give)
		}
	}
}

func TestRawWriter(t *testing.T) {
	var b bytes.Buffer
	w := &rawWriter{w: &b, config: make(map[string]string)}
	var results int
	for _, line := range []string{
		"goos: linux", "cpu: Test", "BenchmarkPeers/a/x-2 \t 10 \t 5 ns/op", "PASS",
		"goos: linux", "cpu: Test", "BenchmarkPeers/a/y-2 \t 10 \t 6 ns/op", "    a_test.go:1: logged", "PASS",
		"goos: linux", "cpu: Other", "BenchmarkPeers/a/x-2 \t 10 \t 7 ns/op",
	} {
		isResult, err := w.copy(line)
		if err != nil {
			t.Fatal(err)
		}
		if isResult {
			results++
		}
	}
	want := "goos: linux\ncpu: Test\nBenchmarkPeers/a/x-2 \t 10 \t 5 ns/op\nBenchmarkPeers/a/y-2 \t 10 \t 6 ns/op\n    a_test.go:1: logged\ncpu: Other\nBenchmarkPeers/a/x-2 \t 10 \t 7 ns/op\n"
	if b.String() != want || results != 3 {
		t.Errorf("got %d results and\n%s\nwant 3 and\n%s", results, b.String(), want)
	}
	// benchstat's reader sees the three results.
	res, err := parse(strings.NewReader(b.String()), "raw", func(msg string) { t.Error(msg) })
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Scenario("a").Row("x", "").Ns.N; got != 2 {
		t.Errorf("x has %d runs, want 2", got)
	}
}

// studySample is concurrency study output, made up.
const studySample = `date: 2026-01-03
goos: linux
goarch: amd64
cpu: Test CPU @ 2.00GHz
redis-goroutines: 2
go-redis-pool: rueidis (pipelined)
BenchmarkPeers/redis-admit/ginlimit/sliding-2 	 1000 	 48000 ns/op 	 3.000 cmds/op 	 10.40 cmd-us/op 	 26.00 redis-us/op
go-redis-pool: 20 (go-redis default)
BenchmarkPeers/redis-admit/ulule/fixed-2 	 1000 	 37000 ns/op 	 3.000 cmds/op 	 4.800 cmd-us/op 	 21.60 redis-us/op
go-redis-pool: 2 (one a goroutine)
BenchmarkPeers/redis-admit/ulule/fixed-2 	 1000 	 36000 ns/op 	 3.000 cmds/op 	 5.000 cmd-us/op 	 22.60 redis-us/op
redis-goroutines: 128
go-redis-pool: rueidis (pipelined)
BenchmarkPeers/redis-admit/ginlimit/sliding-2 	 1000 	 13700 ns/op 	 3.000 cmds/op 	 9.400 cmd-us/op 	 11.60 redis-us/op
go-redis-pool: 20 (go-redis default)
BenchmarkPeers/redis-admit/ulule/fixed-2 	 1000 	 32000 ns/op 	 3.000 cmds/op 	 6.400 cmd-us/op 	 18.90 redis-us/op
go-redis-pool: 128 (one a goroutine)
BenchmarkPeers/redis-admit/ulule/fixed-2 	 1000 	 33000 ns/op 	 3.000 cmds/op 	 7.300 cmd-us/op 	 20.60 redis-us/op
`

func TestStudy(t *testing.T) {
	st, err := parseSplit(strings.NewReader(studySample), "study", []string{configGoroutines, configPool}, func(msg string) { t.Error(msg) })
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	writeStudy(&b, st)
	md := b.String()
	for _, want := range []string{
		"## Concurrency: why other measurements disagreed\n",
		"(measured on 2026-01-03)",
		"| 2 | ginlimit/sliding | rueidis (pipelined) | 48 µs ± ∞ | 26 | 10.4 | 3 |\n",
		"| 128 | ulule/fixed | 20 (go-redis default) | 32 µs ± ∞ | 18.9 | 6.40 | 3 |\n",
		// 36 / 48 and 33 / 13.7.
		"(above 1: ginlimit faster): 0.75× from 2 goroutines, 2.41× from 128 goroutines.",
		"ginlimit/sliding's script takes 10.4 µs per decision against ulule's 5 µs from 2 goroutines, 9.40 against 7.30 from 128",
		"ginlimit/sliding's goes from 26 µs from 2 goroutines to 11.6 µs from 128; ulule's from 22.6 to 20.6.",
		"ulule/fixed takes 32 µs per decision with go-redis's default pool (108 goroutines queue for one of 20 connections) and 33 µs with a connection a goroutine, 1.03× the default's time; their 95% confidence intervals overlap.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("study lacks %q", want)
		}
	}
}

func TestStudySchedule(t *testing.T) {
	runs := studySchedule(2, 2)
	if got, want := len(runs), 2*len(studyScale)*len(studyRuns); got != want {
		t.Fatalf("got %d runs, want %d", got, want)
	}
	first := runs[0]
	if first.Goroutines != 2 || first.Library != "ginlimit/fixed" || !slices.Equal(first.Config, []string{"redis-goroutines: 2", "go-redis-pool: rueidis (pipelined)"}) {
		t.Errorf("first run = %+v", first)
	}
	// Round 2 starts one further along.
	second := runs[len(studyScale)*len(studyRuns)]
	if second.Round != 2 || second.Library != "ginlimit/sliding" {
		t.Errorf("first run of round 2 = %+v", second)
	}
	for _, r := range runs {
		if r.Library == "ulule/fixed" && slices.Contains(r.Args, "-1") != strings.Contains(r.Config[1], "(go-redis default)") {
			t.Errorf("run %+v: pool flag and description disagree", r)
		}
	}
	if got := fmt.Sprint(runs[len(studyRuns)*2].Goroutines); got != "128" {
		t.Errorf("third concurrency = %s goroutines, want 128", got)
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
	for _, name := range []string{"memory-admit", "middleware", "redis-admit", "redis-admit-redis-cpu", "redis-hot", "redis-hot-redis-cpu", "redis-deny", "redis-down"} {
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
