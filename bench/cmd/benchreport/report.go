package main

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ginlimit/ginlimit/bench"
)

// Keys that benchreport writes at the top of the raw output, next to the
// goos, goarch, pkg and cpu lines of go test, so that a report regenerated
// with -from describes the run it reads. The concurrency study also sets
// configGoroutines and configPool before each of its runs.
const (
	configDate       = "date"
	configGo         = "go"
	configRedis      = "redis"
	configCommand    = "command"
	configGoTest     = "go-test"
	configGoroutines = "redis-goroutines"
	configPool       = "go-redis-pool"
)

// Units of the Redis scenarios.
const (
	unitCmds     = "cmds/op"
	unitRedisCPU = "redis-us/op" // INFO cpu
	unitCmdTime  = "cmd-us/op"   // INFO commandstats
)

// The peer that the Redis targets and headlines compare ginlimit with.
const (
	rivalLibrary = "ulule"
	rivalVariant = "fixed"
)

// ginlimitVariants are ginlimit's algorithms, in the order headlines list
// them.
var ginlimitVariants = []string{"sliding", "fixed", "token"}

// A scenarioInfo says what a scenario measures.
type scenarioInfo struct {
	Name string
	// Measure is what its time per operation is the time of, for the
	// chart's title and axis.
	Measure string
	// About describes the scenario; goroutines says how many goroutines
	// the Redis scenarios decide from.
	About func(goroutines string) string
}

// scenarios lists the scenarios the report knows, in report order. A
// scenario found in the results but not listed here comes after these,
// without a description.
var scenarios = []scenarioInfo{
	{"memory-admit", "time per admitted decision", func(string) string {
		return "Admissions through each library's own decision call on its in-memory store, without HTTP, from GOMAXPROCS goroutines over 16,384 distinct keys that never reach their limit."
	}},
	{"memory-hot", "time per admitted decision", func(string) string {
		return "Admissions of one single key through each library's own decision call on its in-memory store, from GOMAXPROCS goroutines at once: one busy client, or a limit that all clients share. The quota is never used up. errors counts the decisions a library failed to make, such as throttled giving up after 10 lost compare-and-swaps."
	}},
	{"middleware", "time per request", func(string) string {
		return "Whole requests through gin.Engine's ServeHTTP with each library's middleware on its in-memory store, from 16,384 distinct clients; baseline is the same engine without a limiter, and \"over baseline\" is what the limiter adds."
	}},
	{"redis-admit", "time per admitted decision", func(g string) string {
		return "Admissions against a local Redis through each library's decision call, from " + g + " at once (the same for every library) over 16,384 distinct keys that Redis already holds (each is admitted once before the timer starts). " + redisColumns
	}},
	{"redis-hot", "time per admitted decision", func(g string) string {
		return "Admissions of one single key against the same Redis, from " + g + " at once: one client sending many requests in parallel, or a limit that all clients share, such as one per route. The quota is never used up. " + redisColumns
	}},
	{"redis-deny", "time per denied decision", func(g string) string {
		return "Denials of one key over its limit, against the same Redis from " + g + " at once; a limiter that remembers denials runs fewer commands. " + redisColumns
	}},
	{"redis-down", "time per request", func(string) string {
		return "Requests through each library's Gin middleware after its Redis server was killed, from GOMAXPROCS goroutines: max ms is the slowest request of a run, and 2xx, 429 and 5xx are the shares of requests admitted, denied and failed."
	}},
}

// redisColumns explains the columns of the Redis scenarios.
const redisColumns = "cmds/op counts the commands Redis ran per decision, those inside Lua scripts included. " +
	"**Redis CPU µs** is the server's processor time per decision (INFO cpu: everything redis-server does, reading and answering sockets included), which bounds the decisions one Redis can make for all its instances; " +
	"**Redis cmd µs** is the part of it spent running the library's commands (INFO commandstats: a script counted whole, its inner commands not again), which does not depend on how the client batches them. " +
	"Time per operation is the run's wall time divided by its decisions: with many goroutines at once it is the inverse of throughput, not the latency of one decision. " +
	"Redis and the benchmark share the machine's CPUs."

