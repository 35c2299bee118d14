//go:build race

package ginlimitprom_test

// raceEnabled reports whether the race detector, which allocates, is on.
const raceEnabled = true
