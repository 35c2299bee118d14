package httplimit_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
)

// TestDecide checks the Decisions of successive requests of one key, on a
// clock that stands still.
func TestDecide(t *testing.T) {
	minute := backend.Limit{Count: 2, Period: time.Minute}
	tests := []struct {
		name     string
		strategy backend.Strategy
		want     []decision
	}{
		{
			name:     "fixed window",
			strategy: backend.FixedWindow,
			want: []decision{
				{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 1, Reset: time.Minute},
				{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 0, Reset: time.Minute},
				{Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 0, Reset: time.Minute, RetryAfter: time.Minute},
			},
		},
		{
			// t0 is 7s into the minute: the window ends in 53s, and the third
			// request fits when 2*(1-e/60)+1 <= 2, e=30s into the next one.
			name:     "sliding window",
			strategy: backend.SlidingWindow,
			want: []decision{
				{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 1, Reset: 53 * time.Second},
				{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 0, Reset: 53 * time.Second},
				{Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 0, Reset: 53 * time.Second, RetryAfter: 83 * time.Second},
			},
		},
		{
			// A token every 30s: Reset is when the bucket is full again, 30s
			// per missing token.
			name:     "token bucket",
			strategy: backend.TokenBucket,
			want: []decision{
				{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 1, Reset: 30 * time.Second},
				{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 0, Reset: time.Minute},
				{Source: httplimit.SourceMemory, Policy: "default", Key: "k", Limit: minute, Remaining: 0, Reset: time.Minute, RetryAfter: 30 * time.Second},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, httplimit.WithLimits("2/minute"), httplimit.WithStrategy(tt.strategy))
			var got []decision
			for range tt.want {
				got = append(got, fieldsOf(l.Decide(t.Context(), l.Default(), "k", 1)))
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, httplimit.Stats{Allowed: 2, Denied: 1, Keys: 1}, l.Stats())
		})
	}
}

func TestDecideTightestLimit(t *testing.T) {
	l, clk := newLimiter(t, httplimit.WithLimits("2/second;3/minute"), httplimit.WithStrategy(backend.FixedWindow))
	d := l.Decide(t.Context(), l.Default(), "k", 1)
	assert.Equal(t, backend.Limit{Count: 2, Period: time.Second}, d.Limit, "1 left of 2/second, 2 of 3/minute")
	assert.Equal(t, int64(1), d.Remaining)
	d = l.Decide(t.Context(), l.Default(), "k", 1)
	assert.Equal(t, backend.Limit{Count: 2, Period: time.Second}, d.Limit, "0 left of each: the one that resets last")
	clk.Advance(time.Second)
	d = l.Decide(t.Context(), l.Default(), "k", 1)
	assert.Equal(t, decision{Allowed: true, Source: httplimit.SourceMemory, Policy: "default", Key: "k",
		Limit: backend.Limit{Count: 3, Period: time.Minute}, Remaining: 0, Reset: 59 * time.Second}, fieldsOf(d))
	d = l.Decide(t.Context(), l.Default(), "k", 1)
	assert.False(t, d.Allowed)
	assert.Equal(t, 59*time.Second, d.RetryAfter)
}

func TestDecideKeys(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		wantKey string
		wantLen int
	}{
		{name: "as given", give: "user-1", wantKey: "user-1", wantLen: 6},
		{name: "empty is unknown", give: "", wantKey: "unknown", wantLen: 7},
		{name: "128 bytes kept", give: strings.Repeat("k", 128), wantKey: strings.Repeat("k", 128), wantLen: 128},
		{name: "longer hashed", give: strings.Repeat("k", 129), wantKey: "sha256:", wantLen: len("sha256:") + 32},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t)
			d := l.Decide(t.Context(), l.Default(), tt.give, 1)
			assert.True(t, d.Allowed)
			assert.True(t, strings.HasPrefix(d.Key, tt.wantKey), "got %q, want %q", d.Key, tt.wantKey)
			assert.Len(t, d.Key, tt.wantLen)
		})
	}
}

func TestDecideEmptyKeySharesUnknownCount(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("1/minute"))
	assert.True(t, l.Decide(t.Context(), l.Default(), "", 1).Allowed)
	assert.False(t, l.Decide(t.Context(), l.Default(), "unknown", 1).Allowed, "an empty key is counted as unknown")
}