// scenarioAbout returns the scenario's description, or "".
func scenarioAbout(name string, cfg map[string]string) string {
	for _, s := range scenarios {
		if s.Name == name {
			return s.About(goroutinesText(cfg))
		}
	}
	return ""
}

// scenarioMeasure returns what the scenario's time per operation is the
// time of.
func scenarioMeasure(name string) string {
	for _, s := range scenarios {
		if s.Name == name {
			return s.Measure
		}
	}
	return "time per operation"
}

// goroutinesText says how many goroutines the Redis scenarios decided from.
func goroutinesText(cfg map[string]string) string {
	if g := cfg[configGoroutines]; g != "" {
		return g + " goroutines"
	}
	return "many goroutines (how many, the raw output does not say)"
}

// A column is an optional table column for a custom unit.
type column struct {
	Unit, Header string
	Format       func(float64) string
}

// metricColumns lists the custom units the report knows, in column order.
// A unit not listed here gets a column of its own after these.
var metricColumns = []column{
	{unitCmds, "cmds/op", formatNum},
	{unitRedisCPU, "Redis CPU µs", formatNum},
	{unitCmdTime, "Redis cmd µs", formatNum},
	{"errs/op", "errors", formatShare},
	{"max-ms", "max ms", formatNum},
	{"2xx/op", "2xx", formatShare},
	{"429/op", "429", formatShare},
	{"5xx/op", "5xx", formatShare},
}

