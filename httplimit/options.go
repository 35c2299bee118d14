package httplimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/memory"
)

// ErrInvalidOption is wrapped by every configuration error that New,
// Policy, Limit and FromEnv return.
var ErrInvalidOption = errors.New("invalid option")

// Defaults.
const (
	defaultLimits     = "100/minute"
	defaultKeyPrefix  = "ginlimit"
	defaultPolicyName = "default"
)

// ExceededHandler writes the response to a denied request, in place of
// Decision.WriteDenial. The rate-limit headers and Retry-After are already
// set when it runs. A handler that writes nothing leaves a 429 with an empty
// body.
type ExceededHandler func(w http.ResponseWriter, r *http.Request, d Decision)

// An Option configures a Limiter (New) or a route's policy (Limit, Policy). Options
// apply in order, so a later option overrides an earlier one, including the
// values FromEnv reads.
type Option interface {
	apply(*config) error
	// route reports whether the option may be given to Limiter.Limit.
	route() bool
}

type option struct {
	name     string // the option's function name, for errors
	perRoute bool
	fn       func(*config) error
}

func (o option) apply(c *config) error { return o.fn(c) }
func (o option) String() string        { return o.name }
func (o option) route() bool           { return o.perRoute }

// limiterOption applies to the whole Limiter and is refused by Limit.
func limiterOption(name string, fn func(*config) error) Option {
	return option{name: name, fn: fn}
}

// routeOption may be given to New and to Limit.
func routeOption(name string, fn func(*config) error) Option {
	return option{name: name, perRoute: true, fn: fn}
}

// config is what the options build: the settings of the whole Limiter, and
// those of a policy, which Limit starts from a copy of the Limiter's own.
// Options that only apply to a whole Limiter (limiterOption) write
// limiterConfig; those a route may take (routeOption) write routeConfig.
type config struct {
	limiterConfig
	routeConfig
	from origins // where the settings checked together came from
}

// limiterConfig holds the settings of the whole Limiter.
type limiterConfig struct {
	enabled        bool
	backend        backend.Backend
	memoryMaxKeys  int
	logger         *slog.Logger
	clock          func() time.Time // nil: the backend's clock, or time.Now
	keyPrefix      string
	redis          redisConfig
	fallbackLimits []backend.Limit
	onFallback     func(active bool)

	hook      func(Event)        // WithDecisionHook
	onBreaker func(BreakerEvent) // WithBreakerHook

	// The plans (plans.go).
	policies []declaredPolicy
	choose   func(*http.Request) string
	limitsOf func(*http.Request) string
}

// routeConfig holds the settings of one policy: the Limiter's own limits,
// or a route's (Limit).
type routeConfig struct {
	limits   []backend.Limit
	name     string
	strategy backend.Strategy
	keyFunc  KeyFunc // nil: the client IP
	skip     func(*http.Request) bool
	cost     func(*http.Request) int
	exceeded ExceededHandler
	headers  Headers
	failure  FailureMode
	shadow   bool                                   // WithShadow
	penalty  time.Duration                          // WithPenalty
	countIf  func(r *http.Request, status int) bool // WithCountIf
}

func defaultConfig() config {
	limits, err := backend.ParseLimits(defaultLimits)
	if err != nil {
		panic(err) // defaultLimits is a constant that parses
	}
	return config{
		limiterConfig: limiterConfig{
			enabled:       true,
			memoryMaxKeys: memory.DefaultMaxKeys,
			logger:        slog.Default(),
			keyPrefix:     defaultKeyPrefix,
			redis:         redisConfig{timeout: DefaultRedisTimeout},
		},
		routeConfig: routeConfig{
			limits:   limits,
			name:     defaultPolicyName,
			strategy: backend.SlidingWindow,
			headers:  HeadersLegacy,
		},
	}
}

// origins records where the settings that are checked together, when the
// Limiter is built, came from: an option's call such as
// WithRedisCAFile("/ca.pem"), or an environment variable such as
// RATELIMIT_REDIS_CA_FILE="/ca.pem". An error of such a check names each
// input it involves, so that a user knows what to change. An empty origin is
// a default.
type origins struct {
	limits, strategy, fallback, failure    string
	backend, redis, caFile, timeout, cache string
}

