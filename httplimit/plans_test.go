package httplimit_test

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
)

// byPlanHeader chooses the plan a test request names in X-Plan. A real
// service reads it from the authenticated user, never from a header the
// client writes.
func byPlanHeader(r *http.Request) string { return r.Header.Get("X-Plan") }

// asPlan is a request of the client at addr on plan.
func asPlan(addr, plan string) request {
	return request{remoteAddr: addr, header: http.Header{"X-Plan": {plan}}}
}

// plansOptions are a free plan of 3 a minute, the Limiter's own, and a pro
// plan of 5 a minute and 100 a day.
func plansOptions(extra ...httplimit.Option) []httplimit.Option {
	return append([]httplimit.Option{
		httplimit.WithName("free"), httplimit.WithLimits("3/minute"), httplimit.WithStrategy(backend.FixedWindow),
		httplimit.WithPolicy("pro", "5/minute;100/day"),
		httplimit.WithPolicyFunc(byPlanHeader),
	}, extra...)
}

func TestPlansAreChosenPerRequest(t *testing.T) {
	l, _ := newLimiter(t, plansOptions(httplimit.WithHeaders(httplimit.HeadersBoth))...)
	h, _ := newServer(l)

	assert.Equal(t, []int{200, 200, 200, 429}, statuses(h, asPlan("192.0.2.1:1", "free"), 4), "free")
	assert.Equal(t, []int{200, 200, 200, 200, 200, 429}, statuses(h, asPlan("192.0.2.2:1", "pro"), 6), "pro")

	w := serve(h, asPlan("192.0.2.3:1", "free"))
	assert.Equal(t, "3", w.Header().Get("X-RateLimit-Limit"))
	assert.Equal(t, `"free";q=3;w=60`, w.Header().Get("RateLimit-Policy"), "the day the pro plan counts is not shown")
	assert.Equal(t, `"free";r=2;t=60`, w.Header().Get("RateLimit"))
	w = serve(h, asPlan("192.0.2.4:1", "pro"))
	assert.Equal(t, `"pro-minute";q=5;w=60, "pro-day";q=100;w=86400`, w.Header().Get("RateLimit-Policy"))

	d := l.Decide(t.Context(), l.Named("pro"), "192.0.2.4", 1)
	assert.Equal(t, "pro", d.Policy)
	assert.Equal(t, backend.Limit{Count: 5, Period: 60e9}, d.Limit)
	assert.Equal(t, int64(3), d.Remaining)
	assert.Same(t, l.Default(), l.Named("free"))
	assert.Same(t, l.Default(), l.Named(""))
	assert.Zero(t, l.Stats().UnknownPolicies)
}

// TestPlanChangeKeepsTheCount moves clients between plans: the units they
// used this minute stay used, in both directions.
func TestPlanChangeKeepsTheCount(t *testing.T) {
	l, clk := newLimiter(t, plansOptions(httplimit.WithHeaders(httplimit.HeadersIETF))...)
	h, _ := newServer(l)

	// Upgrade: 3 used of free's 3; pro allows 5 a minute, so 2 more.
	assert.Equal(t, repeat(200, 3), statuses(h, asPlan("192.0.2.1:1", "free"), 3))
	assert.Equal(t, []int{200, 200, 429}, statuses(h, asPlan("192.0.2.1:1", "pro"), 3), "upgraded")

	// Downgrade: 4 used of pro's 5; free allows 3.
	assert.Equal(t, repeat(200, 4), statuses(h, asPlan("192.0.2.2:1", "pro"), 4))
	assert.Equal(t, http.StatusTooManyRequests, serve(h, asPlan("192.0.2.2:1", "free")).Code, "downgraded")

	// The day counts on free too: a minute later, the first client's day
	// has 6 used (3 as free, 2 as pro, and this one), and its new minute 1.
	clk.Advance(61e9)
	w := serve(h, asPlan("192.0.2.1:1", "pro"))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `"pro-minute";r=4;t=60, "pro-day";r=94;t=86339`, w.Header().Get("RateLimit"))
}

func TestUnknownPlanIsCountedByTheOwnPolicy(t *testing.T) {
	l, _ := newLimiter(t, plansOptions()...)
	h, _ := newServer(l)
	assert.Equal(t, []int{200, 200, 200, 429}, statuses(h, asPlan("192.0.2.1:1", "gold"), 4))
	assert.Equal(t, uint64(4), l.Stats().UnknownPolicies)
	assert.Equal(t, http.StatusTooManyRequests, serve(h, asPlan("192.0.2.1:1", "")).Code, "the same count as free")
	assert.Equal(t, uint64(4), l.Stats().UnknownPolicies, "an empty name is not unknown")
}