// renderMarkdown returns the Markdown of docs/BENCHMARKS.md for res and,
// if not nil, the concurrency study st. It links the charts and the raw
// output under benchmarks/, relative to the page.
func renderMarkdown(res, st *results, libs []bench.Library) []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cfg := res.Config

	p("# Benchmarks: ginlimit and other rate limiters\n\n")
	p("Measured on %s. This page and its charts are generated by `bench/cmd/benchreport` from [benchmarks/raw.txt](benchmarks/raw.txt); do not edit them by hand.\n\n", orUnknown(cfg[configDate]))

	p("## Machine\n\n")
	p("- OS and architecture: %s/%s\n", orUnknown(cfg["goos"]), orUnknown(cfg["goarch"]))
	p("- CPU: %s\n", orUnknown(strings.TrimSpace(cfg["cpu"])))
	p("- CPUs used (GOMAXPROCS): %s\n", joinInts(res.Procs))
	p("- Go: %s\n", orUnknown(cfg[configGo]))
	p("- Redis: %s, on the same machine, over loopback\n\n", orUnknown(cfg[configRedis]))

	p("## Reproduce\n\n")
	p("```sh\n%s\n```\n\n", orUnknown(cfg[configCommand]))
	if t := cfg[configGoTest]; t != "" {
		p("It builds the test binary and runs it once for each sub-benchmark in each round: `%s` in `bench/`. ", t)
	} else {
		p("It runs BenchmarkPeers in `bench/`. ")
	}
	p("Each round runs every library of every scenario once, one process per run, and each round starts every scenario one library further down its list: ")
	p("no library runs its repetitions back to back, and a change in the machine's speed during the run falls on every library alike. ")
	p("The output is kept in [benchmarks/raw.txt](benchmarks/raw.txt) for `benchstat`. ")
	p("With `-study` it also runs the concurrency study below; with `-from FILE` it skips the runs and regenerates the page and charts from saved output.\n\n")

	p("## How the libraries are run\n\n")
	p("- **The same load for all.** In a scenario every library answers the same requests, with the closest configuration it has; the algorithm it runs is part of its name. ")
	p("In the Redis scenarios every library decides from %s at once, whatever the number of CPUs: a busy server's requests in flight.\n", goroutinesText(cfg))
	p("- **Each client as its documentation recommends.** ginlimit runs on rueidis, configured as ginlimit configures it: automatic pipelining, the rueidis default for concurrent callers, which sends the commands of concurrent decisions to Redis together. ")
	p("Every peer runs on go-redis v9 with its defaults but one: `PoolSize` is raised to the number of goroutines, one connection each, the setting go-redis's documentation points to for more connections than its default of 10 a CPU. ")
	p("With the default, all but 10 a CPU of the goroutines would queue for a connection inside go-redis; the concurrency study below runs ulule both ways.\n")
	p("- **Redis CPU, two ways.** *Redis CPU µs* is what the server process spent per decision (INFO cpu), socket work included, so it rewards a client that batches; ")
	p("*Redis cmd µs* is the time Redis spent running the commands themselves (INFO commandstats), the same however they arrive. ")
	p("A Redis CPU target is met only if it holds both ways.\n\n")

	lo, hi := res.Runs()
	runs := fmt.Sprint(hi)
	if lo != hi {
		runs = fmt.Sprintf("%d to %d", lo, hi)
	}
	p("## How to read\n\n")
	if hi == 1 {
		p("- Every number is from a single run.\n")
	} else {
		p("- Every number is the median of %s runs, one a round.\n", runs)
	}
	p("- ± is the spread benchstat shows: how far the 95%% confidence interval of the median reaches from it, in percent of the median (∞ with fewer than 6 runs).\n")
	p("- **time/op** is the run's wall time divided by its operations; **vs ginlimit** is the row's time/op divided by ginlimit/sliding's in the same scenario: 2.00× takes twice as long as ginlimit, 0.50× half as long.\n")
	p("- Rows are sorted by time/op, fastest first. Lower is better in every column except 2xx and 429, which say how requests were answered.\n")
	p("- The charts draw bars from zero on a linear axis, except where the values spread over more than %d×: the axis title then says the scale is logarithmic.\n\n", logSpread)

	for _, sc := range orderScenarios(res) {
		writeScenario(&b, sc, cfg)
	}

	if st != nil {
		writeStudy(&b, st)
	}

	p("## Targets\n\n")
	p("Evaluated by benchreport from the medians above. A target reads **missed** whenever the measured numbers miss it.\n\n")
	outcomes := evaluate(res)
	nmet := 0
	for _, o := range outcomes {
		if o.Status == met {
			nmet++
		}
	}
	p("%d of %d targets met.\n\n", nmet, len(outcomes))
	p("| Scenario | Target | Measured | Result |\n| --- | --- | --- | --- |\n")
	for _, o := range outcomes {
		p("| %s | %s | %s | %s |\n", o.Scenario, o.Goal, o.Measured, o.Status)
	}
	p("\n")

	p("## Libraries\n\n")
	p("What each library does; the peers' notes are read from their source at the version measured.\n\n")
	p("- **ginlimit**, this repository: %s\n", bench.GinlimitNotes)
	for _, l := range libs {
		p("- **%s**, [%s](https://pkg.go.dev/%s@%s) %s: %s\n", l.Name, l.Module, l.Module, l.Version, l.Version, l.Notes)
	}
	return b.Bytes()
}

