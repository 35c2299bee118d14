// Command example is a small Gin server limited by ginlimit and configured
// only by the environment (see ginlimit.FromEnv):
//
//	go run ./example
//	curl -i localhost:8080/
//	curl -i -X POST localhost:8080/login
//	curl localhost:8080/health/ratelimit
//
// It listens on :$PORT (default 8080), logs with slog on stderr and shuts
// down gracefully on SIGTERM or Ctrl-C. An invalid environment makes it exit
// with status 1 and the error on stderr.
//
// With ADMIN_TOKEN set, the detailed health (the Redis address, the breaker,
// the last error, the stats) is served behind that bearer token:
//
//	curl -H "Authorization: Bearer $ADMIN_TOKEN" localhost:8080/admin/health/ratelimit
package main

import (
	"context"
	"crypto/subtle"
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
	router := gin.New()
	router.Use(gin.Recovery())
	// The demo is reached directly: trust no proxy, so that the client IP is
	// the peer address and X-Forwarded-For cannot be spoofed. Behind a load
	// balancer, set RATELIMIT_KEY_BY=xff:2 instead.
	if err := router.SetTrustedProxies(nil); err != nil {
		return err
	}

	lim, err := ginlimit.NewLimiter(ginlimit.FromEnv(), ginlimit.WithLogger(logger), ginlimit.WithHealth(router))
	if err != nil {
		return err
	}
	defer lim.Close()
	if token := os.Getenv("ADMIN_TOKEN"); token != "" {
		// The details tell where Redis is and why it failed: not for everyone.
		ginlimit.RegisterHealthDetails(router.Group("/admin", bearer(token)), lim)
	}

	router.Use(lim.Middleware())
	router.GET("/", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"message": "hello from ginlimit"})
	})
	router.POST("/login", lim.Limit("5/minute"), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"message": "logged in"})
	})

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

// bearer admits only requests that carry "Authorization: Bearer <token>".
func bearer(token string) gin.HandlerFunc {
	want := []byte("Bearer " + token)
	return func(c *gin.Context) {
		got := []byte(c.GetHeader("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized"})
		}
	}
}
