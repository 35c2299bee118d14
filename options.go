package ginlimit

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/httplimit"
)

// ErrInvalidOption is wrapped by every configuration error that NewLimiter,
// Limit and FromEnv return.
var ErrInvalidOption = httplimit.ErrInvalidOption

// The types and values of the engine that a Gin user names; see package
// httplimit for their documentation.
type (
	// Strategy selects the rate-limiting algorithm. See ALGORITHMS.md in docs/.
	Strategy = backend.Strategy
	// Headers selects the rate-limit headers set on every limited response.
	Headers = httplimit.Headers
	// FailureMode says how requests are decided while the shared backend
	// cannot decide them.
	FailureMode = httplimit.FailureMode
	// Status is the state of a Limiter, as the detailed health route serves it.
	Status = httplimit.Status
	// Summary is the body of the public health route.
	Summary = httplimit.Summary
	// Stats is a snapshot of a Limiter's counters since it was built.
	Stats = httplimit.Stats
)

// The strategies. SlidingWindow is the default.
const (
	SlidingWindow = backend.SlidingWindow
	FixedWindow   = backend.FixedWindow
	TokenBucket   = backend.TokenBucket
)

// The header modes. HeadersLegacy is the default.
const (
	HeadersLegacy = httplimit.HeadersLegacy
	HeadersIETF   = httplimit.HeadersIETF
	HeadersBoth   = httplimit.HeadersBoth
	HeadersNone   = httplimit.HeadersNone
)

// The failure modes. FailToMemory is the default.
const (
	FailToMemory = httplimit.FailToMemory
	FailOpen     = httplimit.FailOpen
	FailClosed   = httplimit.FailClosed
)

// The health messages. Dashboards parse them: they never change.
const (
	MessageMemory       = httplimit.MessageMemory
	MessageRedis        = httplimit.MessageRedis
	MessageRedisPartial = httplimit.MessageRedisPartial
)

// KeyFunc returns the key a request is counted under, such as a client IP,
// a user ID or an API key. An empty key falls back to the client IP.
type KeyFunc func(c *gin.Context) string

// ExceededHandler writes the response to a denied request. The rate-limit
// headers and Retry-After are already set when it runs, and the handler chain
// is aborted after it returns. A handler that writes nothing leaves a 429 with
// an empty body.
type ExceededHandler func(c *gin.Context, e Exceeded)

// Exceeded describes a denied request to an ExceededHandler.
type Exceeded struct {
	// Key is the client key the request was counted under, without prefix.
	Key string
	// Policy is the name of the policy that denied it: "default" for the
	// Limiter's own limits (unless WithName names them), the plan's name
	// (WithPolicy), or the route's name for Limit.
	Policy string
	// Limit is the limit closest to exhaustion.
	Limit backend.Limit
	// RetryAfter is the time until the same request would be admitted.
	RetryAfter time.Duration
	// Blocked reports that the client is blocked (WithPenalty, or a Block
	// through the engine or the admin routes), whatever its count.
	Blocked bool
}

// An Option configures a Limiter (NewLimiter, New) or a route (Limit). Options
// apply in order, so a later option overrides an earlier one, including the
// values FromEnv reads.
type Option interface {
	apply(*config) error
	// route reports whether the option may be given to Limiter.Limit.
	route() bool
}

// config is what the options build: the engine's options, to be applied by
// httplimit.New or Limiter.Policy, and the settings that take a
// *gin.Context.
type config struct {
	engine []httplimit.Option
	ginConfig
	health, healthDetails []gin.IRouter

	// The choice of plan of the Limiter's own limits (WithPolicyFunc,
	// WithLimitsFunc).
	choose, limitsOf func(*gin.Context) string
}

// ginConfig holds a policy's settings that take a *gin.Context.
type ginConfig struct {
	keyFunc  KeyFunc // nil: the engine policy's key, or else Gin's ClientIP
	skip     gin.Skipper
	cost     func(*gin.Context) int
	exceeded ExceededHandler
	countIf  func(*gin.Context) bool
}

// engineOption is an option of the engine. keys, if set, reports whether it
// sets the key, and so replaces a KeyFunc given before it.
type engineOption struct {
	opt  httplimit.Option
	keys func() bool
}

func (o engineOption) apply(c *config) error {
	c.engine = append(c.engine, o.opt)
	if o.keys != nil && o.keys() {
		c.keyFunc = nil
	}
	return nil
}

func (o engineOption) route() bool    { return true } // the engine refuses those that are not
func (o engineOption) String() string { return fmt.Sprint(o.opt) }

func engine(o httplimit.Option) Option { return engineOption{opt: o} }

func setsKey() bool { return true }

// ginOption is an option of the Gin adapter.
type ginOption struct {
	name     string
	perRoute bool
	fn       func(*config) error
}

