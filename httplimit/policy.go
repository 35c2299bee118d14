package httplimit

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/backend/redis"
)

// A Policy is a set of limits compiled once, with the settings that go with
// them: its name, strategy, key, headers and failure mode. The Limiter's own
// limits are its Default policy; Limiter.Policy compiles a route's. Decide
// counts a request against a Policy.
type Policy struct {
	l *Limiter
	*rules
	scope *scope // the counts' namespace and the headers' cached texts

	overrides sync.Map     // limits string -> *Policy of those limits (Policy.Override)
	nOverride atomic.Int64 // entries of overrides
}

// rules are what the variants of one policy, one per route, share: the
// settings the options gave it, and the limits compiled from them.
type rules struct {
	routeConfig
	policy   backend.Policy
	fallback backend.Policy // decides in memory while the shared backend cannot
	hidden   uint8          // the limits of policy counted for other plans, never shown (plans.go)
	space    string         // the namespace of the counts: the name, or the plans'

	perRoute bool     // named after each route (ForRoute), not fixed
	routes   sync.Map // route pattern -> *Policy, when perRoute
}

// Default returns the policy of the Limiter's own limits, named "default"
// unless WithName says otherwise.
func (l *Limiter) Default() *Policy { return l.def }

// Policy compiles limits of a route's own, counted apart from the Limiter's
// default limits, in the notation of WithLimits. opts may hold the per-route
// options (WithStrategy, the key options, WithName, WithSkip, WithCost,
// WithExceededHandler, WithHeaders, WithFailureMode, WithPenalty,
// WithCountIf, WithShadow); the rest default to
// the Limiter's. Without WithName the policy is named after each route (see
// ForRoute). An invalid limit or option, or one that applies only to a whole
// Limiter, is an error that names it.
func (l *Limiter) Policy(limits string, opts ...Option) (*Policy, error) {
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
	return l.compile(&cfg, nil, maxCachedRemaining)
}

// compile checks the policy cfg describes and prepares it, counted with
// others in the namespace and periods of share when it is not nil (see
// plans.go), with cached Remaining values kept formatted per limit.
func (l *Limiter) compile(cfg *config, share *sharing, cached int64) (*Policy, error) {
	r := &rules{
		routeConfig: cfg.routeConfig,
		policy:      backend.Policy{Strategy: cfg.strategy, Limits: slices.Clone(cfg.limits), Penalty: cfg.penalty},
		perRoute:    cfg.name == "",
	}
	if cfg.countIf != nil && l.cfg.backend != nil {
		if _, ok := l.cfg.backend.(backend.Controller); !ok {
			return nil, invalidf("WithCountIf", "the backend %s gives cannot give counts back: it is not a backend.Controller", l.cfg.from.backend)
		}
	}
	if err := r.policy.Validate(); err != nil {
		return nil, invalidFrom(cfg.from.limits, fmt.Errorf("%w%s", err, named(cfg.from.strategy)))
	}
	if l.cfg.redis.configured() {
		if err := redis.CheckPolicy(r.policy); err != nil {
			return nil, invalidFrom(cfg.from.limits, fmt.Errorf("%w%s", err, named(cfg.from.strategy, l.cfg.from.redis)))
		}
	}
	name := cfg.name
	if r.perRoute {
		name = routeName("")
	}
	r.space = name
	if share != nil {
		r.space = share.space
		r.policy.Limits, r.hidden = share.expand(r.policy)
	}
	r.fallback = fallbackPolicy(r.policy, l.cfg.fallbackLimits)
	if err := r.fallback.Validate(); err != nil {
		return nil, invalid(l.cfg.from.fallback, fmt.Errorf("with the limits %q%s: %w", backend.FormatLimits(r.policy.Limits), named(cfg.from.limits), err))
	}
	return l.newPolicy(r, name, cached), nil
}

// newPolicy returns the policy of r under name, with the scope of its
// fallback limits when they differ.
func (l *Limiter) newPolicy(r *rules, name string, cached int64) *Policy {
	space := r.space
	if r.perRoute {
		space = name
	}
	s := newScope(l.cfg.keyPrefix, space, name, r.policy, r.hidden, cached)
	s.fallback = s
	if !slices.Equal(r.fallback.Limits, r.policy.Limits) {
		// A fallback limit of a hidden limit's period is shown.
		hidden := r.hidden
		for i, f := range r.fallback.Limits[:len(r.policy.Limits)] {
			if f != r.policy.Limits[i] {
				hidden &^= 1 << i
			}
		}
		s.fallback = newScope(l.cfg.keyPrefix, space, name, r.fallback, hidden, cached)
	}
	return &Policy{l: l, rules: r, scope: s}
}

// Key returns the key the policy's key option (KeyByHeader,
// KeyByForwardedFor, WithKeyFunc) gives r, or "" when the policy counts by
// client IP (KeyByIP, the default): the adapter then counts r under the
// client IP it knows.
func (p *Policy) Key(r *http.Request) string {
	if p.keyFunc == nil {
		return ""
	}
	return p.keyFunc(r)
}

// ForRoute returns the policy that counts the requests of one route. A
// policy given a name (WithName, or the Limiter's default) counts every
// route under it and is its own ForRoute. One without a name counts each
// route apart, named after the route's pattern, such as "/login", with the
// characters a name may not hold replaced by '_' ("POST /items/{id}" is
// named "POST_/items/_id_"): pass the router's pattern, never the request's
// path, which a client chooses. An empty pattern (no route matched) is
// named "*".
func (p *Policy) ForRoute(pattern string) *Policy {
	if !p.perRoute {
		return p
	}
	if v, ok := p.routes.Load(pattern); ok {
		return v.(*Policy)
	}
	v, _ := p.routes.LoadOrStore(pattern, p.l.newPolicy(p.rules, routeName(pattern), maxCachedRemaining))
	return v.(*Policy)
}

// routeName makes a route pattern usable as a policy name: characters that
// checkName refuses become '_', and an unmatched route is "*".
func routeName(pattern string) string {
	if pattern == "" {
		return "*"
	}
	return strings.Map(func(r rune) rune {
		if !nameChar(r) {
			return '_'
		}
		return r
	}, pattern)
}
