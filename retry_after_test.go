package ginlimit_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// denialCases are the limits and costs the Retry-After tests deny: at each
// point in time, requests of each cost in turn are sent until one is denied,
// so a cost below the count is denied once the key is exhausted, and a cost
// above some limit's count at once.
var denialCases = []struct {
	name   string
	limits string
	costs  []int64
}{
	{name: "one limit", limits: "2/minute", costs: []int64{1}},
	{name: "one limit, cost above it", limits: "2/minute", costs: []int64{3}},
	{name: "one limit, exhausted then cost above it", limits: "2/minute", costs: []int64{1, 3}},
	{name: "two limits", limits: "3/second;5/minute", costs: []int64{1}},
	{name: "two limits, cost of two", limits: "3/second;5/minute", costs: []int64{2}},
	{name: "two limits, cost above one", limits: "3/second;5/minute", costs: []int64{4}},
	{name: "two limits, cost above both", limits: "3/second;5/minute", costs: []int64{6}},
	{name: "two limits, exhausted then cost above one", limits: "3/second;5/minute", costs: []int64{1, 4}},
}

// denialSteps are the clock's advances between rounds of denials: into the
// minute t0 starts 7s into, past a second, and across minute boundaries.
var denialSteps = []time.Duration{0, 250 * time.Millisecond, 1500 * time.Millisecond,
	20*time.Second + 700*time.Millisecond, 37*time.Second + 550*time.Millisecond, 59*time.Second + 999*time.Millisecond}

var allHeaderModes = []ginlimit.Headers{ginlimit.HeadersLegacy, ginlimit.HeadersIETF, ginlimit.HeadersBoth, ginlimit.HeadersNone}

var allStrategies = []ginlimit.Strategy{ginlimit.SlidingWindow, ginlimit.FixedWindow, ginlimit.TokenBucket}

// TestDeniedResetIsRetryAfter checks, for every strategy and header mode, that
// a denied response tells one time to come back: each limit that denied the
// request (fewer remaining than the cost, or a cost above its count) has
// its IETF t equal to Retry-After, and the legacy X-RateLimit-Reset, which
// describes such a limit, is the end of Retry-After in epoch seconds
// rounded up; a limit with room keeps its own reset. The decisions are
// replayed on a second memory backend on the same clock, whose Results give
// what every header must say.
func TestDeniedResetIsRetryAfter(t *testing.T) {
	for _, strategy := range allStrategies {
		for _, mode := range allHeaderModes {
			for _, tt := range denialCases {
				t.Run(strategy.String()+"/"+mode.String()+"/"+tt.name, func(t *testing.T) {
					l, clk := newLimiter(t, ginlimit.WithStrategy(strategy),
						ginlimit.WithLimits(tt.limits), ginlimit.WithHeaders(mode), costHeader())
					checkDenials(t, newRouter(l), clk, strategy, mode, tt.limits, tt.costs)
				})
			}
		}
	}
}

// TestRedisDeniedResetIsRetryAfter is TestDeniedResetIsRetryAfter against
// Redis, in the mode that sets every header: the headers are the
// middleware's whatever the backend, but a Redis decision, or a denial
// answered from a watch, is another Result to write them from.
func TestRedisDeniedResetIsRetryAfter(t *testing.T) {
	srv := redistest.Start(t)
	for _, strategy := range allStrategies {
		for i, tt := range denialCases {
			t.Run(strategy.String()+"/"+tt.name, func(t *testing.T) {
				clk := newClock()
				l := redisLimiter(t, srv.URL(), true, ginlimit.WithClock(clk.Now), ginlimit.WithStrategy(strategy),
					ginlimit.WithLimits(tt.limits), ginlimit.WithHeaders(ginlimit.HeadersBoth), costHeader(),
					ginlimit.WithKeyPrefix("retry"+strconv.Itoa(i)))
				checkDenials(t, newRouter(l), clk, strategy, ginlimit.HeadersBoth, tt.limits, tt.costs)
				assert.Zero(t, l.Stats().Fallback, "decided in Redis")
			})
		}
	}
}

// costHeader makes a request cost what its X-Cost header says.
func costHeader() ginlimit.Option {
	return ginlimit.WithCost(func(c *gin.Context) int {
		n, _ := strconv.Atoi(c.GetHeader("X-Cost"))
		return n
	})
}

