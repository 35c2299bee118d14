package ginlimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m, redistest.LeakOptions()...)
}

// t0 is not aligned to a minute, so that sliding windows start mid-window.
var t0 = time.Date(2026, 1, 1, 12, 0, 7, 0, time.UTC)

// clock is a manual clock for tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newLimiter builds a Limiter on a manual clock and closes it after the test.
func newLimiter(t *testing.T, opts ...ginlimit.Option) (*ginlimit.Limiter, *clock) {
	t.Helper()
	clk := newClock()
	opts = append([]ginlimit.Option{ginlimit.WithClock(clk.Now), ginlimit.WithLogger(discardLogger())}, opts...)
	l, err := ginlimit.NewLimiter(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	return l, clk
}

// newRouter serves GET / under l's middleware.
func newRouter(l *ginlimit.Limiter) *gin.Engine {
	r := gin.New()
	r.Use(l.Middleware())
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return r
}

// request describes one test request.
type request struct {
	method, path string
	remoteAddr   string
	header       http.Header
}

func serve(r http.Handler, req request) *httptest.ResponseRecorder {
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
	r.ServeHTTP(w, hr)
	return w
}

// statuses serves req n times and returns the status codes.
func statuses(r http.Handler, req request, n int) []int {
	codes := make([]int, n)
	for i := range codes {
		codes[i] = serve(r, req).Code
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

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logBuffer is a logger whose output a test can read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// recordingBackend admits everything, or fails with err, and records keys.
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

func (b *recordingBackend) setErr(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = err
}

func (b *recordingBackend) lastKey() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.keys) == 0 {
		return ""
	}
	return b.keys[len(b.keys)-1]
}
