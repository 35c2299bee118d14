package httplimit

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// Plans are limits that depend on who is calling: a free plan gets
// 60/minute, a paid one 1000/minute and 10000/day, a tenant its own limits
// from a database. WithPolicy declares the named policies, WithPolicyFunc
// chooses one per request by name, and WithLimitsFunc gives a request limits
// of its own. The Limiter's own policy (WithLimits, named by WithName) is
// one of the plans, and the one a request falls back to.
//
// The plans count a client once: they share one namespace, that of the
// Limiter's own policy, and each holds the limits of every period any plan
// of its strategy has, counting those it does not limit without ever
// denying or showing them. A backend keeps a key's counts per strategy and
// periods, whatever the counts (see backend.Backend), so a client whose plan
// changes keeps the units it has used in every period: moved from 60/minute
// to 1000/minute after 50 requests this minute, it has 950 left.

// maxOverrides bounds the per-request limits each policy keeps compiled
// (WithLimitsFunc): past it, one is dropped for each new one.
const maxOverrides = 256

// overrideCachedRemaining is how many Remaining values a per-request policy
// keeps formatted per limit: fewer than a declared one's, as there can be
// maxOverrides of them.
const overrideCachedRemaining = 64

// plans are the Limiter's policies chosen per request.
type plans struct {
	byName   map[string]*Policy // the declared policies and the Limiter's own
	choose   func(*http.Request) string
	limitsOf func(*http.Request) string
}

// sharing is what policies that count a client together share: the
// namespace of their counts, and the periods each of them holds (see
// expand).
type sharing struct {
	space   string
	periods []time.Duration
}

// A declaredPolicy is one WithPolicy.
type declaredPolicy struct {
	name, limits string
	opts         []Option
	from         string // the WithPolicy call or the environment variable
}

// planOptions are the options a declared policy may take.
var planOptions = []string{"WithStrategy", "WithHeaders", "WithFailureMode", "WithShadow"}

// WithPolicy declares a policy of its own limits, in the notation of
// WithLimits, that WithPolicyFunc can choose by name for a request (or an
// adapter, with Limiter.Named). opts may set its WithStrategy, WithHeaders,
// WithFailureMode and WithShadow; it takes the rest from the Limiter's own
// policy. A
// later WithPolicy of the same name replaces an earlier one. The name cannot
// be the Limiter's own (WithName, "default" unless set): that policy's
// limits are WithLimits.
func WithPolicy(name, limits string, opts ...Option) Option {
	where := fmt.Sprintf("WithPolicy(%q, %q)", name, limits)
	return limiterOption(where, func(c *config) error {
		if err := checkName(name); err != nil {
			return invalid(where, err)
		}
		if _, err := backend.ParseLimits(limits); err != nil {
			return invalid(where, err)
		}
		for i, o := range opts {
			op, ok := o.(option)
			if !ok || !slices.Contains(planOptions, op.name) {
				return invalidf(where, "option %d (%v) cannot be given to a policy: only WithStrategy, WithHeaders, WithFailureMode and WithShadow can", i, o)
			}
		}
		c.policies = slices.DeleteFunc(c.policies, func(d declaredPolicy) bool { return d.name == name })
		c.policies = append(c.policies, declaredPolicy{name: name, limits: limits, opts: opts, from: where})
		return nil
	})
}

// WithPolicyFunc chooses the policy of each request that the Limiter's own
// limits would count (Middleware; not a route's Limit): choose returns the
// name of a policy declared with WithPolicy, for example the plan of the
// authenticated user. An empty name, or the Limiter's own, is counted by the
// Limiter's own policy; so is a name no policy has, which Stats counts as
// UnknownPolicies. choose runs on every request: it must be fast, and never
// read the request's body.
func WithPolicyFunc(choose func(r *http.Request) string) Option {
	return limiterOption("WithPolicyFunc", func(c *config) error {
		if choose == nil {
			return invalidf("WithPolicyFunc(nil)", "the function is nil")
		}
		c.choose = choose
		return nil
	})
}

