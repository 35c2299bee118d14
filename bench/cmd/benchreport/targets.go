package main

import "fmt"

// A status is how a result compares with a target.
type status int

const (
	noData status = iota // the results lack a number the target needs
	met
	missed
)

// String returns the status as the Targets table shows it.
func (s status) String() string {
	switch s {
	case met:
		return "met"
	case missed:
		return "**missed**"
	}
	return "no data"
}

// An outcome is a target evaluated on the results.
type outcome struct {
	Scenario, Goal string
	// Measured says what the numbers were, for the reader to check.
	Measured string
	Status   status
}

// A target is a goal for ginlimit in one scenario.
type target struct {
	Scenario, Goal string
	// Check compares the scenario, whose reference row is ref, with the
	// goal.
	Check func(sc *scenario, ref *row) (measured string, st status)
}

// targets lists the goals the report evaluates, in report order. Each is
// judged on the medians of ginlimit/sliding, the reference row.
var targets = []target{
	{"memory-admit", "ginlimit/sliding is faster than every other library", fasterThanPeers(1)},
	{"memory-admit", "ginlimit/sliding allocates nothing", metricAtMost(unitAllocs, 0, func(v float64) string {
		return formatNum(v) + " allocs/op"
	})},
	{"middleware", "ginlimit/sliding adds at most 200 ns/op to a request", func(sc *scenario, ref *row) (string, status) {
		base := sc.Row(baselineLibrary, "")
		if base == nil {
			return "no baseline row", noData
		}
		over := ref.Ns.Center - base.Ns.Center
		return fmt.Sprintf("%s ns/op (%s against %s for the baseline)", formatSigned(over), formatNum(ref.Ns.Center), formatNum(base.Ns.Center)),
			atMost(over, 200)
	}},
	{"redis-admit", "ginlimit/sliding has at least 1.5× the throughput of every other library", fasterThanPeers(1.5)},
	{"redis-deny", "ginlimit/sliding has at least 10× the throughput of every other library", fasterThanPeers(10)},
	{"redis-deny", "ginlimit/sliding sends at most 0.05 Redis commands per decision", metricAtMost("cmds/op", 0.05, func(v float64) string {
		return formatNum(v) + " cmds/op"
	})},
	{"redis-down", "ginlimit/sliding decides within 100 ms, the default Redis timeout", metricAtMost("max-ms", 100, func(v float64) string {
		return formatNum(v) + " ms at most"
	})},
	{"redis-down", "ginlimit/sliding answers no request with a 5xx", metricAtMost("5xx/op", 0, func(v float64) string {
		return formatShare(v) + " 5xx"
	})},
}

// evaluate returns the outcome of every target on res.
func evaluate(res *results) []outcome {
	out := make([]outcome, len(targets))
	for i, t := range targets {
		o := outcome{Scenario: t.Scenario, Goal: t.Goal}
		switch sc := res.Scenario(t.Scenario); {
		case sc == nil:
			o.Measured = "scenario not run"
		case sc.Reference() == nil:
			o.Measured = "no ginlimit/sliding row"
		default:
			o.Measured, o.Status = t.Check(sc, sc.Reference())
		}
		out[i] = o
	}
	return out
}

// fasterThanPeers returns a check that the reference row does at least
// factor times as many operations per second as the fastest other library.
func fasterThanPeers(factor float64) func(*scenario, *row) (string, status) {
	return func(sc *scenario, ref *row) (string, status) {
		peer := sc.FastestPeer()
		if peer == nil {
			return "no other library", noData
		}
		speedup := peer.Ns.Center / ref.Ns.Center
		return fmt.Sprintf("%s (%s ns/op; fastest other, %s: %s ns/op)",
				formatRatio(speedup), formatNum(ref.Ns.Center), peer.Label(), formatNum(peer.Ns.Center)),
			atLeast(speedup, factor)
	}
}

// metricAtMost returns a check that the reference row's median of unit is
// at most limit; describe formats the median for the Measured column.
func metricAtMost(unit string, limit float64, describe func(float64) string) func(*scenario, *row) (string, status) {
	return func(_ *scenario, ref *row) (string, status) {
		v, ok := ref.Metric(unit)
		if !ok {
			return "no " + unit + " reported", noData
		}
		return describe(v), atMost(v, limit)
	}
}

func atMost(v, limit float64) status {
	if v <= limit {
		return met
	}
	return missed
}

func atLeast(v, limit float64) status {
	if v >= limit {
		return met
	}
	return missed
}
