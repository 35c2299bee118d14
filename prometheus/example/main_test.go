package main

import (
	"bytes"
	"io"
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

// TestServesMetricsAndShutsDownOnSIGTERM runs the example as a user would:
// requests to /hello past the limit get 429, /metrics is never limited and
// counts them, and SIGTERM stops the server cleanly.
func TestServesMetricsAndShutsDownOnSIGTERM(t *testing.T) {
	port := freePort(t)
	t.Setenv("PORT", port)
	t.Setenv("RATELIMIT_DEFAULT", "2/minute")
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(slog.New(slog.NewTextHandler(&logs, nil))) }()

	base := "http://127.0.0.1:" + port
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond, "the server never answered")

	var codes []int
	for range 3 {
		code, _ := get("/hello")
		codes = append(codes, code)
	}
	assert.Equal(t, []int{200, 200, 429}, codes)

	for range 3 {
		code, _ := get("/metrics")
		require.Equal(t, http.StatusOK, code, "the scraper is never limited")
	}
	_, body := get("/metrics")
	assert.Contains(t, body, `ginlimit_decisions_total{outcome="allowed",policy="default",route="/hello",source="memory"} 2`)
	assert.Contains(t, body, `ginlimit_decisions_total{outcome="denied",policy="default",route="/hello",source="memory"} 1`)
	assert.Contains(t, body, `ginlimit_limit_utilization_count{policy="default",route="/hello"} 3`)
	assert.Contains(t, body, `ginlimit_memory_keys 1`)
	assert.NotContains(t, body, `route="/metrics"`)

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
