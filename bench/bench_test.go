package bench

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// Flags of the test binary, which cmd/benchreport sets; go test passes them
// on after -args.
var (
	// listFlag makes the test binary print the name of every
	// sub-benchmark of BenchmarkPeers, scenario/library[/variant], one a
	// line, and exit, so that cmd/benchreport can run each one on its own.
	listFlag = flag.Bool("peers.list", false, "print the sub-benchmarks of BenchmarkPeers and exit")
	// goroutinesFlag is how many goroutines the Redis scenarios decide
	// from, the same for every library.
	goroutinesFlag = flag.Int("peers.goroutines", defaultGoroutines, "decide from `N` goroutines in the Redis scenarios")
	// poolFlag is the go-redis PoolSize of the peers' clients.
	poolFlag = flag.Int("peers.pool", 0, "go-redis PoolSize `N` of the peers; 0 for one connection a goroutine, -1 for go-redis's default (10 a CPU)")
)

// defaultGoroutines is how many requests a server has in flight at once in
// the Redis scenarios: a busy instance (Cloud Run's default concurrency is
// 80), and the 64 concurrent requests of ginlimit's hot-key goal.
const defaultGoroutines = 64

// TestMain lists the sub-benchmarks when asked to by -peers.list, and runs
// the tests and benchmarks otherwise.
func TestMain(m *testing.M) {
	flag.Parse()
	if *listFlag {
		for _, sc := range peerScenarios {
			for _, lib := range sc.libraries {
				fmt.Println(sc.name + "/" + lib)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// peerScenarios lists the scenarios of BenchmarkPeers, in the order it runs
// them, with the names of their sub-benchmarks.
var peerScenarios = []struct {
	name      string
	libraries []string
	run       func(*testing.B)
}{
	{"memory-admit", namesOf(memoryLibraries, memoryLibraryName), benchMemoryAdmit},
	{"memory-hot", namesOf(memoryLibraries, memoryLibraryName), benchMemoryHot},
	{"middleware", namesOf(middlewareLibraries, middlewareLibraryName), benchMiddleware},
	{"redis-admit", namesOf(redisLibraries, redisLibraryName), benchRedisAdmit},
	{"redis-hot", namesOf(redisLibraries, redisLibraryName), benchRedisHot},
	{"redis-deny", namesOf(redisLibraries, redisLibraryName), benchRedisDeny},
	{"redis-down", namesOf(redisLibraries, redisLibraryName), benchRedisDown},
}

// BenchmarkPeers runs every scenario for ginlimit and each peer library.
// Every library does the same work in a scenario, with the closest
// configuration it has; the algorithm it runs is part of the name.
func BenchmarkPeers(b *testing.B) {
	for _, sc := range peerScenarios {
		b.Run(sc.name, sc.run)
	}
}

// TestScenarioNames checks that every sub-benchmark name is unique within
// its scenario, since cmd/benchreport runs them by name.
func TestScenarioNames(t *testing.T) {
	for _, sc := range peerScenarios {
		seen := make(map[string]bool)
		for _, lib := range sc.libraries {
			if seen[lib] {
				t.Errorf("%s: %s is listed twice", sc.name, lib)
			}
			seen[lib] = true
		}
	}
}

func namesOf[T any](libs []T, name func(T) string) []string {
	names := make([]string, len(libs))
	for i, l := range libs {
		names[i] = name(l)
	}
	return names
}

// numKeys is how many distinct clients the admit scenarios spread decisions
// over.
const numKeys = 16384

// hotKey is the one client of the hot-key scenarios.
const hotKey = "203.0.113.9"

// distinctKeys returns n distinct client keys shaped like IPv4 addresses, and
// fails if any two are equal.
func distinctKeys(tb testing.TB, n int) []string {
	keys := make([]string, n)
	seen := make(map[string]bool, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&0xff, i>>8&0xff, i&0xff)
		seen[keys[i]] = true
	}
	if len(seen) != n {
		tb.Fatalf("got %d distinct keys, want %d", len(seen), n)
	}
	return keys
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
