// Command plans is a small Gin server that limits each client by its plan:
// 5 requests a minute on the free plan, 20 a minute and 1000 a day on the
// pro plan (see docs/POLICIES.md). A client is known by its API key:
//
//	go run ./example/plans
//	curl -i -H "X-API-Key: free-key" localhost:8080/
//	curl -i -H "X-API-Key: pro-key" localhost:8080/
//	curl -i localhost:8080/
//
// A request without a known key is refused with 401, after being counted by
// client IP on the free plan, so that guessing keys is limited too.
//
// It listens on :$PORT (default 8080), logs with slog on stderr and shuts
// down gracefully on SIGTERM or Ctrl-C. The plans are set in code; the
// environment sets the rest (REDIS_URL and the RATELIMIT_ variables, see
// ginlimit.FromEnv). An invalid environment makes it exit with status 1 and
// the error on stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit"
)

// An account is what an API key authenticates: a client and its plan.
type account struct {
	ID   string
	Plan string
}

// demoAccounts are the demo's API keys. A real service looks the key up in
// its database.
var demoAccounts = map[string]account{
	"free-key": {ID: "alice", Plan: "free"},
	"pro-key":  {ID: "bob", Plan: "pro"},
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(logger); err != nil {
		logger.Error("example: " + err.Error())
		os.Exit(1)
	}
}

func run(logger *slog.Logger) error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("PORT=%q: want a port number from 1 to 65535", port)
	}

	if os.Getenv(gin.EnvGinMode) == "" {
		gin.SetMode(gin.ReleaseMode)
	}
	lim, err := newLimiter(ginlimit.FromEnv(), ginlimit.WithLogger(logger))
	if err != nil {
		return err
	}
	defer lim.Close()
	router, err := newRouter(lim, demoAccounts)
	if err != nil {
		return err
	}

	srv := &http.Server{Addr: ":" + port, Handler: router, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe() }()
	logger.Info("example: listening", "addr", srv.Addr)

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("example: shutting down")
	// Cloud Run sends SIGKILL 10 seconds after SIGTERM.
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newLimiter returns the Limiter of the two plans, configured first by opts
// (the environment, the logger, a test's clock), which the plans override.
func newLimiter(opts ...ginlimit.Option) (*ginlimit.Limiter, error) {
	return ginlimit.NewLimiter(append(opts,
		// The Limiter's own policy is the free plan: it also counts the
		// requests of no plan, or of a plan no policy has.
		ginlimit.WithName("free"),
		ginlimit.WithLimits("5/minute"),
		ginlimit.WithPolicy("pro", "20/minute;1000/day"),
		// authenticate set the plan: never take it from what the client
		// writes, or a client could choose its own.
		ginlimit.WithPolicyFunc(func(c *gin.Context) string { return c.GetString("plan") }),
		// Count the account, whichever key or address it comes from. An empty
		// key counts by client IP.
		ginlimit.WithKeyFunc(func(c *gin.Context) string {
			if id := c.GetString("account"); id != "" {
				return "account:" + id
			}
			return ""
		}),
	)...)
}

// newRouter returns the demo's router: authenticate, then lim, then the
// refusal of unknown keys, in front of one route.
func newRouter(lim *ginlimit.Limiter, accounts map[string]account) (*gin.Engine, error) {
	router := gin.New()
	router.Use(gin.Recovery())
	// The demo is reached directly: trust no proxy, so that the client IP is
	// the peer address and X-Forwarded-For cannot be spoofed.
	if err := router.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	ginlimit.RegisterHealth(router, lim) // before Use: neither authenticated nor limited

	router.Use(authenticate(accounts), lim.Middleware(), requireAccount)
	router.GET("/", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"account": c.GetString("account"), "plan": c.GetString("plan")})
	})
	return router, nil
}

// authenticate sets the account and plan of a request whose X-API-Key is a
// key of accounts. It refuses nothing: requireAccount does, after the
// Limiter has counted the request.
func authenticate(accounts map[string]account) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a, ok := accounts[c.GetHeader("X-API-Key")]; ok {
			c.Set("account", a.ID)
			c.Set("plan", a.Plan)
		}
	}
}

// requireAccount refuses the requests authenticate did not know.
func requireAccount(c *gin.Context) {
	if c.GetString("account") == "" {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unknown API key"})
	}
}