func TestDecideCost(t *testing.T) {
	tests := []struct {
		name          string
		give          []int64 // costs, in order
		wantAllowed   []bool
		wantRemaining []int64
	}{
		{name: "cost 0 consumes nothing", give: []int64{0, 0, 1}, wantAllowed: []bool{true, true, true}, wantRemaining: []int64{3, 3, 2}},
		{name: "cost 0 is admitted over the limit", give: []int64{3, 1, 0}, wantAllowed: []bool{true, false, true}, wantRemaining: []int64{0, 0, 0}},
		{name: "negative cost counts as 0", give: []int64{3, -2}, wantAllowed: []bool{true, true}, wantRemaining: []int64{0, 0}},
		{name: "a denial consumes nothing", give: []int64{2, 2, 1}, wantAllowed: []bool{true, false, true}, wantRemaining: []int64{1, 1, 0}},
		{name: "more than the limit is always denied", give: []int64{4}, wantAllowed: []bool{false}, wantRemaining: []int64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, httplimit.WithLimits("3/minute"), httplimit.WithStrategy(backend.FixedWindow))
			var allowed []bool
			var remaining []int64
			for _, cost := range tt.give {
				d := l.Decide(t.Context(), l.Default(), "k", cost)
				allowed, remaining = append(allowed, d.Allowed), append(remaining, d.Remaining)
			}
			assert.Equal(t, tt.wantAllowed, allowed)
			assert.Equal(t, tt.wantRemaining, remaining)
		})
	}
}

func TestPolicyForRoute(t *testing.T) {
	l, _ := newLimiter(t, httplimit.WithLimits("100/minute"))
	p, err := l.Policy("1/minute")
	require.NoError(t, err)
	named, err := l.Policy("1/minute", httplimit.WithName("auth"))
	require.NoError(t, err)

	tests := []struct {
		name string
		give *httplimit.Policy
		want string
	}{
		{name: "default", give: l.Default().ForRoute("GET /"), want: "default"},
		{name: "pattern", give: p.ForRoute("/login"), want: "/login"},
		{name: "method and pattern", give: p.ForRoute("POST /items/{id}"), want: "POST_/items/_id_"},
		{name: "no route", give: p.ForRoute(""), want: "*"},
		{name: "named", give: named.ForRoute("/login"), want: "auth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, l.Decide(t.Context(), tt.give, "k", 1).Policy)
		})
	}

	assert.Same(t, p.ForRoute("/login"), p.ForRoute("/login"), "one policy per route")
	assert.Same(t, named, named.ForRoute("/login"), "a named policy is its own ForRoute")
	assert.Same(t, l.Default(), l.Default().ForRoute("/login"))
	assert.False(t, l.Decide(t.Context(), p.ForRoute("/login"), "k", 1).Allowed, "the route's own count")
	assert.True(t, l.Decide(t.Context(), p.ForRoute("/signup"), "k", 1).Allowed, "another route counts apart")
}

func TestPolicyErrors(t *testing.T) {
	l, _ := newLimiter(t)
	tests := []struct {
		name string
		give func() (*httplimit.Policy, error)
		want string
	}{
		{
			name: "bad limits",
			give: func() (*httplimit.Policy, error) { return l.Policy("ten/minute") },
			want: `ginlimit: WithLimits("ten/minute"): invalid option: invalid limit`,
		},
		{
			name: "whole-Limiter option",
			give: func() (*httplimit.Policy, error) {
				return l.Policy("1/minute", httplimit.WithRedisURL("redis://127.0.0.1:6379"))
			},
			want: `invalid option: WithRedisURL applies to the whole Limiter, not to a route`,
		},
		{
			name: "bad route option",
			give: func() (*httplimit.Policy, error) { return l.Policy("1/minute", httplimit.WithName("a b")) },
			want: `ginlimit: WithName("a b"): invalid option: character ' ' is not allowed`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.give()
			assert.Nil(t, p)
			require.ErrorIs(t, err, httplimit.ErrInvalidOption)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPolicyKey(t *testing.T) {
	l, _ := newLimiter(t)
	byHeader, err := l.Policy("1/minute", httplimit.KeyByHeader("X-API-Key"))
	require.NoError(t, err)
	byXFF, err := l.Policy("1/minute", httplimit.KeyByForwardedFor(1))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-API-Key", "alpha")
	r.Header.Set("X-Forwarded-For", "2001:db8:1:2::7")

	assert.Empty(t, l.Default().Key(r), "by client IP: the adapter's to give")
	assert.Equal(t, "h:alpha", byHeader.Key(r))
	assert.Equal(t, "2001:db8:1:2::/64", byXFF.Key(r))
}

func TestIPKey(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: "203.0.113.7", want: "203.0.113.7"},
		{give: "2001:db8:1:2:3:4:5:6", want: "2001:db8:1:2::/64"},
		{give: "::ffff:203.0.113.7", want: "203.0.113.7"},
		{give: "h:victim", want: "raw:h:victim"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, httplimit.IPKey(tt.give))
		})
	}
}

