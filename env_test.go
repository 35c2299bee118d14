package ginlimit_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"

	"github.com/ginlimit/ginlimit"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name string
		give map[string]string
		want func(t *testing.T, l *ginlimit.Limiter)
	}{
		{
			name: "unset keeps the defaults",
			give: map[string]string{},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				s := l.Status()
				assert.Equal(t, []string{"100/minute"}, s.Limits)
				assert.Equal(t, "sliding-window", s.Strategy)
				assert.True(t, s.Enabled)
				w := serve(newRouter(l), request{})
				assert.Equal(t, "100", w.Header().Get("X-RateLimit-Limit"))
			},
		},
		{
			name: "empty values count as unset",
			give: map[string]string{"RATELIMIT_DEFAULT": "", "RATELIMIT_STRATEGY": "  "},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				assert.Equal(t, []string{"100/minute"}, l.Status().Limits)
			},
		},
		{
			name: "limits, strategy and headers",
			give: map[string]string{
				"RATELIMIT_DEFAULT":  "2 per minute; 10/hour",
				"RATELIMIT_STRATEGY": "token-bucket",
				"RATELIMIT_HEADERS":  "IETF",
			},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				s := l.Status()
				assert.Equal(t, []string{"2/minute", "10/hour"}, s.Limits)
				assert.Equal(t, "token-bucket", s.Strategy)
				w := serve(newRouter(l), request{})
				assert.Empty(t, w.Header().Get("X-RateLimit-Limit"))
				assert.Equal(t, `"default-minute";q=2;w=60, "default-hour";q=10;w=3600`, w.Header().Get("RateLimit-Policy"))
			},
		},
		{
			name: "disabled",
			give: map[string]string{"RATELIMIT_ENABLED": "false", "RATELIMIT_DEFAULT": "1/minute"},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				assert.Equal(t, repeat(http.StatusOK, 3), statuses(newRouter(l), request{}, 3))
			},
		},
		{
			name: "key by header",
			give: map[string]string{"RATELIMIT_KEY_BY": "header:X-API-Key", "RATELIMIT_DEFAULT": "1/minute"},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				r := newRouter(l)
				key := http.Header{"X-Api-Key": {"k1"}}
				assert.Equal(t, http.StatusOK, serve(r, request{remoteAddr: "192.0.2.1:1", header: key}).Code)
				assert.Equal(t, http.StatusTooManyRequests, serve(r, request{remoteAddr: "192.0.2.2:1", header: key}).Code)
			},
		},
		{
			name: "key by X-Forwarded-For",
			give: map[string]string{"RATELIMIT_KEY_BY": "xff:2", "RATELIMIT_DEFAULT": "1/minute"},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				r := newRouter(l)
				assert.Equal(t, http.StatusOK, serve(r, request{header: http.Header{"X-Forwarded-For": {"1.1.1.1, 198.51.100.1, 10.0.0.1"}}}).Code)
				assert.Equal(t, http.StatusTooManyRequests, serve(r, request{header: http.Header{"X-Forwarded-For": {"2.2.2.2, 198.51.100.1, 10.0.0.1"}}}).Code)
			},
		},
		{
			name: "failure mode and fallback limits, without Redis",
			give: map[string]string{"RATELIMIT_FAILURE_MODE": "closed", "RATELIMIT_FALLBACK_LIMITS": "1/minute", "RATELIMIT_REDIS_TIMEOUT": "250ms", "RATELIMIT_CLIENT_CACHE": "off"},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				s := l.Status()
				assert.False(t, s.RedisConfigured)
				assert.Equal(t, "memory", s.Backend)
				assert.Equal(t, http.StatusOK, serve(newRouter(l), request{}).Code, "no shared backend: memory decides with its own limits")
			},
		},
		{
			name: "key prefix and memory bound",
			give: map[string]string{"RATELIMIT_KEY_PREFIX": "svc-a", "RATELIMIT_MEMORY_MAX_KEYS": "2", "RATELIMIT_DEFAULT": "1/minute"},
			want: func(t *testing.T, l *ginlimit.Limiter) {
				r := newRouter(l)
				for _, addr := range []string{"192.0.2.1:1", "192.0.2.2:1", "192.0.2.3:1"} {
					serve(r, request{remoteAddr: addr})
				}
				assert.Equal(t, 2, l.Stats().Keys)
				assert.Equal(t, uint64(1), l.Stats().Evictions)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.give {
				t.Setenv(k, v)
			}
			l, _ := newLimiter(t, ginlimit.FromEnv())
			tt.want(t, l)
		})
	}
}

func TestOptionsAfterFromEnvOverrideIt(t *testing.T) {
	t.Setenv("RATELIMIT_DEFAULT", "1/minute")
	t.Setenv("RATELIMIT_STRATEGY", "fixed-window")
	l, _ := newLimiter(t, ginlimit.FromEnv(), ginlimit.WithLimits("3/minute"))
	s := l.Status()
	assert.Equal(t, []string{"3/minute"}, s.Limits)
	assert.Equal(t, "fixed-window", s.Strategy, "FromEnv still applies what is not overridden")

	l, _ = newLimiter(t, ginlimit.WithLimits("3/minute"), ginlimit.FromEnv())
	assert.Equal(t, []string{"1/minute"}, l.Status().Limits, "FromEnv overrides options before it")
}

// TestFromEnvKeepsKeyFuncWhenKeyByIsBlank checks that a blank
// RATELIMIT_KEY_BY, which FromEnv takes as unset, leaves a WithKeyFunc given
// before it in place, and that a set one replaces it.
func TestFromEnvKeepsKeyFuncWhenKeyByIsBlank(t *testing.T) {
	one := ginlimit.WithKeyFunc(func(*gin.Context) string { return "everyone" })
	t.Setenv("RATELIMIT_DEFAULT", "1/minute")

	t.Setenv("RATELIMIT_KEY_BY", "  ")
	l, _ := newLimiter(t, one, ginlimit.FromEnv())
	r := newRouter(l)
	assert.Equal(t, http.StatusOK, serve(r, request{remoteAddr: "192.0.2.1:1"}).Code)
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{remoteAddr: "192.0.2.2:1"}).Code, "both counted under the key function's key")

	t.Setenv("RATELIMIT_KEY_BY", "ip")
	l, _ = newLimiter(t, one, ginlimit.FromEnv())
	r = newRouter(l)
	assert.Equal(t, http.StatusOK, serve(r, request{remoteAddr: "192.0.2.1:1"}).Code)
	assert.Equal(t, http.StatusOK, serve(r, request{remoteAddr: "192.0.2.2:1"}).Code, "counted by client IP")
}
