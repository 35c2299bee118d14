package main

import "math"

// A durationUnit is a unit that durations are shown in.
type durationUnit struct {
	ns     float64 // nanoseconds in one unit
	symbol string
}

// durationUnits lists the units from the smallest.
var durationUnits = []durationUnit{{1, "ns"}, {1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}}

// unitFor returns the largest unit of which ns is at least one, ns for
// less than a nanosecond. A value that formatNum would round up to 1,000
// of a unit takes the next one.
func unitFor(ns float64) durationUnit {
	u := durationUnits[0]
	for _, d := range durationUnits[1:] {
		if ns >= d.ns*0.9995 {
			u = d
		}
	}
	return u
}

// formatDuration formats ns nanoseconds in the unit that suits it, with
// three significant digits: 0.630 ns, 438 ns, 14.5 µs, 1.69 s.
func formatDuration(ns float64) string {
	if ns == 0 || math.IsNaN(ns) || math.IsInf(ns, 0) {
		return formatNum(ns)
	}
	u := unitFor(math.Abs(ns))
	return formatNum(ns/u.ns) + " " + u.symbol
}

// formatSignedDuration is formatDuration with a sign: +260 ns, −4.56 µs, 0.
func formatSignedDuration(ns float64) string {
	switch {
	case ns > 0:
		return "+" + formatDuration(ns)
	case ns < 0:
		return "−" + formatDuration(-ns)
	}
	return "0"
}
