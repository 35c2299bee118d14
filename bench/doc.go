// Package bench compares ginlimit with other rate limiters for Go, side by
// side in one run and on one Redis.
//
// It is a module of its own, so that the libraries it measures never become
// dependencies of ginlimit's users. BenchmarkPeers runs every scenario; its
// sub-benchmarks are named scenario/library[/variant]:
//
//	go test -run '^$' -bench Peers -benchmem .
//
// The test binary takes flags of its own after -args: -peers.goroutines N
// (64 by default) sets how many goroutines the Redis scenarios decide from,
// -peers.pool the go-redis PoolSize of the peers (one connection a goroutine
// by default), and -peers.list lists the sub-benchmarks.
//
// The program in cmd/benchreport runs the suite in interleaved rounds, each
// sub-benchmark once a round in a rotating order, and writes
// docs/BENCHMARKS.md and its charts from the results.
package bench
