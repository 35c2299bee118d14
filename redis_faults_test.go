package ginlimit_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// faultTimeout is the Redis timeout of the fault tests, and faultSlack what
// a request may take beyond it on a slow, loaded test machine: far below what
// an unguarded client waits for a frozen server (about 12 seconds) or a dial
// (5 seconds by default).
const (
	faultTimeout = 100 * time.Millisecond
	faultSlack   = 1400 * time.Millisecond
)

// loadRun serves requests from many clients from 8 goroutines until stop,
// recording the status codes and the slowest request.
type loadRun struct {
	mu      sync.Mutex
	codes   map[int]int
	slowest time.Duration
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(r *gin.Engine) *loadRun {
	lr := &loadRun{codes: map[int]int{}, stop: make(chan struct{})}
	var n atomic.Int64
	for range 8 {
		lr.wg.Go(func() {
			for {
				select {
				case <-lr.stop:
					return
				default:
				}
				addr := "198.51.100." + itoa(n.Add(1)%200) + ":1"
				start := time.Now()
				code := serve(r, request{remoteAddr: addr}).Code
				took := time.Since(start)
				lr.mu.Lock()
				lr.codes[code]++
				lr.slowest = max(lr.slowest, took)
				lr.mu.Unlock()
			}
		})
	}
	return lr
}

// finish stops the load and checks that no request failed or waited past
// the timeout and its slack.
func (lr *loadRun) finish(t *testing.T) {
	t.Helper()
	close(lr.stop)
	lr.wg.Wait()
	for code, n := range lr.codes {
		assert.Contains(t, []int{http.StatusOK, http.StatusTooManyRequests}, code, "%d responses with status %d", n, code)
	}
	assert.Less(t, lr.slowest, faultTimeout+faultSlack, "the slowest request")
	t.Logf("responses %v, slowest %v", lr.codes, lr.slowest)
}

func faultLimiter(t *testing.T, srv *redistest.Server, wait bool, logs *logBuffer, hook *hookRecorder, opts ...ginlimit.Option) (*ginlimit.Limiter, *gin.Engine) {
	t.Helper()
	opts = append([]ginlimit.Option{ginlimit.WithRedisTimeout(faultTimeout), ginlimit.WithLimits("1000/minute"),
		ginlimit.WithLogger(logs.logger()), ginlimit.WithOnFallbackChange(hook.hook)}, opts...)
	l := redisLimiter(t, srv.URL(), wait, opts...)
	r := newRouter(l)
	ginlimit.RegisterHealth(r, l)
	return l, r
}

// waitBackend waits until the health endpoint shows backend.
func waitBackend(t *testing.T, l *ginlimit.Limiter, r *gin.Engine, backend string) {
	t.Helper()
	require.Eventually(t, func() bool {
		serve(r, request{}) // requests drive the probes
		return l.Status().Backend == backend
	}, 15*time.Second, 20*time.Millisecond, "backend %q", backend)
}

// requireTransitions checks the logs and the hook: one fallback, one
// recovery.
func requireTransitions(t *testing.T, logs *logBuffer, hook *hookRecorder) {
	t.Helper()
	assert.Equal(t, []bool{true, false}, hook.get())
	text := logs.String()
	assert.Equal(t, 1, strings.Count(text, `level=WARN msg="ginlimit: shared backend unavailable`), text)
	assert.Equal(t, 1, strings.Count(text, `level=INFO msg="ginlimit: shared backend recovered"`), text)
}

// TestRedisOutageUnderLoad breaks Redis while requests keep coming, and
// mends it: no request fails or waits past the timeout, the health endpoint
// shows memory until Redis is back, and each transition is logged and hooked
// once.
func TestRedisOutageUnderLoad(t *testing.T) {
	tests := []struct {
		name       string
		fail, mend func(*redistest.Server, testing.TB)
	}{
		{"killed", (*redistest.Server).Kill, (*redistest.Server).Restart},
		{"frozen", (*redistest.Server).Freeze, (*redistest.Server).Thaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			var logs logBuffer
			var hook hookRecorder
			l, r := faultLimiter(t, srv, true, &logs, &hook)
			load := startLoad(r)

			time.Sleep(100 * time.Millisecond)
			tt.fail(srv, t)
			waitBackend(t, l, r, "memory")
			st := l.Status()
			assert.False(t, st.RedisConnected)
			assert.Equal(t, ginlimit.MessageMemory, st.Message)
			assert.NotNil(t, st.DegradedSince)
			assert.NotEmpty(t, st.LastError)
			assert.True(t, st.Ready)
			time.Sleep(300 * time.Millisecond) // requests keep coming during the outage

			tt.mend(srv, t)
			waitBackend(t, l, r, "redis")
			load.finish(t)
			assert.Equal(t, ginlimit.MessageRedis, l.Status().Message)
			requireTransitions(t, &logs, &hook)
		})
	}
}

