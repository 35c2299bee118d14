package ginlimit_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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

func TestFromEnvErrors(t *testing.T) {
	tests := []struct {
		name, value string
		want        string
	}{
		{name: "RATELIMIT_ENABLED", value: "yes please", want: `ginlimit: RATELIMIT_ENABLED="yes please": invalid option: want true or false`},
		{name: "RATELIMIT_DEFAULT", value: "100/fortnight", want: `ginlimit: RATELIMIT_DEFAULT="100/fortnight": invalid option: invalid limit: "100/fortnight": unknown unit "fortnight"`},
		{name: "RATELIMIT_STRATEGY", value: "leaky-bucket", want: `ginlimit: RATELIMIT_STRATEGY="leaky-bucket": invalid option: invalid policy: unknown strategy "leaky-bucket"`},
		{name: "RATELIMIT_KEY_PREFIX", value: "my prefix", want: `ginlimit: RATELIMIT_KEY_PREFIX="my prefix": invalid option: character ' ' is not allowed`},
		{name: "RATELIMIT_KEY_BY", value: "cookie", want: `ginlimit: RATELIMIT_KEY_BY="cookie": invalid option: want ip, header:<Name> or xff:<N>`},
		{name: "RATELIMIT_KEY_BY", value: "ip:4", want: `ip takes no argument`},
		{name: "RATELIMIT_KEY_BY", value: "header:", want: `the header name is empty`},
		{name: "RATELIMIT_KEY_BY", value: "xff:0", want: `xff:<N> wants N from 1 to 64`},
		{name: "RATELIMIT_KEY_BY", value: "xff:two", want: `xff:<N> wants N from 1 to 64`},
		{name: "RATELIMIT_HEADERS", value: "draft", want: `ginlimit: RATELIMIT_HEADERS="draft": invalid option: unknown header mode "draft" (want legacy, ietf, both, none)`},
		{name: "RATELIMIT_MEMORY_MAX_KEYS", value: "-5", want: `ginlimit: RATELIMIT_MEMORY_MAX_KEYS="-5": invalid option: want a whole number of at least 1`},
		{name: "RATELIMIT_MEMORY_MAX_KEYS", value: "1e6", want: `want a whole number of at least 1`},
		{name: "REDIS_URL", value: "http://user:hunter22@host:6379", want: `ginlimit: REDIS_URL="http://user:xxxxx@host:6379": invalid option:`},
		{name: "REDIS_URL", value: "redis://user:hunter22@host:port", want: `ginlimit: REDIS_URL="<unparsable redis:// URL>": invalid option: invalid URL: invalid port after host`},
		{name: "RATELIMIT_REDIS_TIMEOUT", value: "100", want: `ginlimit: RATELIMIT_REDIS_TIMEOUT="100": invalid option: want a Go duration from 1ms to 10s, such as 100ms`},
		{name: "RATELIMIT_REDIS_TIMEOUT", value: "1h", want: `want a Go duration from 1ms to 10s`},
		{name: "RATELIMIT_FAILURE_MODE", value: "panic", want: `ginlimit: RATELIMIT_FAILURE_MODE="panic": invalid option: unknown failure mode "panic" (want memory, open or closed)`},
		{name: "RATELIMIT_FALLBACK_LIMITS", value: "ten/minute", want: `ginlimit: RATELIMIT_FALLBACK_LIMITS="ten/minute": invalid option: invalid limit`},
		{name: "RATELIMIT_CLIENT_CACHE", value: "on", want: `ginlimit: RATELIMIT_CLIENT_CACHE="on": invalid option: want auto or off`},
		{name: "RATELIMIT_REDIS_CA_FILE", value: "/etc/ca.pem", want: `ginlimit: WithRedisCAFile: invalid option: no Redis URL is configured`},
		{name: "RATELIMIT_STRATEGIE", value: "fixed-window", want: `ginlimit: RATELIMIT_STRATEGIE: invalid option: unknown variable (known: RATELIMIT_ENABLED, RATELIMIT_DEFAULT`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.name, tt.value)
			_, err := ginlimit.NewLimiter(ginlimit.FromEnv())
			require.ErrorIs(t, err, ginlimit.ErrInvalidOption)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter22")
			assert.PanicsWithError(t, err.Error(), func() { ginlimit.New(ginlimit.FromEnv()) })
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