func (o ginOption) apply(c *config) error { return o.fn(c) }
func (o ginOption) route() bool           { return o.perRoute }
func (o ginOption) String() string        { return o.name }

// invalid is the error of an option's call that gives a wrong value.
func invalid(call, reason string) error {
	return fmt.Errorf("ginlimit: %s: %w: %s", call, ErrInvalidOption, reason)
}

// WithEnabled turns rate limiting on or off. A disabled Limiter passes every
// request through without counting it. The default is true.
func WithEnabled(enabled bool) Option { return engine(httplimit.WithEnabled(enabled)) }

// WithLimits sets the Limiter's limits in the notation of
// backend.ParseLimits, such as "100/minute;1000/hour" or "500 per 7 days". A
// request is admitted only if every limit admits it. The default is
// "100/minute".
func WithLimits(limits string) Option { return engine(httplimit.WithLimits(limits)) }

// WithStrategy sets the algorithm: SlidingWindow (the default), FixedWindow
// or TokenBucket.
func WithStrategy(s Strategy) Option { return engine(httplimit.WithStrategy(s)) }

// WithKeyPrefix sets the namespace of every key, "ginlimit" by default, so
// that several services can share one store. It is 1 to 64 printable ASCII
// characters without spaces or braces.
func WithKeyPrefix(prefix string) Option { return engine(httplimit.WithKeyPrefix(prefix)) }

// WithName names a policy. The name appears in the IETF headers and
// namespaces the keys, so routes given the same name, strategy and periods
// share one count, each holding it to its own limits. The Limiter's own limits are named "default"; a
// route limited with Limit is named after its path (such as "/login") unless
// WithName says otherwise.
func WithName(name string) Option { return engine(httplimit.WithName(name)) }

// WithHeaders selects the rate-limit headers set on every limited response:
// HeadersLegacy (the default), HeadersIETF, HeadersBoth or HeadersNone.
func WithHeaders(h Headers) Option { return engine(httplimit.WithHeaders(h)) }

// WithLogger sets the logger for configuration and backend events. The
// default is slog.Default().
func WithLogger(l *slog.Logger) Option { return engine(httplimit.WithLogger(l)) }

// WithClock sets the source of time, for tests; see httplimit.WithClock.
func WithClock(now func() time.Time) Option { return engine(httplimit.WithClock(now)) }

// WithBackend makes the Limiter count in b instead of the built-in memory
// backend. The caller owns b: Limiter.Close does not close it.
func WithBackend(b backend.Backend) Option { return engine(httplimit.WithBackend(b)) }

// WithMemoryMaxKeys bounds the number of keys the built-in memory backend
// holds; past it, expired and then least recently used keys are evicted. The
// default is 100,000 keys, about 13 MB.
func WithMemoryMaxKeys(n int) Option { return engine(httplimit.WithMemoryMaxKeys(n)) }

// WithFailureMode sets how requests are decided while the shared backend
// cannot decide them: FailToMemory (the default), FailOpen or FailClosed. It
// may be given to Limit, so that a sensitive route fails closed while the
// rest fail to memory:
//
//	r.POST("/login", lim.Limit("5/minute", ginlimit.WithFailureMode(ginlimit.FailClosed)), login)
func WithFailureMode(m FailureMode) Option { return engine(httplimit.WithFailureMode(m)) }

// WithFallbackLimits sets stricter limits for the time requests are decided
// in memory (FailToMemory), in the notation of WithLimits; see
// httplimit.WithFallbackLimits.
func WithFallbackLimits(limits string) Option { return engine(httplimit.WithFallbackLimits(limits)) }

// WithOnFallbackChange calls f with true when the shared backend becomes
// unavailable and requests start being decided by the failure mode, and with
// false when it recovers; see httplimit.WithOnFallbackChange.
func WithOnFallbackChange(f func(active bool)) Option {
	return engine(httplimit.WithOnFallbackChange(f))
}

// WithRedisURL makes the Limiter count in Redis, so that every instance of
// the service shares one limit; see httplimit.WithRedisURL for the forms of
// the URL. A server that does not answer is not an error: the Limiter
// decides in memory until it does.
func WithRedisURL(rawURL string) Option { return engine(httplimit.WithRedisURL(rawURL)) }

// WithRedisOptions makes the Limiter count in Redis with a client built from
// opt; see httplimit.WithRedisOptions.
func WithRedisOptions(opt rueidis.ClientOption) Option {
	return engine(httplimit.WithRedisOptions(opt))
}

// WithRedisClient makes the Limiter count in Redis through client, which the
// caller owns and closes after the Limiter; see httplimit.WithRedisClient.
func WithRedisClient(client rueidis.Client) Option {
	return engine(httplimit.WithRedisClient(client))
}