// writeScenario writes the section of one scenario: what it measures, its
// headline against ulule if it is a Redis scenario, its charts and its
// table.
func writeScenario(b *bytes.Buffer, sc *scenario, cfg map[string]string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("## %s\n\n", sc.Name)
	if about := scenarioAbout(sc.Name, cfg); about != "" {
		p("%s\n\n", about)
	}
	if hasUnit(sc, unitRedisCPU) {
		writeHeadline(b, sc)
	}
	for _, c := range scenarioCharts(sc) {
		p("![%s](benchmarks/%s)\n\n", c.Title, c.File)
	}

	ref := sc.Reference()
	baseline := sc.Row(baselineLibrary, "")
	cols := scenarioColumns(sc)

	header := []string{"Library", "Variant", "time/op"}
	align := []string{"---", "---", "---:"}
	if baseline != nil {
		header, align = append(header, "over baseline"), append(align, "---:")
	}
	header, align = append(header, "vs ginlimit", "allocs/op", "B/op"), append(align, "---:", "---:", "---:")
	for _, c := range cols {
		header, align = append(header, c.Header), append(align, "---:")
	}
	p("| %s |\n| %s |\n", strings.Join(header, " | "), strings.Join(align, " | "))

	for _, r := range sc.Rows {
		name := r.Library
		if name == referenceLibrary {
			name = "**" + name + "**"
		}
		cells := []string{name, r.Variant, formatDuration(r.Ns.Center) + " ± " + r.Ns.PctRangeString()}
		if baseline != nil {
			cells = append(cells, formatSignedDuration(r.Ns.Center-baseline.Ns.Center))
		}
		ratio := "—"
		if ref != nil {
			ratio = formatRatio(r.Ns.Center / ref.Ns.Center)
		}
		cells = append(cells, ratio, metricCell(r, unitAllocs, formatNum), metricCell(r, unitBytes, formatNum))
		for _, c := range cols {
			cells = append(cells, metricCell(r, c.Unit, c.Format))
		}
		p("| %s |\n", strings.Join(cells, " | "))
	}
	p("\n")
}

// writeHeadline writes what a Redis scenario says of ginlimit against
// ulule: time per decision, Redis CPU both ways and commands, each with its
// ratio to ulule's.
func writeHeadline(b *bytes.Buffer, sc *scenario) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	rival := sc.Row(rivalLibrary, rivalVariant)
	if rival == nil {
		return
	}
	p("**Redis CPU per decision, ginlimit against %s/%s** (lower is better; the ratio is to %s's): ", rivalLibrary, rivalVariant, rivalLibrary)
	p("*Redis CPU µs* is the server's processor time (INFO cpu), *Redis cmd µs* the time it spent running the commands (INFO commandstats).\n\n")
	p("| Library | time/op | Redis CPU µs (INFO cpu) | Redis cmd µs (commandstats) | cmds/op |\n| --- | ---: | ---: | ---: | ---: |\n")
	cell := func(r *row, unit string, format func(float64) string) string {
		v, ok := r.Metric(unit)
		if !ok {
			return "—"
		}
		s := format(v)
		if r != rival {
			if w, ok := rival.Metric(unit); ok && w > 0 {
				s += " (" + formatRatio(v/w) + ")"
			}
		}
		return s
	}
	for _, variant := range ginlimitVariants {
		if r := sc.Row(referenceLibrary, variant); r != nil {
			p("| **%s** | %s | %s | %s | %s |\n", r.Label(), cell(r, unitNs, formatDuration), cell(r, unitRedisCPU, formatNum), cell(r, unitCmdTime, formatNum), cell(r, unitCmds, formatNum))
		}
	}
	p("| %s | %s | %s | %s | %s |\n\n", rival.Label(), cell(rival, unitNs, formatDuration), cell(rival, unitRedisCPU, formatNum), cell(rival, unitCmdTime, formatNum), cell(rival, unitCmds, formatNum))
}

// hasUnit reports whether some row of sc reports unit.
func hasUnit(sc *scenario, unit string) bool {
	for _, r := range sc.Rows {
		if _, ok := r.Metric(unit); ok {
			return true
		}
	}
	return false
}

// charts returns the charts of every scenario of res.
func charts(res *results) []chart {
	var cs []chart
	for _, sc := range res.Scenarios {
		cs = append(cs, scenarioCharts(sc)...)
	}
	return cs
}

