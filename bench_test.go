package ginlimit_test

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
	"github.com/ginlimit/ginlimit/httplimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
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

func benchRouter(b testing.TB, mw gin.HandlerFunc) *gin.Engine {
	r := gin.New()
	if err := r.SetTrustedProxies(nil); err != nil {
		b.Fatal(err)
	}
	if mw != nil {
		r.Use(mw)
	}
	r.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return r
}

func benchRouterT(t *testing.T, l *ginlimit.Limiter) *gin.Engine {
	return benchRouter(t, l.Middleware())
}

// serveParallel sends GET / from benchKeys distinct clients, each goroutine
// walking them from its own offset, and fails if any request is not admitted.
// Each goroutine reuses one request, as a server's request is fresh in cache,
// and changes only its peer address. The clients are first seen in one order
// and then come in another, shuffled: a walk in the order the limiter first
// saw them would let the processor prefetch what a real server finds
// scattered.
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

// BenchmarkMiddleware measures a request through gin with and without the
// middleware on the built-in memory backend.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		serveParallel(b, benchRouter(b, nil))
	})
	for _, s := range []ginlimit.Strategy{ginlimit.SlidingWindow, ginlimit.FixedWindow, ginlimit.TokenBucket} {
		for _, h := range []ginlimit.Headers{ginlimit.HeadersLegacy, ginlimit.HeadersNone} {
			b.Run(fmt.Sprintf("ginlimit/%v/headers=%v", s, h), func(b *testing.B) {
				lim, err := ginlimit.NewLimiter(
					ginlimit.WithLimits("1000000000/hour"),
					ginlimit.WithStrategy(s),
					ginlimit.WithHeaders(h),
					ginlimit.WithLogger(discardLogger()),
				)
				if err != nil {
					b.Fatal(err)
				}
				defer lim.Close()
				serveParallel(b, benchRouter(b, lim.Middleware()))
			})
		}
	}
	// Plans: the same limits as ginlimit/sliding-window/headers=legacy,
	// chosen per request by name, or given per request as limits.
	// And a decision hook that keeps nothing.
	for name, choose := range map[string]ginlimit.Option{
		"plans/named":    ginlimit.WithPolicyFunc(func(*gin.Context) string { return "pro" }),
		"plans/override": ginlimit.WithLimitsFunc(func(*gin.Context) string { return "1000000000/hour" }),
		"hook/noop":      ginlimit.WithDecisionHook(func(httplimit.Event) {}),
	} {
		b.Run("ginlimit/"+name, func(b *testing.B) {
			lim, err := ginlimit.NewLimiter(
				ginlimit.WithLimits("1000000000/hour"),
				ginlimit.WithPolicy("pro", "1000000000/hour"),
				choose,
				ginlimit.WithLogger(discardLogger()),
			)
			if err != nil {
				b.Fatal(err)
			}
			defer lim.Close()
			serveParallel(b, benchRouter(b, lim.Middleware()))
		})
	}
}

// BenchmarkMiddlewareRedis measures a request through gin with the
// middleware on a local redis-server, 64 goroutines a core: admitted
// requests over many clients (one round trip each), and a client over its
// limit (turned away without a round trip).
func BenchmarkMiddlewareRedis(b *testing.B) {
	srv := redistest.Start(b)
	newLim := func(b *testing.B, limits string) *ginlimit.Limiter {
		lim, err := ginlimit.NewLimiter(ginlimit.WithRedisURL(srv.URL()), ginlimit.WithLimits(limits),
			ginlimit.WithLogger(discardLogger()), ginlimit.WithRedisTimeout(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { lim.Close() })
		for !lim.Status().RedisConnected {
			time.Sleep(time.Millisecond)
		}
		return lim
	}
	b.Run("admitted", func(b *testing.B) {
		lim := newLim(b, "1000000000/hour")
		b.SetParallelism(64)
		serveParallel(b, benchRouter(b, lim.Middleware()))
		if n := lim.Stats().Fallback; n > 0 {
			b.Fatalf("%d requests decided by the fallback", n)
		}
	})
	b.Run("denied", func(b *testing.B) {
		lim := newLim(b, "1/hour")
		r := benchRouter(b, lim.Middleware())
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		r.ServeHTTP(&discardWriter{header: make(http.Header)}, req)
		var admitted atomic.Int64
		srv.ResetStats(b)
		b.SetParallelism(64)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			w := &discardWriter{header: make(http.Header)}
			for pb.Next() {
				clear(w.header)
				w.code = 0
				r.ServeHTTP(w, req)
				if w.code != http.StatusTooManyRequests {
					admitted.Add(1)
				}
			}
		})
		b.StopTimer()
		if n := admitted.Load(); n > 0 {
			b.Fatalf("%d requests were not denied", n)
		}
		var sent int64
		for name, calls := range srv.CommandCalls(b) {
			if name == "evalsha" || name == "eval" || name == "hget" {
				sent += calls
			}
		}
		b.ReportMetric(float64(sent)/float64(b.N), "trips/op")
	})
}
