package bench

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// BenchmarkPeers runs every scenario for ginlimit and each peer library.
// Every library does the same work in a scenario, with the closest
// configuration it has; the algorithm it runs is part of the name.
func BenchmarkPeers(b *testing.B) {
	b.Run("memory-admit", benchMemoryAdmit)
	b.Run("middleware", benchMiddleware)
	b.Run("redis-admit", benchRedisAdmit)
	b.Run("redis-deny", benchRedisDeny)
	b.Run("redis-down", benchRedisDown)
}

// numKeys is how many distinct clients the admit scenarios spread decisions
// over.
const numKeys = 16384

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
