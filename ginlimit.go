// Package ginlimit is a Gin middleware that rate-limits HTTP requests.
//
// The simplest use limits every client IP to 100 requests a minute:
//
//	router.Use(ginlimit.New())
//
// Limits are written as "100/minute;1000/hour" (see WithLimits), counted by a
// strategy (sliding window by default, fixed window or token bucket) under a
// key (the client IP by default; read the WARNING on KeyByIP), and kept in a
// backend: the built-in memory backend by default, or Redis (WithRedisURL,
// or REDIS_URL with FromEnv), so that every instance of a service shares one
// limit. Routes get limits of their own with Limiter.Limit, and the state of
// the limiter is served by the /health/ratelimit group (RegisterHealth).
//
// Admitted responses carry rate-limit headers (see Headers); denied requests
// get 429 Too Many Requests with Retry-After. Redis being slow, frozen or down
// never fails a request or delays it past WithRedisTimeout: a circuit breaker
// sends decisions to the failure mode (WithFailureMode, the memory backend by
// default) until Redis answers again, and the change is logged once each way.
//
// ginlimit adapts the framework-free engine of package httplimit to Gin:
// the route pattern, Gin's ClientIP, the response and the health group. A
// net/http or chi service uses httplimit directly.
package ginlimit

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit/httplimit"
)

// Limiter rate-limits requests. Build one with NewLimiter; it is safe for
// concurrent use, and Close releases what it holds.
type Limiter struct {
	engine *httplimit.Limiter
	own    ginConfig // the Gin settings of the Limiter's own limits
	// choose and limitsOf choose the policy of a request of the Limiter's
	// own limits (WithPolicyFunc, WithLimitsFunc).
	choose, limitsOf func(*gin.Context) string
	def              gin.HandlerFunc
	exempt           atomic.Pointer[[]string] // route paths never limited
}

// New returns the middleware of a new Limiter, for router.Use. It panics,
// like regexp.MustCompile, when an option or environment variable is invalid;
// the message names it. The Limiter lives as long as the process; use
// NewLimiter to keep a handle on it (for Limit, Stats, Close).
func New(opts ...Option) gin.HandlerFunc {
	l, err := NewLimiter(opts...)
	if err != nil {
		panic(err)
	}
	return l.Middleware()
}

// NewLimiter returns a Limiter configured by opts, applied in order over the
// defaults: "100/minute" per client IP, sliding window, legacy headers, the
// built-in memory backend. An invalid option gives an error wrapping
// ErrInvalidOption that names it.
func NewLimiter(opts ...Option) (*Limiter, error) {
	var cfg config
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("ginlimit: option %d: %w: nil", i, ErrInvalidOption)
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	engine, err := httplimit.New(cfg.engine...)
	if err != nil {
		return nil, err
	}
	l := &Limiter{engine: engine, own: cfg.ginConfig, choose: cfg.choose, limitsOf: cfg.limitsOf}
	l.def = l.handler(engine.Default(), cfg.ginConfig)
	for _, r := range cfg.health {
		RegisterHealth(r, l)
	}
	for _, r := range cfg.healthDetails {
		RegisterHealthDetails(r, l)
	}
	return l, nil
}

// Middleware returns the handler that applies the Limiter's own limits, for
// router.Use or a route group.
func (l *Limiter) Middleware() gin.HandlerFunc { return l.def }

// Limit returns a handler that applies limits of its own to the routes it is
// given to, counted apart from the Limiter's default limits:
//
//	r.POST("/login", lim.Limit("5/minute"), login)
//
// Each route counts separately, named after its path, unless WithName gives
// several routes one shared name. Two Limit handlers on one route count apart
// when their periods or strategies differ; with the same ones, they share one
// count, and each counts the request (name them apart to count apart). opts may hold
// the per-route options (WithStrategy, the key options, WithName, WithSkip,
// WithCost, WithExceededHandler, WithHeaders, WithFailureMode, WithPenalty,
// WithCountIf); the rest
// default to the Limiter's. Limit panics, when the routes are set up, on
// invalid limits or options and on options that apply only to a whole
// Limiter.
func (l *Limiter) Limit(limits string, opts ...Option) gin.HandlerFunc {
	h, err := l.route(limits, opts)
	if err != nil {
		panic(&routeError{where: fmt.Sprintf("Limit(%q)", limits), err: err})
	}
	return h
}