func TestLimitsFuncOverridesThePlan(t *testing.T) {
	var logs syncBuffer
	tenants := map[string]string{"192.0.2.1": "10/minute", "192.0.2.2": "not limits", "192.0.2.3": "2/second"}
	l, _ := newLimiter(t, plansOptions(
		httplimit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		httplimit.WithHeaders(httplimit.HeadersIETF),
		httplimit.WithLimitsFunc(func(r *http.Request) string {
			ip, _, _ := strings.Cut(r.RemoteAddr, ":")
			return tenants[ip]
		}),
	)...)
	h, _ := newServer(l)

	codes := statuses(h, asPlan("192.0.2.1:1", "free"), 11)
	assert.Equal(t, append(repeat(200, 10), 429), codes, "the tenant's 10/minute")
	w := serve(h, asPlan("192.0.2.1:1", "pro"))
	assert.Equal(t, `"pro";q=10;w=60`, w.Header().Get("RateLimit-Policy"), "named after its plan, with its own limits")
	delete(tenants, "192.0.2.1")
	assert.Equal(t, http.StatusTooManyRequests, serve(h, asPlan("192.0.2.1:1", "free")).Code,
		"without the override, the 10 used this minute still count against free's 3")

	assert.Equal(t, []int{200, 200, 200, 429}, statuses(h, asPlan("192.0.2.2:1", "free"), 4), "invalid limits: free's own")
	assert.Equal(t, uint64(4), l.Stats().InvalidLimits)
	assert.Equal(t, 1, strings.Count(logs.String(), "per-request limits are invalid"), "logged once: %s", logs.String())
	assert.Contains(t, logs.String(), `limits="not limits"`)

	// Limits of a period the plans lack count apart from the plans.
	assert.Equal(t, []int{200, 200, 429}, statuses(h, asPlan("192.0.2.3:1", "free"), 3), "2/second")
	w = serve(h, asPlan("192.0.2.3:1", "free"))
	assert.Equal(t, `"free";q=2;w=1`, w.Header().Get("RateLimit-Policy"))
}

func TestPlansAreCheckedAtConstruction(t *testing.T) {
	tests := []struct {
		name string
		opts []httplimit.Option
		want string
	}{
		{"bad name", []httplimit.Option{httplimit.WithPolicy("a b", "1/minute")},
			`WithPolicy("a b", "1/minute"): invalid option`},
		{"bad limits", []httplimit.Option{httplimit.WithPolicy("pro", "5/minit")},
			`WithPolicy("pro", "5/minit"): invalid option: invalid limit: "5/minit": unknown unit "minit"`},
		{"route option", []httplimit.Option{httplimit.WithPolicy("pro", "5/minute", httplimit.WithName("x"))},
			`option 0 (WithName) cannot be given to a policy`},
		{"own name", []httplimit.Option{httplimit.WithPolicy("default", "5/minute")},
			`WithPolicy("default", "5/minute"): invalid option: "default" is the Limiter's own policy`},
		{"nil func", []httplimit.Option{httplimit.WithPolicyFunc(nil)}, `WithPolicyFunc(nil): invalid option`},
		{"nil limits func", []httplimit.Option{httplimit.WithLimitsFunc(nil)}, `WithLimitsFunc(nil): invalid option`},
		{"too many periods", []httplimit.Option{
			httplimit.WithLimits("1/second;1/2 seconds;1/3 seconds;1/4 seconds;1/5 seconds"),
			httplimit.WithPolicy("pro", "1/6 seconds;1/7 seconds;1/8 seconds;1/9 seconds"),
		}, `the plans of the sliding-window have 9 periods between them, at most 8 are allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := httplimit.New(append(tt.opts, httplimit.WithLogger(discardLogger()))...)
			require.Error(t, err)
			assert.True(t, errors.Is(err, httplimit.ErrInvalidOption), "%v", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPoliciesFromEnv(t *testing.T) {
	t.Setenv(httplimit.EnvDefault, "3/minute")
	t.Setenv(httplimit.EnvPolicies, " pro = 5/minute, 100/day ; team=50/minute")
	l, _ := newLimiter(t, httplimit.FromEnv(), httplimit.WithPolicyFunc(byPlanHeader))
	h, _ := newServer(l)
	assert.Equal(t, []int{200, 200, 200, 200, 200, 429}, statuses(h, asPlan("192.0.2.1:1", "pro"), 6))
	d := l.Decide(t.Context(), l.Named("team"), "192.0.2.9", 1)
	assert.Equal(t, backend.Limit{Count: 50, Period: 60e9}, d.Limit)

	for value, want := range map[string]string{
		"pro":                       `RATELIMIT_POLICIES="pro": invalid option: entry "pro" is not name=limits`,
		"pro=5/minit":               `policy "pro": invalid limit: "5/minit": unknown unit "minit"`,
		"pro=5/minute;;b=1/minute":  `an entry is empty`,
		"a b=5/minute":              `policy "a b"`,
		"pro=1/minute;pro=2/minute": `policy "pro" is declared twice`,
		"default=5/minute":          `RATELIMIT_POLICIES="default=5/minute": invalid option: "default" is the Limiter's own policy`,
	} {
		t.Setenv(httplimit.EnvPolicies, value)
		_, err := httplimit.New(httplimit.FromEnv(), httplimit.WithLogger(discardLogger()))
		require.Error(t, err, value)
		assert.Contains(t, err.Error(), want, value)
	}
}
