package httplimit

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Middleware returns next behind the Limiter's own limits, for a whole
// server or a ServeMux:
//
//	http.ListenAndServe(addr, lim.Middleware(mux))
//
// Its signature is the func(http.Handler) http.Handler of net/http
// middleware, so lim.Middleware also goes to chi's Use. A disabled Limiter
// returns next itself.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return l.handler(l.def, next)
}

// Limit returns a middleware that applies limits of its own to the handlers
// it wraps, counted apart from the Limiter's default limits:
//
//	mux.Handle("POST /login", lim.Limit("5/minute")(login))
//
// opts may hold the per-route options (see Limiter.Policy). Without WithName,
// each route counts separately, named after the pattern the ServeMux matched
// (r.Pattern: "POST /login" is named "POST_/login", see Policy.ForRoute), or
// "*" under a router that sets none (give such routes a WithName). Limit
// panics, when the routes are set up, on invalid limits or options and on
// options that apply only to a whole Limiter.
func (l *Limiter) Limit(limits string, opts ...Option) func(http.Handler) http.Handler {
	p, err := l.Policy(limits, opts...)
	if err != nil {
		panic(&routeError{where: fmt.Sprintf("Limit(%q)", limits), err: err})
	}
	return func(next http.Handler) http.Handler { return l.handler(p, next) }
}

// routeError places an option error in the Limit call that caused it.
type routeError struct {
	where string
	err   error
}

func (e *routeError) Error() string {
	return "ginlimit: " + e.where + ": " + strings.TrimPrefix(e.err.Error(), "ginlimit: ")
}

func (e *routeError) Unwrap() error { return e.err }

// handler limits the requests to next by p.
func (l *Limiter) handler(p *Policy, next http.Handler) http.Handler {
	if !l.cfg.enabled {
		return next
	}
	chooses := p == l.def && l.plans != nil
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.isExempt(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if p.skip != nil && p.skip(r) {
			l.CountSkipped()
			next.ServeHTTP(w, r)
			return
		}
		p := p // the plans share the Limiter's skip, key, cost and handler
		if chooses {
			p = l.choose(r)
		}
		key := p.Key(r)
		if key == "" {
			key = peerKey(r)
		}
		cost := int64(1)
		if p.cost != nil {
			cost = int64(p.cost(r))
		}
		d := l.DecideRoute(r.Context(), p.ForRoute(r.Pattern), r.Pattern, key, cost)
		d.WriteHeaders(w.Header())
		if d.Allowed {
			if p.countIf == nil {
				next.ServeHTTP(w, r)
				return
			}
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r)
			if !p.countIf(r, rec.status) {
				// Given back even when the client has gone: the handler ran.
				_ = l.Refund(context.WithoutCancel(r.Context()), &d)
			}
			return
		}
		if p.exceeded != nil && d.Source != SourceClosed {
			rec := &writeRecorder{ResponseWriter: w}
			p.exceeded(rec, r, d)
			if !rec.wrote {
				w.WriteHeader(http.StatusTooManyRequests) // the handler wrote nothing: still a 429
			}
			return
		}
		d.WriteDenial(w)
	})
}

// statusRecorder notes the status a handler answered with (WithCountIf).
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusRecorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writeRecorder notes whether an ExceededHandler wrote a response.
type writeRecorder struct {
	http.ResponseWriter
	wrote bool
}

func (w *writeRecorder) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *writeRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *writeRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
