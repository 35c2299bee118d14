package ginlimitprom_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitprom "github.com/ginlimit/ginlimit/prometheus"
)

// benchKeys is how many distinct clients the benchmarks spread requests over.
const benchKeys = 16384

// distinctAddrs returns n distinct IPv4 peer addresses.
func distinctAddrs(tb testing.TB, n int) []string {
	addrs := make([]string, n)
	seen := make(map[string]bool, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.%d.%d.%d:4242", i>>16&0xff, i>>8&0xff, i&0xff)
		seen[addrs[i]] = true
	}
	if len(seen) != n {
		tb.Fatalf("got %d distinct addresses, want %d", len(seen), n)
	}
	return addrs
}

// discardWriter is a ResponseWriter that keeps nothing but the status, so
// that the benchmark measures the router and middleware, not a recorder.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// benchRouter returns a Gin router that answers GET / with 204 behind the
// middleware of a Limiter of "1000000000/hour" (sliding window, legacy
// headers, memory backend) and opts.
func benchRouter(b *testing.B, opts ...ginlimit.Option) *gin.Engine {
	opts = append([]ginlimit.Option{
		ginlimit.WithLimits("1000000000/hour"),
		ginlimit.WithStrategy(ginlimit.SlidingWindow),
		ginlimit.WithHeaders(ginlimit.HeadersLegacy),
		ginlimit.WithLogger(discardLogger()),
	}, opts...)
	lim, err := ginlimit.NewLimiter(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lim.Close() })
	r := gin.New()
	if err := r.SetTrustedProxies(nil); err != nil {
		b.Fatal(err)
	}
	r.Use(lim.Middleware())
	r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return r
}

// serveParallel sends GET / from benchKeys distinct clients, each goroutine
// walking them from its own offset, and fails if any request is not
// admitted, as the main module's benchmarks do: every client is seen once
// first, and they then come in another order, shuffled.
func serveParallel(b *testing.B, r *gin.Engine) {
	addrs := distinctAddrs(b, benchKeys)
	warm := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, a := range addrs {
		warm.RemoteAddr = a
		r.ServeHTTP(&discardWriter{header: make(http.Header)}, warm)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	var offset, failed atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		w := &discardWriter{header: make(http.Header)}
		i := int(offset.Add(7919)) % len(addrs)
		for pb.Next() {
			clear(w.header)
			w.code = 0
			req.RemoteAddr = addrs[i]
			r.ServeHTTP(w, req)
			if w.code != http.StatusNoContent {
				failed.Add(1)
			}
			if i++; i == len(addrs) {
				i = 0
			}
		}
	})
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests were not admitted", n)
	}
}

// BenchmarkMiddleware measures a request through Gin and the ginlimit
// middleware without a decision hook, with the Collector's, and with one
// that keeps nothing: the Collector's cost is the difference.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("without", func(b *testing.B) {
		serveParallel(b, benchRouter(b))
	})
	b.Run("collector", func(b *testing.B) {
		c := ginlimitprom.New()
		serveParallel(b, benchRouter(b, ginlimit.WithDecisionHook(c.Observe)))
	})
	b.Run("hook/noop", func(b *testing.B) {
		serveParallel(b, benchRouter(b, ginlimit.WithDecisionHook(func(httplimit.Event) {})))
	})
}

// BenchmarkObserve measures Observe alone, for one pair, from one goroutine
// and from GOMAXPROCS at once.
func BenchmarkObserve(b *testing.B) {
	e := httplimit.Event{Policy: "default", Route: "/", Allowed: true, Source: httplimit.SourceMemory,
		Limit: backend.Limit{Count: 1000000000, Period: time.Hour}, Remaining: 999999, Duration: 120 * time.Nanosecond, Cost: 1}
	b.Run("serial", func(b *testing.B) {
		c := ginlimitprom.New()
		b.ReportAllocs()
		for b.Loop() {
			c.Observe(e)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		c := ginlimitprom.New()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Observe(e)
			}
		})
	})
}
