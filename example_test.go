package ginlimit_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit"
)

// fixedClock keeps the examples' output stable: 30 seconds into a minute.
func fixedClock() time.Time { return time.Date(2026, 1, 1, 12, 0, 30, 0, time.UTC) }

// hello and login are the handlers of the README's example.
func hello(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"hello": "world"}) }
func login(c *gin.Context) { c.Status(http.StatusNoContent) }

func get(router http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	router.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

// Two requests a minute per client IP; the third is turned away with 429 and
// Retry-After.
func Example() {
	lim, err := ginlimit.NewLimiter(
		ginlimit.WithLimits("2/minute"),
		ginlimit.WithClock(fixedClock),
		ginlimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	router := gin.New()
	router.Use(lim.Middleware())
	router.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "hello") })

	for range 3 {
		w := get(router, "/")
		fmt.Println(w.Code, w.Header().Get("X-RateLimit-Remaining"), w.Header().Get("Retry-After"), w.Body.String())
	}
	// Output:
	// 200 1  hello
	// 200 0  hello
	// 429 0 60 {"error":"rate limit exceeded","retry_after":60}
}

// The usage shown in the README: the middleware on every route, a stricter
// limit on one, and the health group. TestReadmeSnippetIsExample checks that
// the README shows this code as it is.
func Example_readme() {
	router := gin.New()
	router.SetTrustedProxies(nil) // see docs/CLIENT_IP.md: Gin trusts every proxy by default

	lim, err := ginlimit.NewLimiter(ginlimit.FromEnv(), ginlimit.WithHealth(router))
	if err != nil {
		log.Fatal(err)
	}
	defer lim.Close()

	router.Use(lim.Middleware())
	router.GET("/", hello)
	router.POST("/login", lim.Limit("5/minute"), login)

	fmt.Println(get(router, "/health/ratelimit/ready").Code)
	// Output: 200
}

// A route with a limit of its own, counted apart from the default limits.
func ExampleLimiter_Limit() {
	lim, err := ginlimit.NewLimiter(ginlimit.WithClock(fixedClock), ginlimit.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	router := gin.New()
	router.Use(lim.Middleware())
	router.GET("/export", lim.Limit("1/hour", ginlimit.WithStrategy(ginlimit.FixedWindow)), func(c *gin.Context) {
		c.String(http.StatusOK, "export")
	})

	fmt.Println(get(router, "/export").Code)
	w := get(router, "/export")
	fmt.Println(w.Code, "retry after", w.Header().Get("Retry-After"), "seconds")
	// Output:
	// 200
	// 429 retry after 3600 seconds
}

// IETF headers describe every limit of a policy.
func ExampleWithHeaders() {
	lim, err := ginlimit.NewLimiter(
		ginlimit.WithLimits("10/second;100/minute"),
		ginlimit.WithHeaders(ginlimit.HeadersIETF),
		ginlimit.WithStrategy(ginlimit.FixedWindow),
		ginlimit.WithClock(fixedClock),
		ginlimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	router := gin.New()
	router.Use(lim.Middleware())
	router.GET("/", func(*gin.Context) {})

	w := get(router, "/")
	fmt.Println("RateLimit-Policy:", w.Header().Get("RateLimit-Policy"))
	fmt.Println("RateLimit:", w.Header().Get("RateLimit"))
	// Output:
	// RateLimit-Policy: "default-second";q=10;w=1, "default-minute";q=100;w=60
	// RateLimit: "default-second";r=9;t=1, "default-minute";r=99;t=60
}

// Behind Google Cloud's load balancer the client is the second
// X-Forwarded-For entry from the right; entries further left are whatever the
// client sent.
func ExampleKeyByForwardedFor() {
	lim, err := ginlimit.NewLimiter(
		ginlimit.WithLimits("1/minute"),
		ginlimit.KeyByForwardedFor(2),
		ginlimit.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		panic(err)
	}
	defer lim.Close()

	router := gin.New()
	router.Use(lim.Middleware())
	router.GET("/", func(*gin.Context) {})

	for _, xff := range []string{"198.51.100.7, 35.191.0.1", "6.6.6.6, 198.51.100.7, 35.191.0.1"} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		router.ServeHTTP(w, r)
		fmt.Println(w.Code)
	}
	// Output:
	// 200
	// 429
}