// WithLimitsFunc gives a request limits of its own, in the notation of
// WithLimits, such as a tenant's override loaded from a database: limitsOf
// returns them, or "" for the limits of the request's policy (the Limiter's
// own, or the one WithPolicyFunc chose). The request is then counted under
// that policy's name, with these limits instead of its own: when all their
// periods are periods of the plans, sharing the plans' counts; otherwise
// apart from them altogether (see Policy.Override).
//
// Each limits string is parsed once and kept, up to 256 per policy. Limits
// that do not parse, or that the backend cannot count, are logged once and
// the request is counted by its policy's own limits; Stats counts them as
// InvalidLimits.
func WithLimitsFunc(limitsOf func(r *http.Request) string) Option {
	return limiterOption("WithLimitsFunc", func(c *config) error {
		if limitsOf == nil {
			return invalidf("WithLimitsFunc(nil)", "the function is nil")
		}
		c.limitsOf = limitsOf
		return nil
	})
}

// compilePlans compiles the Limiter's own policy and, when there are any,
// the plans: the declared policies, which share the own policy's counts.
func (l *Limiter) compilePlans(cfg *config) (*Policy, error) {
	if len(cfg.policies) == 0 && cfg.choose == nil && cfg.limitsOf == nil {
		return l.compile(cfg, nil, maxCachedRemaining)
	}
	g := &plans{byName: make(map[string]*Policy), choose: cfg.choose, limitsOf: cfg.limitsOf}
	var shares [3]sharing // per strategy
	cfgs := []config{*cfg}
	for _, d := range cfg.policies {
		if d.name == cfg.name {
			return nil, invalidf(d.from, "%q is the Limiter's own policy: give its limits with WithLimits", d.name)
		}
		pc := *cfg
		pc.name = d.name
		pc.limits, _ = backend.ParseLimits(d.limits) // WithPolicy parsed them
		pc.from.limits, pc.from.strategy = d.from, ""
		for _, o := range d.opts {
			if err := o.apply(&pc); err != nil {
				return nil, err
			}
		}
		cfgs = append(cfgs, pc)
	}
	for _, c := range cfgs {
		sh := &shares[c.strategy]
		sh.space = cfg.name
		for _, lim := range c.limits {
			if !slices.Contains(sh.periods, lim.Period) {
				sh.periods = append(sh.periods, lim.Period)
			}
		}
	}
	for s := range shares {
		if n := len(shares[s].periods); n > backend.MaxLimits {
			return nil, invalidFrom(cfg.from.limits, fmt.Errorf("%w: the plans of the %v have %d periods between them, at most %d are allowed",
				backend.ErrInvalidLimit, backend.Strategy(s), n, backend.MaxLimits))
		}
		slices.Sort(shares[s].periods)
	}
	for _, c := range cfgs {
		p, err := l.compile(&c, &shares[c.strategy], maxCachedRemaining)
		if err != nil {
			return nil, err
		}
		g.byName[c.name] = p
	}
	l.plans = g
	return g.byName[cfg.name], nil
}

// expand returns p's limits over the shared periods, in their order, and
// then its own other periods, shortest first, with a limit that never denies
// for each shared period p does not limit, marked in hidden. Policies that
// share the periods so have one shape (see backend.Backend), and count a
// client together.
func (sh *sharing) expand(p backend.Policy) (limits []backend.Limit, hidden uint8) {
	var own []time.Duration
	for _, lim := range p.Limits {
		if !slices.Contains(sh.periods, lim.Period) {
			own = append(own, lim.Period)
		}
	}
	slices.Sort(own)
	periods := append(slices.Clone(sh.periods), own...)
	if len(periods) > backend.MaxLimits {
		// Per-request limits of periods the plans lack, too many to hold
		// with theirs: their own limits alone (they count apart anyway).
		periods = periods[:0]
		for _, lim := range p.Limits {
			periods = append(periods, lim.Period)
		}
		slices.Sort(periods)
	}
	for i, period := range periods {
		j := slices.IndexFunc(p.Limits, func(lim backend.Limit) bool { return lim.Period == period })
		if j >= 0 {
			limits = append(limits, p.Limits[j])
			continue
		}
		// At most one unit a microsecond, as a Redis token bucket allows.
		limits = append(limits, backend.Limit{Count: min(backend.MaxCount, period.Microseconds()), Period: period})
		hidden |= 1 << i
	}
	return limits, hidden
}