// scenarioCharts returns the charts of sc: time per operation, and for a
// Redis scenario Redis CPU per decision, both ways.
func scenarioCharts(sc *scenario) []chart {
	measure := scenarioMeasure(sc.Name)
	timeChart := chart{
		File:    chartFile(sc.Name),
		Title:   sc.Name + ": " + measure + " (shorter bars are better)",
		Measure: measure,
		Series:  []string{measure},
	}
	for _, r := range sc.Rows {
		timeChart.Rows = append(timeChart.Rows, chartRow{Label: r.Label(), Kind: kindOf(r), Values: []float64{r.Ns.Center}})
	}
	cs := []chart{timeChart}
	if !hasUnit(sc, unitRedisCPU) {
		return cs
	}
	cpu := chart{
		File:    chartFile(sc.Name + "-redis-cpu"),
		Title:   sc.Name + ": Redis CPU per decision (shorter bars are better)",
		Measure: "Redis CPU per decision",
		Series:  []string{"Redis CPU (INFO cpu: all the server's work)", "Redis cmd (INFO commandstats: running the commands)"},
	}
	for _, r := range sc.Rows {
		values := make([]float64, 2)
		for i, unit := range []string{unitRedisCPU, unitCmdTime} {
			values[i] = math.NaN()
			if v, ok := r.Metric(unit); ok {
				values[i] = v * 1e3 // µs to ns
			}
		}
		cpu.Rows = append(cpu.Rows, chartRow{Label: r.Label(), Kind: kindOf(r), Values: values})
	}
	return append(cs, cpu)
}

func kindOf(r *row) rowKind {
	switch r.Library {
	case referenceLibrary:
		return ginlimitRow
	case baselineLibrary:
		return baselineRow
	}
	return peerRow
}

// orderScenarios returns the scenarios of res in report order.
func orderScenarios(res *results) []*scenario {
	var out []*scenario
	for _, s := range scenarios {
		if sc := res.Scenario(s.Name); sc != nil {
			out = append(out, sc)
		}
	}
	for _, sc := range res.Scenarios {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// scenarioColumns returns the columns of the custom units that some row of
// sc reports.
func scenarioColumns(sc *scenario) []column {
	units := make(map[string]bool)
	for _, r := range sc.Rows {
		for u := range r.Medians {
			if u != unitNs && u != unitBytes && u != unitAllocs {
				units[u] = true
			}
		}
	}
	var cols []column
	for _, c := range metricColumns {
		if units[c.Unit] {
			cols = append(cols, c)
			delete(units, c.Unit)
		}
	}
	for _, u := range slices.Sorted(maps.Keys(units)) {
		cols = append(cols, column{u, u, formatNum})
	}
	return cols
}

// metricCell formats the median of unit in r, or a dash if r lacks it.
func metricCell(r *row, unit string, format func(float64) string) string {
	v, ok := r.Metric(unit)
	if !ok {
		return "—"
	}
	return format(v)
}

// formatNum formats v with three significant digits, without an exponent,
// and all the digits of a number of 1000 or more, grouped: 0.0123, 4.56,
// 78.9, 1,234. Whole numbers have no decimals: 1, 48.
func formatNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case v == math.Trunc(v):
		return groupDigits(v)
	}
	decimals := max(0, 2-int(math.Floor(math.Log10(math.Abs(v)))))
	if decimals == 0 {
		return groupDigits(v)
	}
	return fmt.Sprintf("%.*f", decimals, v)
}

// groupDigits formats v, rounded to a whole number, with commas between
// groups of three digits: 1,234,567.
func groupDigits(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return sign + s
}

// formatRatio formats a ratio of two ns/op: 0.48×, 2.00×, 12.3×, 1,480×.
func formatRatio(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "—"
	case v < 10:
		return fmt.Sprintf("%.2f×", v)
	case v < 100:
		return fmt.Sprintf("%.1f×", v)
	}
	return groupDigits(v) + "×"
}

// formatShare formats a fraction of requests as a percentage.
func formatShare(v float64) string {
	if v != 0 && math.Abs(v) < 0.01 {
		return fmt.Sprintf("%.2f%%", 100*v)
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

func joinInts(ns []int) string {
	if len(ns) == 0 {
		return "unknown"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// chartFile returns the file name of the chart of a scenario.
func chartFile(scenario string) string {
	return unsafeFileChars.ReplaceAllString(scenario, "_") + ".svg"
}