// named joins the non-empty origins, for the end of an error message:
// " (with A, B)", or "" when all are empty.
func named(origins ...string) string {
	var set []string
	for _, o := range origins {
		if o != "" {
			set = append(set, o)
		}
	}
	if len(set) == 0 {
		return ""
	}
	return " (with " + strings.Join(set, ", ") + ")"
}

// optionError is a configuration error of one input: an option's call, such
// as WithRedisTimeout(0s), or an environment variable and its value. It
// wraps ErrInvalidOption and the cause.
type optionError struct {
	input string
	err   error
}

func (e *optionError) Error() string {
	return "ginlimit: " + e.input + ": " + ErrInvalidOption.Error() + ": " + e.err.Error()
}

func (e *optionError) Unwrap() []error { return []error{ErrInvalidOption, e.err} }

func invalid(option string, err error) error {
	return &optionError{input: option, err: err}
}

// invalidFrom is invalid for a setting of the given origin, or a bare
// configuration error when the setting has none (a default, or a route's
// own limits, which the route's error names).
func invalidFrom(origin string, err error) error {
	if origin == "" {
		return fmt.Errorf("ginlimit: %w: %w", ErrInvalidOption, err)
	}
	return invalid(origin, err)
}

func invalidf(option, format string, args ...any) error {
	return invalid(option, fmt.Errorf(format, args...))
}

// WithEnabled turns rate limiting on or off. A disabled Limiter passes every
// request through without counting it. The default is true.
func WithEnabled(enabled bool) Option {
	return limiterOption("WithEnabled", func(c *config) error {
		c.enabled = enabled
		return nil
	})
}

// WithLimits sets the Limiter's limits in the notation of
// backend.ParseLimits, such as "100/minute;1000/hour" or "500 per 7 days". A
// request is admitted only if every limit admits it. The default is
// "100/minute".
func WithLimits(limits string) Option {
	return limiterOption("WithLimits", func(c *config) error {
		parsed, err := backend.ParseLimits(limits)
		if err != nil {
			return invalid(fmt.Sprintf("WithLimits(%q)", limits), err)
		}
		c.limits, c.from.limits = parsed, fmt.Sprintf("WithLimits(%q)", limits)
		return nil
	})
}

// WithStrategy sets the algorithm: backend.SlidingWindow (the default),
// backend.FixedWindow or backend.TokenBucket. See ALGORITHMS.md in docs/.
func WithStrategy(s backend.Strategy) Option {
	return routeOption("WithStrategy", func(c *config) error {
		if s > backend.TokenBucket {
			return invalidf(fmt.Sprintf("WithStrategy(%v)", s), "unknown strategy")
		}
		c.strategy, c.from.strategy = s, fmt.Sprintf("WithStrategy(%v)", s)
		return nil
	})
}

// WithKeyFunc counts requests under the key f returns. The default is
// KeyByIP. An empty key falls back to the client IP.
func WithKeyFunc(f KeyFunc) Option {
	return routeOption("WithKeyFunc", func(c *config) error {
		if f == nil {
			return invalidf("WithKeyFunc(nil)", "the key function is nil")
		}
		c.keyFunc = f
		return nil
	})
}

// WithKeyPrefix sets the namespace of every key, "ginlimit" by default, so
// that several services can share one store. It is 1 to 64 printable ASCII
// characters without spaces or braces.
func WithKeyPrefix(prefix string) Option {
	return limiterOption("WithKeyPrefix", func(c *config) error {
		if err := checkName(prefix); err != nil {
			return invalid(fmt.Sprintf("WithKeyPrefix(%q)", prefix), err)
		}
		c.keyPrefix = prefix
		return nil
	})
}

// WithName names a policy. The name appears in the IETF headers and
// namespaces the keys, so routes given the same name, strategy and periods
// share one count, each holding it to its own limits (a backend counts each
// strategy and periods of a key apart, see backend.Backend). The
// Limiter's own limits are named "default"; a route limited with Limit is
// named after its route pattern (such as "POST /login", see Policy.ForRoute)
// unless WithName says otherwise.
func WithName(name string) Option {
	return routeOption("WithName", func(c *config) error {
		if err := checkName(name); err != nil {
			return invalid(fmt.Sprintf("WithName(%q)", name), err)
		}
		c.name = name
		return nil
	})
}

