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
package ginlimit

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
	"github.com/ginlimit/ginlimit/backend/redis"
)

// Limiter rate-limits requests. Build one with NewLimiter; it is safe for
// concurrent use, and Close releases what it holds.
type Limiter struct {
	cfg    config
	remote *remote // the shared backend (Redis or WithBackend), if any
	// memory decides alone, or for the shared backend's failure mode; with a
	// shared backend it is built at the first fallback (see memoryBackend).
	memory  atomic.Pointer[memory.Store]
	memMu   sync.Mutex
	memOpts []memory.Option
	def     gin.HandlerFunc

	stats  counters
	exempt atomic.Pointer[[]string]

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
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
	cfg := defaultConfig()
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("ginlimit: option %d: %w: nil", i, ErrInvalidOption)
		}
		if err := o.apply(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.checkShared(); err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg}
	if cfg.enabled {
		if err := l.build(); err != nil {
			l.Close()
			return nil, err
		}
	}
	def, err := l.handler(&cfg)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.def = def
	for _, r := range cfg.health {
		RegisterHealth(r, l)
	}
	for _, r := range cfg.healthDetails {
		RegisterHealthDetails(r, l)
	}
	attrs := []any{"enabled", cfg.enabled, "backend", l.configuredBackend(),
		"strategy", cfg.strategy.String(), "limits", backend.FormatLimits(cfg.limits)}
	if l.remote != nil {
		if l.remote.addr != "" {
			attrs = append(attrs, "addr", l.remote.addr)
		}
		attrs = append(attrs, "failure_mode", cfg.failure.String())
		if len(cfg.fallbackLimits) > 0 {
			attrs = append(attrs, "fallback_limits", backend.FormatLimits(cfg.fallbackLimits))
		}
	}
	cfg.logger.Info("ginlimit: rate limiting configured", attrs...)
	if l.remote != nil {
		l.remote.start(l.now())
	}
	return l, nil
}

// build makes the memory backend and, when one is configured, the shared
// backend in front of it.
func (l *Limiter) build() error {
	cfg := &l.cfg
	l.memOpts = []memory.Option{memory.WithMaxKeys(cfg.memoryMaxKeys)}
	if cfg.clock != nil {
		l.memOpts = append(l.memOpts, memory.WithClock(cfg.clock))
	}
	if cfg.backend == nil && !cfg.redis.configured() {
		store, err := memory.New(l.memOpts...)
		if err != nil {
			return fmt.Errorf("ginlimit: memory backend: %w", err)
		}
		l.memory.Store(store)
	}

	if cfg.backend == nil && !cfg.redis.configured() {
		cfg.warnUnshared()
	}

	r := &remote{
		timeout:    cfg.redis.timeout,
		mask:       cfg.redis.mask,
		logger:     cfg.logger,
		onFallback: cfg.onFallback,
		now:        l.now,
		stop:       make(chan struct{}),
	}
	switch {
	case cfg.backend != nil:
		rb := newRemoteBackend(cfg.backend)
		r.name, r.isRedis = backendName(cfg.backend), rb.store != nil // a Store of the caller's
		r.cur.Store(rb)
		r.connected.Store(true)
	case cfg.redis.client != nil:
		rb, err := newRedisBackend(cfg.redis.client, !cfg.redis.noCache, cfg.clock, nil)
		if err != nil {
			return fmt.Errorf("ginlimit: WithRedisClient: %w", err)
		}
		r.name, r.isRedis, r.addr = "redis", true, cfg.redis.addr()
		r.cur.Store(rb)
		r.connected.Store(true)
	case cfg.redis.opt != nil:
		opt, err := cfg.redis.clientOption(cfg.from)
		if err != nil {
			return err
		}
		r.name, r.isRedis, r.addr, r.dial = "redis", true, cfg.redis.addr(), dialer(opt, cfg.clock)
	default:
		return nil
	}
	l.remote = r
	return nil
}

// checkShared reports what is wrong with the settings of the shared backend,
// naming the inputs at fault. It runs whether or not the Limiter is enabled,
// so that turning it on never reveals a mistake made long before.
func (c *config) checkShared() error {
	switch {
	case c.backend != nil && c.redis.configured():
		return invalidf(c.from.redis, "a Limiter counts in Redis or in a custom backend, not both, and %s gives a custom backend", c.from.backend)
	case c.redis.caFile == "":
		return nil
	case c.redis.client != nil:
		return invalidf(c.from.caFile, "a client given by WithRedisClient carries its own TLS configuration")
	case c.redis.opt == nil:
		return invalidf(c.from.caFile, "no Redis URL is configured: set %s or use WithRedisURL", EnvRedisURL)
	}
	_, err := c.redis.clientOption(c.from) // reads the CA file
	return err
}