// Named returns the policy called name: one declared with WithPolicy, or
// the Limiter's own. An empty name gives the Limiter's own; so does a name
// no policy has, counted in Stats.UnknownPolicies. An adapter that chooses
// the plan of a request itself passes it to Decide.
func (l *Limiter) Named(name string) *Policy {
	if p, ok := l.policyNamed(name); ok {
		return p
	}
	if name != "" {
		l.stats.stripe().unknownPolicies.Add(1)
	}
	return l.def
}

// policyNamed returns the policy declared as name, or the Limiter's own.
func (l *Limiter) policyNamed(name string) (*Policy, bool) {
	if name == l.def.scope.name {
		return l.def, true
	}
	if l.plans == nil {
		return nil, false
	}
	p, ok := l.plans.byName[name]
	return p, ok
}

// Override returns the policy that counts a request of p with limits of its
// own, in the notation of WithLimits (see WithLimitsFunc), under p's name
// and settings. Limits of no other periods than p's (those p holds for the
// other plans included) share p's counts; limits with a period p lacks have
// another shape, and count apart from p altogether. An empty limits gives
// p. Limits are parsed once and kept, up to 256 per policy; invalid ones
// give p, are logged when parsed, and are counted in Stats.InvalidLimits.
func (p *Policy) Override(limits string) *Policy {
	if limits == "" {
		return p
	}
	if v, ok := p.overrides.Load(limits); ok {
		q := v.(*Policy)
		if q == p {
			p.l.stats.stripe().invalidLimits.Add(1)
		}
		return q
	}
	return p.l.override(p, limits)
}

// override compiles limits for p and keeps them.
func (l *Limiter) override(p *Policy, limits string) *Policy {
	cfg := config{limiterConfig: l.cfg.limiterConfig, routeConfig: p.routeConfig}
	cfg.name = p.scope.name
	share := &sharing{space: p.space}
	if p.perRoute {
		share.space = p.scope.name // one route's variant (ForRoute)
	}
	for _, lim := range p.policy.Limits {
		share.periods = append(share.periods, lim.Period)
	}
	parsed, err := backend.ParseLimits(limits)
	q := p
	if err == nil {
		cfg.limits = parsed
		q, err = l.compile(&cfg, share, overrideCachedRemaining)
	}
	if err != nil {
		q = p
		l.cfg.logger.Warn("ginlimit: per-request limits are invalid: the requests are counted by their policy's own",
			"policy", p.scope.name, "limits", limits, "error", err)
	}
	if n := p.nOverride.Add(1); n > maxOverrides {
		p.overrides.Range(func(k, _ any) bool {
			if _, dropped := p.overrides.LoadAndDelete(k); dropped {
				p.nOverride.Add(-1)
			}
			return false
		})
	}
	if v, loaded := p.overrides.LoadOrStore(limits, q); loaded {
		p.nOverride.Add(-1)
		q = v.(*Policy)
	}
	if q == p {
		l.stats.stripe().invalidLimits.Add(1)
	}
	return q
}

// choose returns the policy of a request the Limiter's own limits would
// count: the plan WithPolicyFunc names, with the limits WithLimitsFunc gives.
func (l *Limiter) choose(r *http.Request) *Policy {
	p := l.def
	if g := l.plans; g != nil {
		if g.choose != nil {
			p = l.Named(g.choose(r))
		}
		if g.limitsOf != nil {
			p = p.Override(g.limitsOf(r))
		}
	}
	return p
}

// limitsShown returns p's limits without those it holds for other plans.
func (p *Policy) limitsShown() []backend.Limit {
	var shown []backend.Limit
	for i, lim := range p.policy.Limits {
		if !p.scope.isHidden(i) {
			shown = append(shown, lim)
		}
	}
	return shown
}
