//go:build !race

package ginlimitotel_test

// raceEnabled reports whether the race detector, which allocates, is on.
const raceEnabled = false