// warnUnshared logs the settings that only a shared backend uses, when there
// is none: they are not errors (a service may run without Redis in
// development and with it in production), but they are not ignored in
// silence either.
func (c *config) warnUnshared() {
	for _, origin := range []string{c.from.timeout, c.from.cache, c.from.failure, c.from.fallback} {
		if origin != "" {
			c.logger.Warn("ginlimit: setting has no effect without Redis or a custom backend", "setting", origin)
		}
	}
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
// several routes with the same limits one shared name. Two Limit handlers on
// one route count apart when their limits or strategies differ. opts may hold
// the per-route options (WithStrategy, the key options, WithName, WithSkip,
// WithCost, WithExceededHandler, WithHeaders); the rest default to the
// Limiter's. Limit
// panics, when the routes are set up, on invalid limits or options and on
// options that apply only to a whole Limiter.
func (l *Limiter) Limit(limits string, opts ...Option) gin.HandlerFunc {
	h, err := l.route(limits, opts)
	if err != nil {
		panic(&routeError{where: fmt.Sprintf("Limit(%q)", limits), err: err})
	}
	return h
}

func (l *Limiter) route(limits string, opts []Option) (gin.HandlerFunc, error) {
	cfg := l.cfg // the per-route fields start as the Limiter's
	cfg.name = ""
	if err := WithLimits(limits).apply(&cfg); err != nil {
		return nil, err
	}
	cfg.from.limits = "" // the route's own: its error names it
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
	return l.handler(&cfg)
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
func (l *Limiter) Close() error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		if l.remote != nil {
			l.remote.close()
		}
		l.memMu.Lock()
		if m := l.memory.Load(); m != nil {
			l.closeErr = m.Close()
		}
		l.memMu.Unlock()
	})
	return l.closeErr
}

// policy is one set of limits applied by one handler.
type policy struct {
	l        *Limiter
	policy   backend.Policy
	keyFunc  KeyFunc
	skip     gin.Skipper
	cost     func(*gin.Context) int
	exceeded ExceededHandler
	headers  Headers
	failure  FailureMode
	fallback backend.Policy // decides in memory while the shared backend cannot

	named  *scope   // the scope, when the policy has a fixed name
	scopes sync.Map // route path -> *scope, when named after each route
}

func (l *Limiter) handler(cfg *config) (gin.HandlerFunc, error) {
	p := &policy{
		l:        l,
		policy:   backend.Policy{Strategy: cfg.strategy, Limits: slices.Clone(cfg.limits)},
		keyFunc:  cfg.keyFunc,
		skip:     cfg.skip,
		cost:     cfg.cost,
		exceeded: cfg.exceeded,
		headers:  cfg.headers,
		failure:  cfg.failure,
	}
	if err := p.policy.Validate(); err != nil {
		return nil, invalidFrom(cfg.from.limits, fmt.Errorf("%w%s", err, named(cfg.from.strategy)))
	}
	if l.cfg.redis.configured() {
		if err := redis.CheckPolicy(p.policy); err != nil {
			return nil, invalidFrom(cfg.from.limits, fmt.Errorf("%w%s", err, named(cfg.from.strategy, l.cfg.from.redis)))
		}
	}
	p.fallback = fallbackPolicy(p.policy, l.cfg.fallbackLimits)
	if err := p.fallback.Validate(); err != nil {
		return nil, invalid(l.cfg.from.fallback, fmt.Errorf("with the limits %q%s: %w", backend.FormatLimits(p.policy.Limits), named(cfg.from.limits), err))
	}
	if !cfg.enabled {
		return func(*gin.Context) {}, nil
	}
	if cfg.name != "" {
		p.named = p.newScope(cfg.name)
	}
	return p.serve, nil
}

// newScope returns the scope of the policy under name, with the scope of its
// fallback limits when they differ.
func (p *policy) newScope(name string) *scope {
	s := newScope(p.l.cfg.keyPrefix, name, p.policy)
	s.fallback = s
	if !slices.Equal(p.fallback.Limits, p.policy.Limits) {
		s.fallback = newScope(p.l.cfg.keyPrefix, name, p.fallback)
	}
	return s
}

