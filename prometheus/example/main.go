// Command example is a small Gin server limited by ginlimit, configured by
// the environment (see ginlimit.FromEnv), that serves its rate-limit
// metrics to Prometheus:
//
//	go run ./example
//	curl -i localhost:8080/hello
//	curl localhost:8080/metrics
//
// It listens on :$PORT (default 8080), logs with slog on stderr and shuts
// down gracefully on SIGTERM or Ctrl-C. An invalid environment makes it exit
// with status 1 and the error on stderr.
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
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ginlimit/ginlimit"
	ginlimitprom "github.com/ginlimit/ginlimit/prometheus"
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

	metrics := ginlimitprom.New()
	lim, err := ginlimit.NewLimiter(ginlimit.FromEnv(), ginlimit.WithLogger(logger),
		ginlimit.WithDecisionHook(metrics.Observe), ginlimit.WithBreakerHook(metrics.ObserveBreaker))
	if err != nil {
		return err
	}
	defer lim.Close()
	metrics.Watch(lim.Engine())
	reg := prometheus.NewRegistry()
	if err := reg.Register(metrics); err != nil {
		return err
	}

	// /metrics comes before the middleware, which Gin gives only to the
	// routes added after it: the scraper is never limited.
	router.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	router.Use(lim.Middleware())
	router.GET("/hello", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"message": "hello from ginlimit"})
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
