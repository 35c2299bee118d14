package main

import (
	"fmt"
	"strings"
)

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
	// Goroutines, if not 0, is the number of goroutines the goal is set
	// for: a run from another number cannot meet or miss it.
	Goroutines int
	// Check compares the scenario with the goal.
	Check func(sc *scenario) (measured string, st status)
}

// targets lists the goals the report evaluates, in report order.
var targets = []target{
	{Scenario: "memory-admit", Goal: "ginlimit/sliding is faster than every other library", Check: fasterThanPeers(1)},
	{Scenario: "memory-admit", Goal: "ginlimit/sliding allocates nothing", Check: metricAtMost(unitAllocs, 0, func(v float64) string {
		return formatNum(v) + " allocs/op"
	})},
	{Scenario: "middleware", Goal: "ginlimit/sliding adds at most 200 ns/op to a request", Check: func(sc *scenario) (string, status) {
		ref, base := sc.Reference(), sc.Row(baselineLibrary, "")
		if ref == nil || base == nil {
			return "no ginlimit/sliding or baseline row", noData
		}
		over := ref.Ns.Center - base.Ns.Center
		return fmt.Sprintf("%s (%s against %s for the baseline)", formatSignedDuration(over), formatDuration(ref.Ns.Center), formatDuration(base.Ns.Center)),
			atMost(over, 200)
	}},
	{Scenario: "redis-admit", Goal: "Redis CPU per admitted decision, fixed window: ginlimit/fixed at most ulule/fixed's (1×), by INFO cpu and by commandstats", Check: redisCPUvsRival("fixed", 1)},
	{Scenario: "redis-admit", Goal: "Redis CPU per admitted decision, sliding window: ginlimit/sliding at most 1.3× ulule/fixed's, by INFO cpu and by commandstats", Check: redisCPUvsRival("sliding", 1.3)},
	{Scenario: "redis-admit", Goal: "Redis CPU per admitted decision, token bucket: ginlimit/token at most 1.3× ulule/fixed's, by INFO cpu and by commandstats", Check: redisCPUvsRival("token", 1.3)},
	{Scenario: "redis-admit", Goal: "Many keys: every ginlimit algorithm takes at most 0.8× ulule/fixed's time per admitted decision", Check: timeVsRival(0.8)},
	{Scenario: "redis-admit", Goal: "ginlimit/sliding has at least 1.5× the throughput of every other library", Check: fasterThanPeers(1.5)},
	{Scenario: "redis-hot", Goal: "64 concurrent requests on one key: every ginlimit algorithm sends at most 0.25 Redis commands per decision", Goroutines: 64, Check: ginlimitAtMost(unitCmds, 0.25)},
	{Scenario: "redis-hot", Goal: "64 concurrent requests on one key: every ginlimit algorithm takes at most half of ulule/fixed's time per decision", Goroutines: 64, Check: timeVsRival(0.5)},
	{Scenario: "redis-deny", Goal: "ginlimit/sliding has at least 10× the throughput of every other library", Check: fasterThanPeers(10)},
	{Scenario: "redis-deny", Goal: "ginlimit/sliding sends at most 0.05 Redis commands per decision", Check: metricAtMost(unitCmds, 0.05, func(v float64) string {
		return formatNum(v) + " cmds/op"
	})},
	{Scenario: "redis-down", Goal: "ginlimit/sliding decides within 100 ms, the default Redis timeout", Check: metricAtMost("max-ms", 100, func(v float64) string {
		return formatNum(v) + " ms at most"
	})},
	{Scenario: "redis-down", Goal: "ginlimit/sliding answers no request with a 5xx", Check: metricAtMost("5xx/op", 0, func(v float64) string {
		return formatShare(v) + " 5xx"
	})},
}

// evaluate returns the outcome of every target on res.
func evaluate(res *results) []outcome {
	out := make([]outcome, len(targets))
	for i, t := range targets {
		o := outcome{Scenario: t.Scenario, Goal: t.Goal}
		g := res.Config[configGoroutines]
		switch sc := res.Scenario(t.Scenario); {
		case sc == nil:
			o.Measured = "scenario not run"
		case t.Goroutines != 0 && g != fmt.Sprint(t.Goroutines):
			o.Measured = fmt.Sprintf("run from %s goroutines, not %d", orUnknown(g), t.Goroutines)
		default:
			o.Measured, o.Status = t.Check(sc)
		}
		out[i] = o
	}
	return out
}

// worst combines the outcomes of several comparisons: met only if each one
// is, no data if any lacks it.
func worst(sts ...status) status {
	out := met
	for _, st := range sts {
		switch {
		case st == noData:
			return noData
		case st == missed:
			out = missed
		}
	}
	return out
}