// checkDenials advances clk by denialSteps and, at each point, sends requests
// of each cost in turn until one is denied, replaying every request on a
// memory backend to know the Result the denial was written from.
func checkDenials(t *testing.T, r http.Handler, clk *clock, strategy ginlimit.Strategy, mode ginlimit.Headers, limits string, costs []int64) {
	t.Helper()
	parsed, err := backend.ParseLimits(limits)
	require.NoError(t, err)
	p := backend.Policy{Strategy: strategy, Limits: parsed}
	oracle, err := memory.New(memory.WithClock(clk.Now))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, oracle.Close()) })

	for _, step := range denialSteps {
		clk.Advance(step)
		for _, cost := range costs {
			req := request{header: http.Header{"X-Cost": {strconv.FormatInt(cost, 10)}}}
			for n := 0; ; n++ {
				require.Less(t, n, 20, "a request of cost %d is denied at %v", cost, clk.Now())
				want, err := oracle.Allow(context.Background(), "k", p, cost)
				require.NoError(t, err)
				w := serve(r, req)
				if w.Code == http.StatusOK {
					require.True(t, want.Allowed, "admitted at %v, cost %d", clk.Now(), cost)
					continue
				}
				require.Equal(t, http.StatusTooManyRequests, w.Code)
				require.False(t, want.Allowed, "denied at %v, cost %d", clk.Now(), cost)
				checkDenial(t, w.Header(), mode, parsed, cost, want)
				break
			}
		}
	}
}

// checkDenial checks the headers of a denial of cost made from want.
func checkDenial(t *testing.T, h http.Header, mode ginlimit.Headers, limits []backend.Limit, cost int64, want backend.Result) {
	t.Helper()
	at := want.Now.Format("15:04:05.000")
	retryAfter, err := strconv.ParseInt(h.Get("Retry-After"), 10, 64)
	require.NoError(t, err, "at %s", at)
	require.Equal(t, max(ceilSeconds(want.RetryAfter), 1), retryAfter, "Retry-After at %s", at)

	denied := func(i int) bool { return want.States[i].Remaining < cost }
	if mode == ginlimit.HeadersIETF || mode == ginlimit.HeadersBoth {
		items := parseRateLimit(t, h.Get("RateLimit"))
		require.Len(t, items, len(limits), "at %s", at)
		for i, item := range items {
			assert.Equal(t, want.States[i].Remaining, item.r, "r of %v at %s", limits[i], at)
			wantT := ceilSeconds(want.States[i].Reset)
			if denied(i) {
				wantT = retryAfter
			}
			assert.Equal(t, wantT, item.t, "t of %v (denied: %v) at %s, Retry-After %d", limits[i], denied(i), at, retryAfter)
		}
	}
	if mode == ginlimit.HeadersLegacy || mode == ginlimit.HeadersBoth {
		i := tightestLimit(want, len(limits))
		require.True(t, denied(i), "the legacy headers describe a limit that denied, at %s", at)
		assert.Equal(t, itoa(limits[i].Count), h.Get("X-RateLimit-Limit"), "at %s", at)
		assert.Equal(t, itoa(want.States[i].Remaining), h.Get("X-RateLimit-Remaining"), "at %s", at)
		retryAt := want.Now.Add(time.Duration(retryAfter) * time.Second)
		assert.Equal(t, itoa(ceilEpoch(retryAt)), h.Get("X-RateLimit-Reset"), "X-RateLimit-Reset at %s, Retry-After %d", at, retryAfter)
	}
	if mode == ginlimit.HeadersNone {
		assert.Equal(t, map[string]string{"Retry-After": h.Get("Retry-After")}, rateLimitHeaders(h), "at %s", at)
	}
}

type rateLimitItem struct{ r, t int64 }

var rateLimitItemRE = regexp.MustCompile(`^"[^"]*";r=(\d+);t=(\d+)$`)

// parseRateLimit reads the RateLimit header's items.
func parseRateLimit(t *testing.T, v string) []rateLimitItem {
	t.Helper()
	var items []rateLimitItem
	for item := range strings.SplitSeq(v, ", ") {
		m := rateLimitItemRE.FindStringSubmatch(item)
		require.NotNil(t, m, "RateLimit item %q", item)
		r, _ := strconv.ParseInt(m[1], 10, 64)
		tt, _ := strconv.ParseInt(m[2], 10, 64)
		items = append(items, rateLimitItem{r: r, t: tt})
	}
	return items
}

// tightestLimit is the limit the legacy headers describe: the fewest
// remaining, and of those the longest until reset.
func tightestLimit(res backend.Result, n int) int {
	best := 0
	for i := 1; i < n; i++ {
		a, b := res.States[i], res.States[best]
		if a.Remaining < b.Remaining || a.Remaining == b.Remaining && a.Reset > b.Reset {
			best = i
		}
	}
	return best
}

func ceilSeconds(d time.Duration) int64 {
	return int64((max(d, 0) + time.Second - 1) / time.Second)
}

// ceilEpoch returns t in Unix seconds, rounded up.
func ceilEpoch(t time.Time) int64 {
	return (t.UnixNano() + int64(time.Second) - 1) / int64(time.Second)
}
