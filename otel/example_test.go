package ginlimitotel_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitotel "github.com/ginlimit/ginlimit/otel"
)

// The decisions of a net/http server. The ServeMux matches the route
// before the handlers that lim.Limit wraps run, so they know it.
func Example() {
	// The application's OpenTelemetry setup: here a reader to print what
	// was recorded, usually an exporter.
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	in, err := ginlimitotel.New(mp)
	if err != nil {
		panic(err)
	}
	lim, err := httplimit.New(
		httplimit.WithDecisionHook(in.Observe),
		httplimit.WithBreakerHook(in.ObserveBreaker),
		httplimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /hello/{name}", lim.Limit("2/minute", httplimit.WithName("hello"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "hello, %s", r.PathValue("name")) })))

	for _, name := range []string{"ann", "bob", "cy"} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hello/"+name, nil))
	}
	printDecisions(reader)
	// Output:
	// ginlimit.decisions{ginlimit.outcome=allowed,ginlimit.policy=hello,ginlimit.source=memory,http.route=GET /hello/{name}} 2
	// ginlimit.decisions{ginlimit.outcome=denied,ginlimit.policy=hello,ginlimit.source=memory,http.route=GET /hello/{name}} 1
}

// The decisions of a Gin router, under Gin's route pattern.
func Example_gin() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	in, err := ginlimitotel.New(mp)
	if err != nil {
		panic(err)
	}
	lim, err := ginlimit.NewLimiter(
		ginlimit.WithLimits("1/minute"),
		ginlimit.WithDecisionHook(in.Observe),
		ginlimit.WithBreakerHook(in.ObserveBreaker),
		ginlimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	router := gin.New()
	router.Use(lim.Middleware())
	router.GET("/users/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })

	for _, id := range []string{"1", "2"} {
		w := httptest.NewRecorder()
		router.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/users/"+id, nil))
	}
	printDecisions(reader)
	// Output:
	// ginlimit.decisions{ginlimit.outcome=allowed,ginlimit.policy=default,ginlimit.source=memory,http.route=/users/:id} 1
	// ginlimit.decisions{ginlimit.outcome=denied,ginlimit.policy=default,ginlimit.source=memory,http.route=/users/:id} 1
}

// printDecisions prints the data points of ginlimit.decisions, sorted.
func printDecisions(reader *sdkmetric.ManualReader) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "ginlimit.decisions" {
				for _, p := range sum.DataPoints {
					lines = append(lines, fmt.Sprintf("%s{%s} %d", m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value))
				}
			}
		}
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
}