// WithSkip exempts the requests for which skip returns true: they are
// neither limited nor counted.
func WithSkip(skip func(r *http.Request) bool) Option {
	return routeOption("WithSkip", func(c *config) error {
		if skip == nil {
			return invalidf("WithSkip(nil)", "the skipper is nil")
		}
		c.skip = skip
		return nil
	})
}

// WithCost weighs requests: each consumes cost(r) units instead of one. A
// cost of zero is free (admitted and not counted, even over the limit); a
// negative cost counts as zero. A cost larger than a limit's count is always
// denied.
func WithCost(cost func(r *http.Request) int) Option {
	return routeOption("WithCost", func(c *config) error {
		if cost == nil {
			return invalidf("WithCost(nil)", "the cost function is nil")
		}
		c.cost = cost
		return nil
	})
}

// WithExceededHandler replaces the response to a denied request. The default
// (Decision.WriteDenial) answers 429 with the JSON body
// {"error":"rate limit exceeded","retry_after":N}.
func WithExceededHandler(h ExceededHandler) Option {
	return routeOption("WithExceededHandler", func(c *config) error {
		if h == nil {
			return invalidf("WithExceededHandler(nil)", "the handler is nil")
		}
		c.exceeded = h
		return nil
	})
}

// WithHeaders selects the rate-limit headers set on every limited response:
// HeadersLegacy (the default), HeadersIETF, HeadersBoth or HeadersNone.
func WithHeaders(h Headers) Option {
	return routeOption("WithHeaders", func(c *config) error {
		if h > HeadersNone {
			return invalidf(fmt.Sprintf("WithHeaders(%d)", h), "unknown header mode")
		}
		c.headers = h
		return nil
	})
}

// WithLogger sets the logger for configuration and backend events. The
// default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return limiterOption("WithLogger", func(c *config) error {
		if l == nil {
			return invalidf("WithLogger(nil)", "the logger is nil")
		}
		c.logger = l
		return nil
	})
}

// WithClock sets the source of time, for tests. It drives the built-in memory
// backend, the times Redis decides at, and the circuit breaker in front of a
// shared backend (when its probes are due); a backend given by WithBackend
// keeps its own clock. By default the memory backend reads the monotonic
// clock (see memory.WithClock).
func WithClock(now func() time.Time) Option {
	return limiterOption("WithClock", func(c *config) error {
		if now == nil {
			return invalidf("WithClock(nil)", "the clock is nil")
		}
		c.clock = now
		return nil
	})
}

// WithBackend makes the Limiter count in b instead of the built-in memory
// backend. The caller owns b: Limiter.Close does not close it.
func WithBackend(b backend.Backend) Option {
	return limiterOption("WithBackend", func(c *config) error {
		if b == nil {
			return invalidf("WithBackend(nil)", "the backend is nil")
		}
		c.backend, c.from.backend = b, "WithBackend"
		return nil
	})
}

// WithMemoryMaxKeys bounds the number of keys the built-in memory backend
// holds; past it, expired and then least recently used keys are evicted. The
// default is 100,000 keys: at about 130 bytes a key (policies of one or two
// limits), about 13 MB.
func WithMemoryMaxKeys(n int) Option {
	return limiterOption("WithMemoryMaxKeys", func(c *config) error {
		if n < 1 {
			return invalidf(fmt.Sprintf("WithMemoryMaxKeys(%d)", n), "the bound must be at least 1")
		}
		c.memoryMaxKeys = n
		return nil
	})
}

// checkName accepts 1 to 64 printable ASCII characters other than space,
// quote, backslash and braces: safe inside a store key, a Redis Cluster hash
// tag and a structured-field string.
func checkName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("it must be 1 to 64 characters long")
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(rune(s[i])) {
			return fmt.Errorf("character %q is not allowed", s[i])
		}
	}
	return nil
}

// nameChar reports whether r may appear in a name: printable ASCII other than
// space, quote, backslash and braces.
func nameChar(r rune) bool {
	return ' ' < r && r < 0x7f && !strings.ContainsRune(`"\{}`, r)
}
