package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestServesLimitsAndShutsDownOnSIGTERM runs the example as a user would:
// requests past a limit get 429, the login route has a limit of its own, the
// health routes report the memory backend, and SIGTERM stops the server
// cleanly.
func TestServesLimitsAndShutsDownOnSIGTERM(t *testing.T) {
	port := freePort(t)
	t.Setenv("PORT", port)
	t.Setenv("RATELIMIT_DEFAULT", "7/minute")
	const adminToken = "example-admin-token"
	t.Setenv("ADMIN_TOKEN", adminToken)
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

	send := func(method, path string, n int) ([]int, *http.Response) {
		var codes []int
		var last *http.Response
		for range n {
			req, err := http.NewRequest(method, base+path, nil)
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
			last = resp
		}
		return codes, last
	}
	codes, last := send(http.MethodPost, "/login", 6)
	assert.Equal(t, []int{200, 200, 200, 200, 200, 429}, codes, "POST /login: 5/minute of its own")
	assert.Equal(t, "5", last.Header.Get("X-RateLimit-Limit"))
	assert.NotEmpty(t, last.Header.Get("Retry-After"))
	codes, last = send(http.MethodGet, "/", 2)
	assert.Equal(t, []int{200, 429}, codes, "the six logins also counted against the default 7/minute")
	assert.Equal(t, "7", last.Header.Get("X-RateLimit-Limit"))
	assert.Equal(t, "0", last.Header.Get("X-RateLimit-Remaining"))
	assert.NotEmpty(t, last.Header.Get("Retry-After"))

	resp, err := http.Get(base + "/health/ratelimit")
	require.NoError(t, err)
	var status map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&status))
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the health route is never limited")
	assert.Equal(t, map[string]any{"backend": "memory", "redis_connected": false,
		"message": "In-memory rate limiting (single instance only)", "ready": true}, status,
		"the public health tells no details")

	details := func(auth string) (int, map[string]any) {
		req, err := http.NewRequest(http.MethodGet, base+"/admin/health/ratelimit", nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	code, _ := details("")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = details("Bearer wrong-token")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body := details("Bearer " + adminToken)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, []any{"7/minute"}, body["limits"], "the details behind the token")

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
		{name: "RATELIMIT_DEFAULT", value: "ten/minute", want: `RATELIMIT_DEFAULT="ten/minute"`},
		{name: "RATELIMIT_KEY_BY", value: "cookie", want: `RATELIMIT_KEY_BY="cookie"`},
		{name: "RATELIMIT_TYPO", value: "1", want: `RATELIMIT_TYPO: invalid option: unknown variable`},
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
