package ginlimit_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/httplimit"
)

// planRouter serves GET / behind an authentication stand-in that sets the
// plan and tenant limits the request's headers name, and then l.
func planRouter(l *ginlimit.Limiter) *gin.Engine {
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Set("plan", c.GetHeader("X-Plan"))
		c.Set("limits", c.GetHeader("X-Limits"))
	}, l.Middleware())
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	return r
}

func onPlan(plan string) request {
	return request{header: http.Header{"X-Plan": {plan}}}
}

func TestPlansThroughGin(t *testing.T) {
	l, _ := newLimiter(t,
		ginlimit.WithName("free"), ginlimit.WithLimits("3/minute"), ginlimit.WithStrategy(ginlimit.FixedWindow),
		ginlimit.WithPolicy("pro", "5/minute;100/day", ginlimit.WithHeaders(ginlimit.HeadersIETF)),
		ginlimit.WithPolicyFunc(func(c *gin.Context) string { return c.GetString("plan") }),
		ginlimit.WithLimitsFunc(func(c *gin.Context) string { return c.GetString("limits") }),
	)
	r := planRouter(l)

	assert.Equal(t, []int{200, 200, 200, 429}, statuses(r, onPlan("free"), 4))
	w := serve(r, onPlan("pro"))
	assert.Equal(t, http.StatusOK, w.Code, "upgraded: 4 of pro's 5")
	assert.Equal(t, `"pro-minute";q=5;w=60, "pro-day";q=100;w=86400`, w.Header().Get("RateLimit-Policy"), "pro's own headers")
	assert.Equal(t, []int{200, 429}, statuses(r, onPlan("pro"), 2))

	tenant := request{header: http.Header{"X-Plan": {"pro"}, "X-Limits": {"7/minute"}}}
	assert.Equal(t, []int{200, 200, 429}, statuses(r, tenant, 3), "the tenant's 7/minute, 5 used")
	assert.Equal(t, http.StatusTooManyRequests, serve(r, onPlan("gold")).Code)
	st := l.Stats()
	assert.Equal(t, uint64(1), st.UnknownPolicies)
	assert.Zero(t, st.InvalidLimits)
}

func TestPolicyRefusesGinOptions(t *testing.T) {
	_, err := ginlimit.NewLimiter(ginlimit.WithPolicy("pro", "5/minute", ginlimit.WithKeyFunc(func(*gin.Context) string { return "" })),
		ginlimit.WithLogger(discardLogger()))
	require.ErrorIs(t, err, ginlimit.ErrInvalidOption)
	assert.Contains(t, err.Error(), `ginlimit: WithPolicy("pro", "5/minute"): invalid option: option 0 (WithKeyFunc) cannot be given to a policy`)
	for _, o := range []ginlimit.Option{ginlimit.WithPolicyFunc(nil), ginlimit.WithLimitsFunc(nil)} {
		_, err := ginlimit.NewLimiter(o)
		require.ErrorIs(t, err, ginlimit.ErrInvalidOption)
	}
}

func TestControlThroughGin(t *testing.T) {
	var exceeded []ginlimit.Exceeded
	l, clk := newLimiter(t, ginlimit.WithLimits("2/second"), ginlimit.WithPenalty(time.Minute),
		ginlimit.WithExceededHandler(func(c *gin.Context, e ginlimit.Exceeded) {
			exceeded = append(exceeded, e)
			c.Status(http.StatusTooManyRequests)
		}))
	r := newRouter(l)
	admin := r.Group("/admin/ratelimit")
	ginlimit.RegisterAdmin(admin, l)
	r.GET("/login", l.Limit("2/minute", ginlimit.KeyByHeader("X-User"), ginlimit.WithCountIf(func(c *gin.Context) bool { return c.Writer.Status() >= 400 })),
		func(c *gin.Context) {
			if c.Query("password") != "right" {
				c.Status(http.StatusUnauthorized)
			}
		})

	assert.Equal(t, []int{200, 200, 429}, statuses(r, request{}, 3))
	require.Len(t, exceeded, 1)
	assert.True(t, exceeded[0].Blocked, "the penalty")
	clk.Advance(2 * time.Second)
	assert.Equal(t, http.StatusTooManyRequests, serve(r, request{}).Code, "still blocked")

	// The admin routes are never limited, though the client is blocked.
	for range 3 {
		w := serve(r, request{method: http.MethodPost, path: "/admin/ratelimit/unblock?key=192.0.2.1"})
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
	}
	assert.Equal(t, http.StatusOK, serve(r, request{}).Code, "unblocked")

	// Only failed logins count: successes pass however many. Each request
	// comes from a client of its own, for the Limiter's 2/second, and the
	// route counts them under one key.
	for i := range 5 {
		right := request{path: "/login?password=right", remoteAddr: fmt.Sprintf("198.51.100.%d:1", i), header: http.Header{"X-User": {"u"}}}
		assert.Equal(t, http.StatusOK, serve(r, right).Code)
	}
	for i := range 2 {
		assert.Equal(t, http.StatusUnauthorized, serve(r, request{path: "/login", remoteAddr: fmt.Sprintf("198.51.100.%d:1", 10+i), header: http.Header{"X-User": {"u"}}}).Code)
	}
	right := request{path: "/login?password=right", remoteAddr: "198.51.100.20:1", header: http.Header{"X-User": {"u"}}}
	assert.Equal(t, http.StatusTooManyRequests, serve(r, right).Code, "two failures used the limit")
}

func TestHookAndShadowThroughGin(t *testing.T) {
	var routes []string
	var shadow []bool
	l, _ := newLimiter(t, ginlimit.WithLimits("1/minute"), ginlimit.WithShadow(true),
		ginlimit.WithDecisionHook(func(e httplimit.Event) {
			routes = append(routes, e.Route)
			shadow = append(shadow, e.Shadow)
		}))
	r := gin.New()
	r.Use(l.Middleware())
	r.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusOK) })
	assert.Equal(t, []int{200, 200}, statuses(r, request{path: "/items/7"}, 2))
	assert.Equal(t, []string{"/items/:id", "/items/:id"}, routes, "Gin knows the route before the handler")
	assert.Equal(t, []bool{false, true}, shadow)
	assert.Equal(t, uint64(1), l.Stats().Shadowed)
}