func TestDecisionWriteHeaders(t *testing.T) {
	reset := strconv.FormatInt(t0.Add(time.Minute).Unix(), 10)
	tests := []struct {
		name    string
		headers httplimit.Headers
		cost    int64 // of the second request, after one of cost 1
		want    map[string]string
	}{
		{
			name:    "legacy admitted",
			headers: httplimit.HeadersLegacy,
			cost:    1,
			want:    map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
		},
		{
			name:    "ietf admitted",
			headers: httplimit.HeadersIETF,
			cost:    1,
			want:    map[string]string{"RateLimit-Policy": `"default";q=2;w=60`, "RateLimit": `"default";r=0;t=60`},
		},
		{
			name:    "legacy denied",
			headers: httplimit.HeadersLegacy,
			cost:    2,
			want:    map[string]string{"X-RateLimit-Limit": "2", "X-RateLimit-Remaining": "1", "X-RateLimit-Reset": reset, "Retry-After": "60"},
		},
		{
			name:    "none denied",
			headers: httplimit.HeadersNone,
			cost:    2,
			want:    map[string]string{"Retry-After": "60"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, httplimit.WithLimits("2/minute"), httplimit.WithStrategy(backend.FixedWindow), httplimit.WithHeaders(tt.headers))
			l.Decide(t.Context(), l.Default(), "k", 1)
			d := l.Decide(t.Context(), l.Default(), "k", tt.cost)
			h := http.Header{}
			d.WriteHeaders(h)
			assert.Equal(t, tt.want, rateLimitHeaders(h))
		})
	}
}

func TestDecisionWriteDenial(t *testing.T) {
	t.Run("denied", func(t *testing.T) {
		l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithStrategy(backend.FixedWindow))
		l.Decide(t.Context(), l.Default(), "k", 1)
		d := l.Decide(t.Context(), l.Default(), "k", 1)
		w := httptest.NewRecorder()
		d.WriteHeaders(w.Header())
		d.WriteDenial(w)
		assert.Equal(t, http.StatusTooManyRequests, w.Code)
		assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
		assert.Equal(t, "60", w.Header().Get("Retry-After"))
		assert.Equal(t, `{"error":"rate limit exceeded","retry_after":60}`, w.Body.String())
	})

	t.Run("unavailable", func(t *testing.T) {
		b := &recordingBackend{err: errors.New("down")}
		l, _ := newLimiter(t, httplimit.WithBackend(b), httplimit.WithFailureMode(httplimit.FailClosed))
		d := l.Decide(t.Context(), l.Default(), "k", 1)
		require.Equal(t, httplimit.SourceClosed, d.Source)
		assert.False(t, d.Allowed)
		assert.GreaterOrEqual(t, d.RetryAfter, time.Second, "at least a second")
		w := httptest.NewRecorder()
		d.WriteHeaders(w.Header())
		d.WriteDenial(w)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, map[string]string{"Retry-After": "1"}, rateLimitHeaders(w.Header()),
			"the breaker's first probe is due within a second")
		assert.Equal(t, `{"error":"rate limiter unavailable","retry_after":1}`, w.Body.String())
	})
}

func TestDecideUndecided(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		l, _ := newLimiter(t, httplimit.WithLimits("1/minute"), httplimit.WithEnabled(false))
		for range 2 {
			d := l.Decide(t.Context(), l.Default(), "k", 1)
			assert.Equal(t, decision{Allowed: true, Source: httplimit.SourceOpen, Policy: "default", Key: "k"}, fieldsOf(d))
			h := http.Header{}
			d.WriteHeaders(h)
			assert.Empty(t, h)
		}
		assert.Equal(t, httplimit.Stats{}, l.Stats(), "a disabled Limiter counts nothing")
	})

	t.Run("closed", func(t *testing.T) {
		l, err := httplimit.New(httplimit.WithLimits("1/minute"), httplimit.WithLogger(discardLogger()))
		require.NoError(t, err)
		require.NoError(t, l.Close())
		for range 2 {
			d := l.Decide(t.Context(), l.Default(), "k", 1)
			assert.Equal(t, decision{Allowed: true, Source: httplimit.SourceOpen, Policy: "default", Key: "k"}, fieldsOf(d))
		}
		assert.Equal(t, httplimit.Stats{Allowed: 2, Errors: 2}, l.Stats())
	})
}

func TestCountSkipped(t *testing.T) {
	l, _ := newLimiter(t)
	l.CountSkipped()
	l.CountSkipped()
	assert.Equal(t, httplimit.Stats{Skipped: 2}, l.Stats())
}

func TestSourceString(t *testing.T) {
	tests := []struct {
		give httplimit.Source
		want string
	}{
		{give: httplimit.SourceShared, want: "shared"},
		{give: httplimit.SourceMemory, want: "memory"},
		{give: httplimit.SourceFallback, want: "fallback"},
		{give: httplimit.SourceOpen, want: "open"},
		{give: httplimit.SourceClosed, want: "closed"},
		{give: 9, want: "Source(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.give.String())
			text, err := tt.give.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(text))
		})
	}
}
