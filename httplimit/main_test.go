package httplimit_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/backendtest"
	"github.com/ginlimit/ginlimit/httplimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

// t0 is not aligned to a minute, so that sliding windows start mid-window.
var t0 = time.Date(2026, 1, 1, 12, 0, 7, 0, time.UTC)

// newLimiter builds a Limiter on a manual clock at t0 and closes it after
// the test.
func newLimiter(t *testing.T, opts ...httplimit.Option) (*httplimit.Limiter, *backendtest.Clock) {
	t.Helper()
	clk := backendtest.NewClock(t0)
	opts = append([]httplimit.Option{httplimit.WithClock(clk.Now), httplimit.WithLogger(discardLogger())}, opts...)
	l, err := httplimit.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, clk
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// okHandler answers 200 "ok", and counts the requests it served.
type okHandler struct {
	mu     sync.Mutex
	served int
}

func (h *okHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	h.served++
	h.mu.Unlock()
	_, _ = w.Write([]byte("ok"))
}

func (h *okHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.served
}

// newServer returns l's Middleware in front of a ServeMux that serves every
// path with ok, and the mux, for more routes.
func newServer(l *httplimit.Limiter) (http.Handler, *http.ServeMux) {
	mux := http.NewServeMux()
	mux.Handle("/", &okHandler{})
	return l.Middleware(mux), mux
}

// request describes one test request.
type request struct {
	method, path string
	remoteAddr   string // 192.0.2.1:1234 (httptest's) when empty
	header       http.Header
}

func serve(h http.Handler, req request) *httptest.ResponseRecorder {
	if req.method == "" {
		req.method = http.MethodGet
	}
	if req.path == "" {
		req.path = "/"
	}
	hr := httptest.NewRequest(req.method, req.path, nil)
	if req.remoteAddr != "" {
		hr.RemoteAddr = req.remoteAddr
	}
	for k, v := range req.header {
		hr.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, hr)
	return w
}

// statuses serves req n times and returns the status codes.
func statuses(h http.Handler, req request, n int) []int {
	codes := make([]int, n)
	for i := range codes {
		codes[i] = serve(h, req).Code
	}
	return codes
}

func repeat(code, n int) []int {
	codes := make([]int, n)
	for i := range codes {
		codes[i] = code
	}
	return codes
}

// rateLimitHeaders returns the rate-limit headers of h and Retry-After.
func rateLimitHeaders(h http.Header) map[string]string {
	got := map[string]string{}
	for _, name := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "RateLimit-Policy", "RateLimit", "Retry-After"} {
		if v := h.Values(name); len(v) > 0 {
			got[name] = strings.Join(v, ", ")
		}
	}
	return got
}

// recordingBackend admits everything, or fails with err, and records keys.
// It cannot be pinged, so its breaker is probed by requests only.
type recordingBackend struct {
	mu   sync.Mutex
	keys []string
	err  error
}

func (b *recordingBackend) Allow(_ context.Context, key string, p backend.Policy, _ int64) (backend.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keys = append(b.keys, key)
	if b.err != nil {
		return backend.Result{}, b.err
	}
	res := backend.Result{Allowed: true}
	for i, l := range p.Limits {
		res.States[i] = backend.LimitState{Remaining: l.Count, Reset: l.Period}
	}
	return res, nil
}

func (b *recordingBackend) lastKey() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.keys) == 0 {
		return ""
	}
	return b.keys[len(b.keys)-1]
}

// decision is the exported fields of a httplimit.Decision, to compare whole.
type decision struct {
	Allowed    bool
	Source     httplimit.Source
	Policy     string
	Key        string
	Limit      backend.Limit
	Remaining  int64
	Reset      time.Duration
	RetryAfter time.Duration
}

func fieldsOf(d httplimit.Decision) decision {
	return decision{Allowed: d.Allowed, Source: d.Source, Policy: d.Policy, Key: d.Key, Limit: d.Limit,
		Remaining: d.Remaining, Reset: d.Reset, RetryAfter: d.RetryAfter}
}
