package httplimit_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
)

// benchKeys is how many distinct clients the benchmarks spread requests over.
const benchKeys = 16384

// distinctAddrs returns n distinct IPv4 peer addresses.
func distinctAddrs(tb testing.TB, n int) []string {
	tb.Helper()
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
// that the benchmark measures the mux and middleware, not a recorder.
type discardWriter struct {
	header http.Header
	code   int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

// noContentMux serves GET / with 204.
func noContentMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

// serveParallel sends GET / from benchKeys distinct clients, each goroutine
// walking them from its own offset, and fails if any request is not admitted.
// Each goroutine reuses one request, as a server's request is fresh in cache,
// and changes only its peer address. The clients are first seen in one order
// and then come in another, shuffled: a walk in the order the limiter first
// saw them would let the processor prefetch what a real server finds
// scattered.
func serveParallel(b *testing.B, h http.Handler) {
	addrs := distinctAddrs(b, benchKeys)
	warm := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, a := range addrs {
		warm.RemoteAddr = a
		h.ServeHTTP(&discardWriter{header: make(http.Header)}, warm)
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
			h.ServeHTTP(w, req)
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

func benchLimiter(b *testing.B, opts ...httplimit.Option) *httplimit.Limiter {
	opts = append([]httplimit.Option{httplimit.WithLimits("1000000000/hour"), httplimit.WithLogger(discardLogger())}, opts...)
	lim, err := httplimit.New(opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lim.Close() })
	return lim
}

// BenchmarkMiddleware measures a request through a ServeMux with and
// without the Middleware on the built-in memory backend, and Decide alone.
func BenchmarkMiddleware(b *testing.B) {
	b.Run("baseline", func(b *testing.B) {
		serveParallel(b, noContentMux())
	})
	for _, tt := range []struct {
		strategy backend.Strategy
		headers  httplimit.Headers
	}{
		{backend.SlidingWindow, httplimit.HeadersLegacy},
		{backend.TokenBucket, httplimit.HeadersLegacy},
		{backend.SlidingWindow, httplimit.HeadersNone},
	} {
		b.Run(fmt.Sprintf("httplimit/%v/headers=%v", tt.strategy, tt.headers), func(b *testing.B) {
			lim := benchLimiter(b, httplimit.WithStrategy(tt.strategy), httplimit.WithHeaders(tt.headers))
			serveParallel(b, lim.Middleware(noContentMux()))
		})
	}
	b.Run("decide", func(b *testing.B) {
		lim := benchLimiter(b)
		p := lim.Default()
		ctx := b.Context()
		keys := distinctAddrs(b, benchKeys)
		for i := range keys {
			keys[i] = keys[i][:len(keys[i])-len(":4242")] // the client IP, as an adapter gives it
			lim.Decide(ctx, p, keys[i], 1)
		}
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		var offset, failed atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(offset.Add(7919)) % len(keys)
			for pb.Next() {
				if !lim.Decide(ctx, p, keys[i], 1).Allowed {
					failed.Add(1)
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d requests were not admitted", n)
		}
	})
}