// WithRedisTimeout bounds each Redis call a request waits for: past it, the
// request is decided by the failure mode. It is 1ms to 10s; the default is
// 100ms.
func WithRedisTimeout(d time.Duration) Option { return engine(httplimit.WithRedisTimeout(d)) }

// WithRedisClientCache turns client-side caching of denied keys on (the
// default) or off; see httplimit.WithRedisClientCache.
func WithRedisClientCache(on bool) Option { return engine(httplimit.WithRedisClientCache(on)) }

// WithRedisCAFile trusts the CA certificates of the PEM file at path for a
// rediss:// connection, in place of the system's roots; see
// httplimit.WithRedisCAFile.
func WithRedisCAFile(path string) Option { return engine(httplimit.WithRedisCAFile(path)) }

// WithPolicy declares a policy of its own limits that WithPolicyFunc can
// choose by name for a request: a plan. opts may set its WithStrategy,
// WithHeaders, WithFailureMode and WithShadow. The plans and the Limiter's own policy
// count a client together, so that a client whose plan changes keeps the
// units it used; see httplimit.WithPolicy and POLICIES.md in docs/.
func WithPolicy(name, limits string, opts ...Option) Option {
	engineOpts := make([]httplimit.Option, len(opts))
	for i, o := range opts {
		eo, ok := o.(engineOption)
		if !ok {
			return ginOption{name: "WithPolicy", fn: func(*config) error {
				return invalid(fmt.Sprintf("WithPolicy(%q, %q)", name, limits),
					fmt.Sprintf("option %d (%v) cannot be given to a policy: only WithStrategy, WithHeaders, WithFailureMode and WithShadow can", i, o))
			}}
		}
		engineOpts[i] = eo.opt
	}
	return engine(httplimit.WithPolicy(name, limits, engineOpts...))
}

// WithPolicyFunc chooses the policy of each request the Limiter's own limits
// would count (Middleware; not a route's Limit): choose returns the name of a
// policy declared with WithPolicy, for example the plan of the user an
// authentication middleware set on c. An empty name, the Limiter's own, or
// a name no policy has (counted in Stats.UnknownPolicies) is counted by the
// Limiter's own policy. choose runs on every request and must be fast.
func WithPolicyFunc(choose func(c *gin.Context) string) Option {
	return ginOption{name: "WithPolicyFunc", fn: func(c *config) error {
		if choose == nil {
			return invalid("WithPolicyFunc(nil)", "the function is nil")
		}
		c.choose = choose
		return nil
	}}
}

// WithLimitsFunc gives a request limits of its own, such as a tenant's
// override loaded from a database: limitsOf returns them in the notation of
// WithLimits, or "" for those of the request's policy. Each string is parsed
// once and kept; invalid ones are logged once and counted by the policy's own
// limits (Stats.InvalidLimits). See httplimit.WithLimitsFunc.
func WithLimitsFunc(limitsOf func(c *gin.Context) string) Option {
	return ginOption{name: "WithLimitsFunc", fn: func(c *config) error {
		if limitsOf == nil {
			return invalid("WithLimitsFunc(nil)", "the function is nil")
		}
		c.limitsOf = limitsOf
		return nil
	}}
}

// WithDecisionHook calls hook with an Event for every decision, with the
// route's pattern; see httplimit.WithDecisionHook. Event.Key is personal
// data: never a metric label.
func WithDecisionHook(hook func(httplimit.Event)) Option {
	return engine(httplimit.WithDecisionHook(hook))
}

// WithBreakerHook calls hook when the shared backend's breaker changes
// state; see httplimit.WithBreakerHook.
func WithBreakerHook(hook func(httplimit.BreakerEvent)) Option {
	return engine(httplimit.WithBreakerHook(hook))
}

// WithShadow turns shadow mode on or off: requests the limits would refuse
// are admitted and reported (Stats.Shadowed, the decision hook, one log line
// per client per window) instead of refused. It may be given to Limit and
// WithPolicy; see httplimit.WithShadow.
func WithShadow(on bool) Option { return engine(httplimit.WithShadow(on)) }

// WithPenalty blocks a client for d when one of its requests is denied by
// the limits, in the same decision; see httplimit.WithPenalty. It may be
// given to Limit:
//
//	r.POST("/login", lim.Limit("5/minute", ginlimit.WithPenalty(15*time.Minute)), login)
func WithPenalty(d time.Duration) Option { return engine(httplimit.WithPenalty(d)) }

// WithCountIf counts a request only when count, called after the rest of
// the handler chain, returns true, for example for failed logins:
//
//	lim.Limit("5/minute", ginlimit.WithCountIf(func(c *gin.Context) bool { return c.Writer.Status() >= 400 }))
//
// A request is counted when it is admitted, so that concurrent requests
// never go past the limit, and given back when count returns false (one more
// call to the shared backend). It may be given to Limit.
func WithCountIf(count func(c *gin.Context) bool) Option {
	return ginOption{name: "WithCountIf", perRoute: true, fn: func(c *config) error {
		if count == nil {
			return invalid("WithCountIf(nil)", "the function is nil")
		}
		c.countIf = count
		return nil
	}}
}

