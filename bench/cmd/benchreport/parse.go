package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// benchmarkName is the benchmark whose sub-benchmarks the report reads, as
// benchfmt names it: without the "Benchmark" prefix.
const benchmarkName = "Peers"

// Libraries with a part in the report: ratios and targets are relative to
// ginlimit/sliding, and the middleware scenario's overhead to the baseline.
const (
	referenceLibrary = "ginlimit"
	referenceVariant = "sliding"
	baselineLibrary  = "baseline"
)

// Units that go test reports for every benchmark run with -benchmem.
const (
	unitNs     = "ns/op"
	unitBytes  = "B/op"
	unitAllocs = "allocs/op"
)

// results holds the sub-benchmarks of one run of BenchmarkPeers.
type results struct {
	// Config holds the file configuration, such as goos, goarch and cpu, as
	// go test and benchreport wrote it at the top of the output.
	Config map[string]string
	// Procs lists the distinct GOMAXPROCS values of the sub-benchmarks,
	// taken from their -N suffixes, in increasing order.
	Procs []int
	// Scenarios holds the scenarios in the order they first appear.
	Scenarios []*scenario
}

// A scenario is one sub-benchmark of BenchmarkPeers, such as memory-admit,
// with one row for each library and variant measured in it.
type scenario struct {
	Name string
	// Rows are ordered by median ns/op, fastest first.
	Rows []*row
}

// A row summarizes the runs of one library, in one variant, in one scenario.
type row struct {
	Library string
	// Variant is the algorithm, such as sliding, or "" if the sub-benchmark
	// has no variant.
	Variant string
	// Setting holds the values of the configuration keys the rows were split
	// by (see parseSplit); nil if none.
	Setting map[string]string
	// Ns is the ns/op of the runs.
	Ns summary
	// Medians holds the median of every unit, ns/op included, keyed by the
	// unit as go test printed it.
	Medians map[string]float64
}

// Label returns the row's library and variant, as in "ginlimit/sliding".
func (r *row) Label() string {
	if r.Variant == "" {
		return r.Library
	}
	return r.Library + "/" + r.Variant
}

// Metric returns the median of unit and whether the row reported it.
func (r *row) Metric(unit string) (float64, bool) {
	v, ok := r.Medians[unit]
	return v, ok
}