func (p *policy) serve(c *gin.Context) {
	l := p.l
	if l.isExempt(c.FullPath()) {
		return
	}
	if p.skip != nil && p.skip(c) {
		l.stats.stripe().skipped.Add(1)
		return
	}
	s := p.scope(c)
	client := p.keyFunc(c)
	if client == "" {
		if client = clientIPKey(c); client == "" {
			client = "unknown"
		}
	}
	client = boundKey(client)
	cost := int64(1)
	if p.cost != nil {
		cost = max(int64(p.cost(c)), 0)
	}

	res, s, v := p.decide(c.Request.Context(), s, client, cost)
	switch v {
	case admitted:
		l.stats.stripe().allowed.Add(1)
		return
	case unavailable:
		l.stats.stripe().unavailable.Add(1)
		p.unavailable(c, s.keyPrefix+client)
		return
	}
	if p.headers != HeadersNone {
		if res.Now.IsZero() {
			res.Now = l.now()
		}
		writeHeaders(c.Writer.Header(), p.headers, s, &res, cost)
	}
	if res.Allowed {
		l.stats.stripe().allowed.Add(1)
		return
	}
	l.stats.stripe().denied.Add(1)
	p.deny(c, s, client, &res)
}

func (p *policy) deny(c *gin.Context, s *scope, client string, res *backend.Result) {
	retryAfter := retryAfterSeconds(res.RetryAfter)
	c.Writer.Header()[hdrRetryAfter] = []string{strconv.FormatInt(retryAfter, 10)}
	if p.exceeded != nil {
		p.exceeded(c, Exceeded{
			Key:        client,
			Policy:     s.name,
			Limit:      s.limits[tightest(res, len(s.limits))],
			RetryAfter: res.RetryAfter,
		})
		if !c.Writer.Written() {
			c.Status(http.StatusTooManyRequests) // the handler wrote nothing: still a 429
		}
		c.Abort()
		return
	}
	abortJSON(c, http.StatusTooManyRequests, "rate limit exceeded", retryAfter)
}

// abortJSON answers {"error":message,"retry_after":retryAfter} with code and
// stops the handler chain. message needs no JSON escaping.
func abortJSON(c *gin.Context, code int, message string, retryAfter int64) {
	body := make([]byte, 0, 64)
	body = append(body, `{"error":"`...)
	body = append(body, message...)
	body = append(body, `","retry_after":`...)
	body = strconv.AppendInt(body, retryAfter, 10)
	body = append(body, '}')
	c.Data(code, "application/json; charset=utf-8", body)
	c.Abort()
}

// scope returns the policy's fixed scope, or the one named after the route.
func (p *policy) scope(c *gin.Context) *scope {
	if p.named != nil {
		return p.named
	}
	path := c.FullPath()
	if s, ok := p.scopes.Load(path); ok {
		return s.(*scope)
	}
	s, _ := p.scopes.LoadOrStore(path, p.newScope(routeName(path)))
	return s.(*scope)
}

// routeName makes a route path usable as a policy name: characters that
// checkName refuses become '_', and an unmatched route is "*".
func routeName(path string) string {
	if path == "" {
		return "*"
	}
	return strings.Map(func(r rune) rune {
		if !nameChar(r) {
			return '_'
		}
		return r
	}, path)
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

// now reads the clock set by WithClock, or time.Now.
func (l *Limiter) now() time.Time {
	if l.cfg.clock != nil {
		return l.cfg.clock()
	}
	return time.Now()
}

// memoryBackend returns the memory backend, building it on first use, or
// nil once the Limiter is closed.
func (l *Limiter) memoryBackend() *memory.Store {
	if m := l.memory.Load(); m != nil {
		return m
	}
	l.memMu.Lock()
	defer l.memMu.Unlock()
	if m := l.memory.Load(); m != nil || l.closed.Load() {
		return m
	}
	m, err := memory.New(l.memOpts...) // the options were checked by build
	if err != nil {
		return nil
	}
	l.memory.Store(m)
	return m
}

// configuredBackend returns the name of the backend the Limiter was
// configured with.
func (l *Limiter) configuredBackend() string {
	if l.remote != nil {
		return l.remote.name
	}
	return "memory"
}

func backendName(b backend.Backend) string {
	if n, ok := b.(backend.Namer); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", b)
}