// ginlimitRows returns ginlimit's rows in sc, one per algorithm, in the
// order of ginlimitVariants.
func ginlimitRows(sc *scenario) []*row {
	var rows []*row
	for _, v := range ginlimitVariants {
		if r := sc.Row(referenceLibrary, v); r != nil {
			rows = append(rows, r)
		}
	}
	return rows
}

// redisCPUvsRival returns a check that ginlimit's variant spends at most
// factor times ulule/fixed's Redis CPU per decision, both by INFO cpu and
// by commandstats.
func redisCPUvsRival(variant string, factor float64) func(*scenario) (string, status) {
	return func(sc *scenario) (string, status) {
		gl, rival := sc.Row(referenceLibrary, variant), sc.Row(rivalLibrary, rivalVariant)
		if gl == nil || rival == nil {
			return fmt.Sprintf("no ginlimit/%s or %s/%s row", variant, rivalLibrary, rivalVariant), noData
		}
		var parts []string
		var sts []status
		for _, m := range []struct{ unit, name string }{{unitRedisCPU, "INFO cpu"}, {unitCmdTime, "commandstats"}} {
			v, ok1 := gl.Metric(m.unit)
			w, ok2 := rival.Metric(m.unit)
			if !ok1 || !ok2 || w <= 0 {
				parts = append(parts, m.name+": no data")
				sts = append(sts, noData)
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s (%s against %s µs)", m.name, formatRatio(v/w), formatNum(v), formatNum(w)))
			sts = append(sts, atMost(v/w, factor))
		}
		return strings.Join(parts, "; "), worst(sts...)
	}
}

// timeVsRival returns a check that every ginlimit algorithm takes at most
// factor times ulule/fixed's time per operation.
func timeVsRival(factor float64) func(*scenario) (string, status) {
	return func(sc *scenario) (string, status) {
		rival := sc.Row(rivalLibrary, rivalVariant)
		rows := ginlimitRows(sc)
		if rival == nil || len(rows) == 0 {
			return fmt.Sprintf("no ginlimit or %s/%s row", rivalLibrary, rivalVariant), noData
		}
		var parts []string
		var sts []status
		for _, r := range rows {
			ratio := r.Ns.Center / rival.Ns.Center
			parts = append(parts, fmt.Sprintf("%s %s (%s)", r.Variant, formatRatio(ratio), formatDuration(r.Ns.Center)))
			sts = append(sts, atMost(ratio, factor))
		}
		return strings.Join(parts, ", ") + fmt.Sprintf("; %s/%s: %s", rivalLibrary, rivalVariant, formatDuration(rival.Ns.Center)), worst(sts...)
	}
}

// ginlimitAtMost returns a check that every ginlimit algorithm's median of
// unit is at most limit.
func ginlimitAtMost(unit string, limit float64) func(*scenario) (string, status) {
	return func(sc *scenario) (string, status) {
		rows := ginlimitRows(sc)
		if len(rows) == 0 {
			return "no ginlimit row", noData
		}
		var parts []string
		var sts []status
		for _, r := range rows {
			v, ok := r.Metric(unit)
			if !ok {
				parts = append(parts, r.Variant+": no "+unit)
				sts = append(sts, noData)
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s %s", r.Variant, formatNum(v), unit))
			sts = append(sts, atMost(v, limit))
		}
		return strings.Join(parts, ", "), worst(sts...)
	}
}

// fasterThanPeers returns a check that the reference row does at least
// factor times as many operations per second as the fastest other library.
func fasterThanPeers(factor float64) func(*scenario) (string, status) {
	return func(sc *scenario) (string, status) {
		ref := sc.Reference()
		if ref == nil {
			return "no ginlimit/sliding row", noData
		}
		peer := sc.FastestPeer()
		if peer == nil {
			return "no other library", noData
		}
		speedup := peer.Ns.Center / ref.Ns.Center
		return fmt.Sprintf("%s (%s; fastest other, %s: %s)",
				formatRatio(speedup), formatDuration(ref.Ns.Center), peer.Label(), formatDuration(peer.Ns.Center)),
			atLeast(speedup, factor)
	}
}

// metricAtMost returns a check that the reference row's median of unit is
// at most limit; describe formats the median for the Measured column.
func metricAtMost(unit string, limit float64, describe func(float64) string) func(*scenario) (string, status) {
	return func(sc *scenario) (string, status) {
		ref := sc.Reference()
		if ref == nil {
			return "no ginlimit/sliding row", noData
		}
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
