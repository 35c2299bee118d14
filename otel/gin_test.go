package ginlimitotel_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend/backendtest"
)

// TestGinRoute checks that the decisions of the Gin middleware carry Gin's
// route pattern, never the request's path.
func TestGinRoute(t *testing.T) {
	in, reader := newInstruments(t)
	lim, err := ginlimit.NewLimiter(
		ginlimit.WithLimits("1/minute"),
		ginlimit.WithClock(backendtest.NewClock(t0).Now),
		ginlimit.WithLogger(slog.New(slog.DiscardHandler)),
		ginlimit.WithDecisionHook(in.Observe),
		ginlimit.WithBreakerHook(in.ObserveBreaker),
	)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, lim.Close()) })
	router := gin.New()
	router.Use(lim.Middleware())
	router.GET("/users/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	codes := []int{get(router, "/users/1"), get(router, "/users/2"), get(router, "/nowhere")}
	require.Equal(t, []int{204, 429, 429}, codes)

	metricdatatest.AssertEqual(t, decisionsSum(
		decision{policy: "default", route: "/users/:id", outcome: "allowed", source: "memory", count: 1},
		decision{policy: "default", route: "/users/:id", outcome: "denied", source: "memory", count: 1},
		decision{policy: "default", route: "unknown", outcome: "denied", source: "memory", count: 1},
	), collect(t, reader)["ginlimit.decisions"], metricdatatest.IgnoreTimestamp())
}