func (l *Limiter) route(limits string, opts []Option) (gin.HandlerFunc, error) {
	cfg := config{ginConfig: l.own} // the route's Gin settings start as the Limiter's
	for i, o := range opts {
		switch {
		case o == nil:
			return nil, fmt.Errorf("option %d: %w: nil", i, ErrInvalidOption)
		case !o.route():
			return nil, fmt.Errorf("%w: %v applies to the whole Limiter, not to a route", ErrInvalidOption, o)
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	p, err := l.engine.Policy(limits, cfg.engine...)
	if err != nil {
		return nil, err
	}
	return l.handler(p, cfg.ginConfig), nil
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

// Close stops the Limiter's goroutines and releases what it built: the memory
// backend, and the Redis client it made from WithRedisURL or
// WithRedisOptions. A backend given by WithBackend and a client given by
// WithRedisClient are the caller's to close, after the Limiter. Close is
// idempotent; after it, requests are admitted and counted as errors.
func (l *Limiter) Close() error { return l.engine.Close() }

// Status returns the state of the Limiter, as the health routes serve it. It
// pings the shared backend at most once a second, waiting at most half a
// second; a failed ping opens the breaker as a failed request would.
func (l *Limiter) Status() Status { return l.engine.Status() }

// Stats returns a snapshot of the Limiter's counters.
func (l *Limiter) Stats() Stats { return l.engine.Stats() }

// Engine returns the framework-free Limiter underneath, to decide requests
// outside Gin (httplimit.Limiter.Decide) or to serve net/http routes from
// the same counts.
func (l *Limiter) Engine() *httplimit.Limiter { return l.engine }

// handler returns the Gin handler that limits requests by p.
func (l *Limiter) handler(p *httplimit.Policy, g ginConfig) gin.HandlerFunc {
	if !l.engine.Enabled() {
		return func(*gin.Context) {}
	}
	chooses := p == l.engine.Default() && (l.choose != nil || l.limitsOf != nil)
	return func(c *gin.Context) {
		route := c.FullPath()
		if l.isExempt(route) {
			return
		}
		if g.skip != nil && g.skip(c) {
			l.engine.CountSkipped()
			return
		}
		p := p
		if chooses {
			if l.choose != nil {
				p = l.engine.Named(l.choose(c))
			}
			if l.limitsOf != nil {
				p = p.Override(l.limitsOf(c))
			}
		}
		var client string
		if g.keyFunc != nil {
			client = g.keyFunc(c)
		} else {
			client = p.Key(c.Request)
		}
		if client == "" {
			client = httplimit.IPKey(c.ClientIP())
		}
		cost := int64(1)
		if g.cost != nil {
			cost = int64(g.cost(c))
		}
		d := l.engine.DecideRoute(c.Request.Context(), p.ForRoute(route), route, client, cost)
		d.WriteHeaders(c.Writer.Header())
		if d.Allowed {
			if g.countIf != nil {
				c.Next()
				if !g.countIf(c) {
					// Given back even when the client has gone: the handler ran.
					_ = l.engine.Refund(context.WithoutCancel(c.Request.Context()), &d)
				}
			}
			return
		}
		defer c.Abort()
		if g.exceeded != nil && d.Source != httplimit.SourceClosed {
			g.exceeded(c, Exceeded{Key: d.Key, Policy: d.Policy, Limit: d.Limit, RetryAfter: d.RetryAfter, Blocked: d.Blocked})
			if !c.Writer.Written() {
				c.Status(http.StatusTooManyRequests) // the handler wrote nothing: still a 429
			}
			return
		}
		d.WriteDenial(c.Writer)
	}
}

func (l *Limiter) isExempt(path string) bool {
	if paths := l.exempt.Load(); paths != nil {
		return slices.Contains(*paths, path)
	}
	return false
}

func (l *Limiter) addExempt(paths ...string) {
	for {
		old := l.exempt.Load()
		var next []string
		if old != nil {
			next = slices.Clone(*old)
		}
		next = append(next, paths...)
		if l.exempt.CompareAndSwap(old, &next) {
			return
		}
	}
}