// Scenario returns the scenario with the given name, or nil.
func (res *results) Scenario(name string) *scenario {
	for _, sc := range res.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// Runs returns the fewest and the most runs of any row.
func (res *results) Runs() (lo, hi int) {
	for _, sc := range res.Scenarios {
		for _, r := range sc.Rows {
			if lo == 0 || r.Ns.N < lo {
				lo = r.Ns.N
			}
			hi = max(hi, r.Ns.N)
		}
	}
	return lo, hi
}

// Row returns the row of library and variant, or nil.
func (sc *scenario) Row(library, variant string) *row {
	for _, r := range sc.Rows {
		if r.Library == library && r.Variant == variant {
			return r
		}
	}
	return nil
}

// Reference returns the row the scenario's ratios are relative to:
// ginlimit/sliding, or ginlimit without a variant; nil if there is neither.
func (sc *scenario) Reference() *row {
	if r := sc.Row(referenceLibrary, referenceVariant); r != nil {
		return r
	}
	return sc.Row(referenceLibrary, "")
}

// FastestPeer returns the fastest row of a library other than ginlimit and
// the baseline, or nil.
func (sc *scenario) FastestPeer() *row {
	for _, r := range sc.Rows { // fastest first
		if r.Library != referenceLibrary && r.Library != baselineLibrary {
			return r
		}
	}
	return nil
}

// parse reads go test output and collects the results of BenchmarkPeers
// sub-benchmarks, named Peers/scenario/library[/variant][-procs]. It ignores
// other benchmarks; name is the input's name for error messages. Lines that
// look like results but do not parse are reported to warn and skipped.
func parse(r io.Reader, name string, warn func(string)) (*results, error) {
	return parseSplit(r, name, nil, warn)
}

// parseSplit is parse, with the results of one sub-benchmark split into
// rows by the values of the configuration keys split, as the concurrency
// study sets them before its runs.
func parseSplit(r io.Reader, name string, split []string, warn func(string)) (*results, error) {
	type key struct{ scenario, library, variant, setting string }
	samples := make(map[key]map[string][]float64)
	settings := make(map[key]map[string]string)
	var order []key
	res := &results{Config: make(map[string]string)}

	rd := benchfmt.NewReader(r, name)
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			warn(rec.Error())
		case *benchfmt.Result:
			base, parts := rec.Name.Parts()
			if string(base) != benchmarkName {
				continue
			}
			procs := 1
			if n := len(parts); n > 0 && strings.HasPrefix(string(parts[n-1]), "-") {
				p, err := strconv.Atoi(string(parts[n-1][1:]))
				if err != nil {
					warn(fmt.Sprintf("%s: bad GOMAXPROCS suffix in %s", name, rec.Name))
					continue
				}
				procs, parts = p, parts[:n-1]
			}
			if len(parts) < 2 {
				warn(fmt.Sprintf("%s: %s is not named scenario/library[/variant]", name, rec.Name))
				continue
			}
			var elems []string
			for _, p := range parts {
				elems = append(elems, strings.TrimPrefix(string(p), "/"))
			}
			k := key{scenario: elems[0], library: elems[1], variant: strings.Join(elems[2:], "/")}
			var setting map[string]string
			if len(split) > 0 {
				setting = make(map[string]string)
				var parts []string
				for _, s := range split {
					setting[s] = rec.GetConfig(s)
					parts = append(parts, s+"="+setting[s])
				}
				k.setting = strings.Join(parts, " ")
			}
			if samples[k] == nil {
				samples[k] = make(map[string][]float64)
				settings[k] = setting
				order = append(order, k)
			}
			for _, v := range rec.Values {
				unit, value := v.OrigUnit, v.OrigValue
				if unit == "" {
					unit, value = v.Unit, v.Value
				}
				samples[k][unit] = append(samples[k][unit], value)
			}
			if !slices.Contains(res.Procs, procs) {
				res.Procs = append(res.Procs, procs)
			}
			for _, c := range rec.Config {
				if c.File {
					res.Config[c.Key] = string(c.Value)
				}
			}
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s: no results of Benchmark%s", name, benchmarkName)
	}
	slices.Sort(res.Procs)

	for _, k := range order {
		ns, ok := samples[k][unitNs]
		if !ok {
			return nil, fmt.Errorf("%s: Benchmark%s/%s/%s has no %s", name, benchmarkName, k.scenario, k.library, unitNs)
		}
		r := &row{Library: k.library, Variant: k.variant, Setting: settings[k], Ns: summarize(ns), Medians: make(map[string]float64)}
		for unit, values := range samples[k] {
			r.Medians[unit] = summarize(values).Center
		}
		sc := res.Scenario(k.scenario)
		if sc == nil {
			sc = &scenario{Name: k.scenario}
			res.Scenarios = append(res.Scenarios, sc)
		}
		sc.Rows = append(sc.Rows, r)
	}
	for _, sc := range res.Scenarios {
		slices.SortStableFunc(sc.Rows, func(a, b *row) int {
			return cmp.Or(cmp.Compare(a.Ns.Center, b.Ns.Center), strings.Compare(a.Label(), b.Label()))
		})
	}
	return res, nil
}

// A summary is the median of a sample and its confidence interval.
type summary struct {
	benchmath.Summary
	// N is the number of values.
	N int
}

// confidence is the level of the intervals, the one benchstat uses.
const confidence = 0.95

// summarize returns the median of values and its distribution-free
// confidence interval, as benchstat computes them. It sorts values in
// place.
func summarize(values []float64) summary {
	sample := benchmath.NewSample(values, &benchmath.DefaultThresholds)
	return summary{benchmath.AssumeNothing.Summary(sample, confidence), len(values)}
}