// TestRedisUnavailableAtBoot starts a Limiter whose Redis is down, or
// accepts connections but never answers: the Limiter is built at once,
// requests are decided in memory without waiting on the connection attempts,
// and it moves to Redis when the server answers.
func TestRedisUnavailableAtBoot(t *testing.T) {
	tests := []struct {
		name       string
		fail, mend func(*redistest.Server, testing.TB)
		wantError  string
	}{
		{"down", (*redistest.Server).Kill, (*redistest.Server).Restart, "connection refused"},
		{"frozen", (*redistest.Server).Freeze, (*redistest.Server).Thaw, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t)
			tt.fail(srv, t)
			var logs logBuffer
			var hook hookRecorder
			l, r := faultLimiter(t, srv, false, &logs, &hook)
			load := startLoad(r)

			require.Eventually(t, func() bool { return l.Status().LastError != "" }, 10*time.Second, 10*time.Millisecond)
			st := l.Status()
			assert.Equal(t, "memory", st.Backend)
			assert.True(t, st.RedisConfigured)
			assert.False(t, st.RedisConnected)
			assert.Contains(t, st.LastError, tt.wantError)

			tt.mend(srv, t)
			waitBackend(t, l, r, "redis")
			load.finish(t)
			requireTransitions(t, &logs, &hook)
		})
	}
}

// TestRedisWrongTypeKey puts data of another type at a client's key: that
// client is decided in memory, and the breaker stays closed for the others.
func TestRedisWrongTypeKey(t *testing.T) {
	srv := redistest.Start(t)
	l := redisLimiter(t, srv.URL(), true, ginlimit.WithLimits("2/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow))
	_, err := srv.Do(t, "SET", "{ginlimit:default:192.0.2.1}:f:60", "not a hash")
	require.NoError(t, err)
	r := newRouter(l)
	assert.Equal(t, []int{200, 200, 429}, statuses(r, request{}, 3), "decided in memory")
	assert.Equal(t, "closed", l.Status().Breaker)
	assert.Equal(t, uint64(3), l.Stats().Errors)
	assert.Equal(t, http.StatusOK, serve(r, request{remoteAddr: "192.0.2.2:1"}).Code)
	assert.Equal(t, uint64(3), l.Stats().Errors, "other clients are decided in Redis")
}

// TestRedisOutOfMemory makes Redis refuse writes while it still answers
// PING: requests are decided in memory, the breaker's probes back off
// rather than flap, and decisions return to Redis when it accepts writes.
func TestRedisOutOfMemory(t *testing.T) {
	srv := redistest.Start(t)
	var logs logBuffer
	var hook hookRecorder
	// A timeout long enough that a loaded machine fails calls by OOM only.
	l, r := faultLimiter(t, srv, true, &logs, &hook, ginlimit.WithRedisTimeout(time.Second))
	_, err := srv.Do(t, "CONFIG", "SET", "maxmemory", "1")
	require.NoError(t, err)

	load := startLoad(r)
	time.Sleep(1500 * time.Millisecond)
	st := l.Status()
	assert.Contains(t, st.LastError, "OOM")
	assert.Greater(t, l.Stats().Fallback, uint64(0))
	warns := strings.Count(logs.String(), "level=WARN")
	assert.LessOrEqual(t, warns, 4, "the breaker reopens at growing intervals, not every probe: %s", logs.String())

	_, err = srv.Do(t, "CONFIG", "SET", "maxmemory", "0")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		before := l.Stats().Fallback
		time.Sleep(50 * time.Millisecond)
		return l.Status().Backend == "redis" && l.Stats().Fallback == before
	}, 15*time.Second, 20*time.Millisecond, "decisions return to Redis")
	load.finish(t)
}