// FromEnv configures the Limiter from the environment: REDIS_URL and the
// RATELIMIT_ variables that httplimit.FromEnv lists. RATELIMIT_KEY_BY=ip
// counts by Gin's ClientIP, as KeyByIP does.
func FromEnv() Option {
	// FromEnv takes a blank variable as unset: so does the check of whether
	// it sets the key.
	return engineOption{opt: httplimit.FromEnv(), keys: func() bool { return strings.TrimSpace(os.Getenv(httplimit.EnvKeyBy)) != "" }}
}

// KeyByIP counts requests by client IP, as gin's c.ClientIP() reports it,
// with IPv6 addresses grouped by /64 (one host owns a whole /64). It is the
// default.
//
// WARNING: gin trusts every proxy by default, so c.ClientIP() returns the
// leftmost X-Forwarded-For entry, which the client writes: a client that sends
// a new X-Forwarded-For with each request is never limited. Call
// engine.SetTrustedProxies with your proxies' addresses (or nil when there are
// none), or use KeyByForwardedFor behind a load balancer.
func KeyByIP() Option { return engineOption{opt: httplimit.KeyByIP(), keys: setsKey} }

// KeyByHeader counts requests by the value of the named request header, such
// as an API key, and by client IP (KeyByIP) when the header is absent or
// empty; see httplimit.KeyByHeader.
func KeyByHeader(name string) Option {
	return engineOption{opt: httplimit.KeyByHeader(name), keys: setsKey}
}

// KeyByForwardedFor counts requests by the nth X-Forwarded-For entry from the
// right (n = 1 is the last one), with IPv6 grouped by /64, and by the peer
// address when there is no such entry; see httplimit.KeyByForwardedFor to
// choose n.
func KeyByForwardedFor(n int) Option {
	return engineOption{opt: httplimit.KeyByForwardedFor(n), keys: setsKey}
}

// WithKeyFunc counts requests under the key f returns. The default is
// KeyByIP. An empty key falls back to the client IP.
func WithKeyFunc(f KeyFunc) Option {
	return ginOption{name: "WithKeyFunc", perRoute: true, fn: func(c *config) error {
		if f == nil {
			return invalid("WithKeyFunc(nil)", "the key function is nil")
		}
		c.keyFunc = f
		return nil
	}}
}

// WithSkip exempts the requests for which skip returns true: they are
// neither limited nor counted.
func WithSkip(skip gin.Skipper) Option {
	return ginOption{name: "WithSkip", perRoute: true, fn: func(c *config) error {
		if skip == nil {
			return invalid("WithSkip(nil)", "the skipper is nil")
		}
		c.skip = skip
		return nil
	}}
}

// WithCost weighs requests: each consumes cost(c) units instead of one. A
// cost of zero is free (admitted and not counted, even over the limit); a
// negative cost counts as zero. A cost larger than a limit's count is always
// denied.
func WithCost(cost func(c *gin.Context) int) Option {
	return ginOption{name: "WithCost", perRoute: true, fn: func(c *config) error {
		if cost == nil {
			return invalid("WithCost(nil)", "the cost function is nil")
		}
		c.cost = cost
		return nil
	}}
}

// WithExceededHandler replaces the response to a denied request. The default
// answers 429 with the JSON body {"error":"rate limit exceeded","retry_after":N}.
func WithExceededHandler(h ExceededHandler) Option {
	return ginOption{name: "WithExceededHandler", perRoute: true, fn: func(c *config) error {
		if h == nil {
			return invalid("WithExceededHandler(nil)", "the handler is nil")
		}
		c.exceeded = h
		return nil
	}}
}

// WithHealth registers the health group (see RegisterHealth) on r once the
// Limiter is built. Its body is the Summary, safe on a public router.
func WithHealth(r gin.IRouter) Option {
	return ginOption{name: "WithHealth", fn: func(c *config) error {
		if r == nil {
			return invalid("WithHealth(nil)", "the router is nil")
		}
		c.health = append(c.health, r)
		return nil
	}}
}

// WithHealthDetails registers the detailed health route (see
// RegisterHealthDetails) on r once the Limiter is built. r must be behind
// authentication: the details tell where Redis is and why it failed.
func WithHealthDetails(r gin.IRouter) Option {
	return ginOption{name: "WithHealthDetails", fn: func(c *config) error {
		if r == nil {
			return invalid("WithHealthDetails(nil)", "the router is nil")
		}
		c.healthDetails = append(c.healthDetails, r)
		return nil
	}}
}
