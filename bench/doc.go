// Package bench compares ginlimit with other rate limiters for Go, side by
// side in one run and on one Redis.
//
// It is a module of its own, so that the libraries it measures never become
// dependencies of ginlimit's users. BenchmarkPeers runs every scenario; its
// sub-benchmarks are named scenario/library[/variant]:
//
//	go test -run '^$' -bench Peers -benchmem -count 6 .
//
// The program in cmd/benchreport runs the suite and writes docs/BENCHMARKS.md
// and its charts from the results.
package bench
