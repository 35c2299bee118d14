// Command nethttp is a small net/http server limited by httplimit and
// configured only by the environment (see httplimit.FromEnv):
//
//	go run ./example/nethttp
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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ginlimit/ginlimit/httplimit"
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

	// The demo is reached directly: the client is the peer address (the
	// default, httplimit.KeyByIP), which X-Forwarded-For cannot spoof.
	// Behind a load balancer, set RATELIMIT_KEY_BY=xff:2 instead.
	lim, err := httplimit.New(httplimit.FromEnv(), httplimit.WithLogger(logger))
	if err != nil {
		return err
	}
	defer lim.Close()

	mux := http.NewServeMux()
	httplimit.RegisterHealth(mux, lim) // exempt from lim.Middleware
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "hello from httplimit"})
	})
	mux.Handle("POST /login", lim.Limit("5/minute")(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"message": "logged in"})
	})))

	root := http.NewServeMux()
	root.Handle("/", lim.Middleware(mux))
	if token := os.Getenv("ADMIN_TOKEN"); token != "" {
		// The details tell where Redis is and why it failed: not for everyone.
		// They are served beside the Middleware, so that an operator's checks
		// are never limited or counted.
		admin := http.NewServeMux()
		httplimit.RegisterHealthDetails(admin, lim)
		root.Handle("/admin/", bearer(token, http.StripPrefix("/admin", admin)))
	}

	srv := &http.Server{Addr: ":" + port, Handler: root, ReadHeaderTimeout: 10 * time.Second}
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

// bearer passes to next only the requests that carry
// "Authorization: Bearer <token>".
func bearer(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
