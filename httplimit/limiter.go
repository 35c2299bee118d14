// Package httplimit is ginlimit's decision engine, for any Go HTTP server:
// net/http, chi, or a framework adapter such as the ginlimit package itself.
//
// A Limiter decides whether a client may make a request:
//
//	lim, err := httplimit.New(httplimit.WithLimits("100/minute"))
//	...
//	http.ListenAndServe(":8080", lim.Middleware(mux))
//
// Limits are written as "100/minute;1000/hour" (see WithLimits), counted by a
// strategy (sliding window by default, fixed window or token bucket) under a
// client key (the peer address by default; see KeyByIP), and kept in a
// backend: the built-in memory backend by default, or Redis (WithRedisURL,
// or REDIS_URL with FromEnv), so that every instance of a service shares one
// limit. A route gets limits of its own with Limiter.Limit, and the state of
// the Limiter is served by RegisterHealth.
//
// Redis being slow, frozen or down never fails a request or delays it past
// WithRedisTimeout: a circuit breaker (breaker.go, slots.go) in front of the
// shared backend (shared.go) sends decisions to the failure mode
// (failure.go) until Redis answers again.
//
// An adapter for another framework compiles its policies with Limiter.Policy,
// asks Limiter.Decide for each request, and writes the Decision with
// Decision.WriteHeaders and Decision.WriteDenial.
package httplimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
)

// Limiter decides requests. Build one with New; it is safe for concurrent
// use, and Close releases what it holds.
type Limiter struct {
	cfg    config
	remote *remote // the shared backend (Redis or WithBackend), if any
	// memory decides alone, or for the shared backend's failure mode; with a
	// shared backend it is built at the first fallback (see memoryBackend).
	memory  atomic.Pointer[memory.Store]
	memMu   sync.Mutex
	memOpts []memory.Option
	def     *Policy
	plans   *plans // the policies chosen per request, if any (plans.go)

	stats     counters
	shadowLog shadowLog
	exempt    atomic.Pointer[[]string] // URL paths the middleware never limits

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
}

// New returns a Limiter configured by opts, applied in order over the
// defaults: "100/minute" per client IP, sliding window, legacy headers, the
// built-in memory backend. An invalid option gives an error wrapping
// ErrInvalidOption that names it.
func New(opts ...Option) (*Limiter, error) {
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
	def, err := l.compilePlans(&cfg)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.def = def
	attrs := []any{"enabled", cfg.enabled, "backend", l.configuredBackend(),
		"strategy", cfg.strategy.String(), "limits", backend.FormatLimits(cfg.limits)}
	if cfg.shadow {
		attrs = append(attrs, "shadow", true)
	}
	if len(cfg.policies) > 0 {
		plans := make([]string, len(cfg.policies))
		for i, d := range cfg.policies {
			plans[i] = d.name + "=" + backend.FormatLimits(l.plans.byName[d.name].limitsShown())
		}
		attrs = append(attrs, "policies", plans)
	}
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
		cfg.warnUnshared()
	}

	r := &remote{
		timeout:    cfg.redis.timeout,
		mask:       cfg.redis.mask,
		logger:     cfg.logger,
		onFallback: cfg.onFallback,
		onBreaker:  cfg.onBreaker,
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

// Close stops the Limiter's goroutines and releases what it built: the memory
// backend, and the Redis client it made from WithRedisURL or
// WithRedisOptions. A backend given by WithBackend and a client given by
// WithRedisClient are the caller's to close, after the Limiter. Close is
// idempotent; after it, requests are admitted (SourceOpen) and counted as
// errors.
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

// Enabled reports whether the Limiter limits requests: false when
// WithEnabled(false) or RATELIMIT_ENABLED=false turned it off. A disabled
// Limiter's middleware passes every request through without deciding it.
func (l *Limiter) Enabled() bool { return l.cfg.enabled }

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
