package main

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ginlimit/ginlimit"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m)
}

// newTestRouter returns the demo's router over accounts, with the clock
// stopped so that no window ends during a test.
func newTestRouter(t *testing.T, accounts map[string]account) http.Handler {
	t.Helper()
	stopped := time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC)
	lim, err := newLimiter(ginlimit.WithLogger(slog.New(slog.DiscardHandler)),
		ginlimit.WithClock(func() time.Time { return stopped }))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lim.Close()) })
	router, err := newRouter(lim, accounts)
	require.NoError(t, err)
	return router
}

// send sends n requests with apiKey ("": none) and returns their statuses
// and the last response.
func send(h http.Handler, apiKey string, n int) ([]int, *httptest.ResponseRecorder) {
	var codes []int
	var w *httptest.ResponseRecorder
	for range n {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if apiKey != "" {
			req.Header.Set("X-API-Key", apiKey)
		}
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		codes = append(codes, w.Code)
	}
	return codes, w
}

func repeat(code, n int) []int {
	codes := make([]int, n)
	for i := range codes {
		codes[i] = code
	}
	return codes
}

func TestEachPlanHasItsLimits(t *testing.T) {
	tests := []struct {
		name      string
		give      string // the API key
		wantCodes []int
		wantLimit string // X-RateLimit-Limit
	}{
		{"free", "free-key", append(repeat(200, 5), 429), "5"},
		{"pro", "pro-key", append(repeat(200, 20), 429), "20"},
		{"no key: by client IP on the free plan", "", append(repeat(401, 5), 429), "5"},
		{"unknown key: by client IP on the free plan", "guessed-key", append(repeat(401, 5), 429), "5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestRouter(t, demoAccounts)
			codes, last := send(h, tt.give, len(tt.wantCodes))
			assert.Equal(t, tt.wantCodes, codes)
			assert.Equal(t, tt.wantLimit, last.Header().Get("X-RateLimit-Limit"))
			assert.NotEmpty(t, last.Header().Get("Retry-After"))
		})
	}
}

// TestPlanChangeKeepsTheCount upgrades an account that has used its free
// plan this minute: the 5 requests stay counted, and the pro plan's 20
// leave 15.
func TestPlanChangeKeepsTheCount(t *testing.T) {
	accounts := map[string]account{"carol-key": {ID: "carol", Plan: "free"}}
	h := newTestRouter(t, accounts)

	codes, _ := send(h, "carol-key", 6)
	assert.Equal(t, append(repeat(200, 5), 429), codes, "free")

	accounts["carol-key"] = account{ID: "carol", Plan: "pro"}
	codes, w := send(h, "carol-key", 1)
	require.Equal(t, []int{200}, codes)
	assert.Equal(t, "20", w.Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, "14", w.Header().Get("X-RateLimit-Remaining"), "5 used as free, 1 as pro")
	codes, _ = send(h, "carol-key", 15)
	assert.Equal(t, append(repeat(200, 14), 429), codes, "pro: 15 in all after the 5 used as free")
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// syncBuffer is a log sink the server goroutine and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServesPlansAndShutsDownOnSIGTERM runs the example as a user would: a
// key's plan sets its limit, a request without a key is refused, and SIGTERM
// stops the server cleanly.
func TestServesPlansAndShutsDownOnSIGTERM(t *testing.T) {
	port := freePort(t)
	t.Setenv("PORT", port)
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(slog.New(slog.NewTextHandler(&logs, nil))) }()

	base := "http://127.0.0.1:" + port
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health/ratelimit/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, "the server never answered")

	get := func(apiKey string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, base+"/", nil)
		require.NoError(t, err)
		if apiKey != "" {
			req.Header.Set("X-API-Key", apiKey)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := get("free-key")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "5", resp.Header.Get("X-RateLimit-Limit"))
	resp = get("pro-key")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "20", resp.Header.Get("X-RateLimit-Limit"))
	assert.Equal(t, http.StatusUnauthorized, get("").StatusCode)

	require.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop on SIGTERM")
	}
	assert.Contains(t, logs.String(), `msg="example: shutting down"`)
	http.DefaultClient.CloseIdleConnections()
}

func TestInvalidEnvironmentFails(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{name: "RATELIMIT_POLICIES", value: "team", want: `RATELIMIT_POLICIES="team"`},
		{name: "RATELIMIT_POLICIES", value: "free=10/minute", want: `"free" is the Limiter's own policy`},
		{name: "PORT", value: "http", want: `PORT="http": want a port number from 1 to 65535`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			err := run(slog.New(slog.DiscardHandler))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
