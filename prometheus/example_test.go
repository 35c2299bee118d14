package ginlimitprom_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ginlimit/ginlimit/httplimit"
	ginlimitprom "github.com/ginlimit/ginlimit/prometheus"
)

// A net/http server whose route is limited to 2 requests a minute, and
// which serves its metrics at /metrics.
func Example() {
	metrics := ginlimitprom.New()
	lim, err := httplimit.New(
		httplimit.WithDecisionHook(metrics.Observe),
		httplimit.WithBreakerHook(metrics.ObserveBreaker),
		httplimit.WithClock(func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }),
		httplimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	defer lim.Close()
	metrics.Watch(lim)
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	mux := http.NewServeMux()
	item := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "item", r.PathValue("id")) })
	mux.Handle("GET /items/{id}", lim.Limit("2/minute", httplimit.WithName("items"))(item))
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	for _, id := range []string{"1", "2", "3"} {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/items/"+id, nil))
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(w.Body.String()) {
		if strings.HasPrefix(line, "ginlimit_decisions_total") || strings.HasPrefix(line, "ginlimit_limit_utilization_count") {
			fmt.Print(line)
		}
	}
	// Output:
	// ginlimit_decisions_total{outcome="allowed",policy="items",route="GET /items/{id}",source="memory"} 2
	// ginlimit_decisions_total{outcome="denied",policy="items",route="GET /items/{id}",source="memory"} 1
	// ginlimit_limit_utilization_count{policy="items",route="GET /items/{id}"} 3
}
