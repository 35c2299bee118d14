package httplimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// Control of a client's count, for a support desk, an admin route (see
// AdminHandler) or a test: Peek reads it, Reset forgets it, Block and
// Unblock deny a client whatever its count. Each acts on the shared backend
// when there is one, and always on the memory backend too, which holds the
// counts of the failure mode. On Redis, a change takes effect on every
// instance at once: the server invalidates the copies the instances' client
// caches hold.
//
// WithPenalty blocks a client that goes past a limit, and WithCountIf
// counts only the requests whose response matches, by refunding the others
// (Limiter.Refund).

// ErrNoControl is returned by the control methods when the shared backend,
// given by WithBackend, does not implement backend.Controller.
var ErrNoControl = errors.New("ginlimit: the backend cannot change a client's count (it is not a backend.Controller)")

// WithPenalty blocks a client for d when one of its requests is denied by
// the limits: the client is then denied, Decision.Blocked, until d has
// passed, whatever its count. On Redis, the denial and the block are one
// atomic call, and every instance sees the block. d is 1ms to 10 years, in
// whole milliseconds.
func WithPenalty(d time.Duration) Option {
	return routeOption("WithPenalty", func(c *config) error {
		if d <= 0 || d > backend.MaxPeriod || d%time.Millisecond != 0 {
			return invalidf(fmt.Sprintf("WithPenalty(%v)", d), "want a whole number of milliseconds from 1ms to %v", backend.MaxPeriod)
		}
		c.penalty = d
		return nil
	})
}

// WithCountIf counts a request only when count, called after the handler,
// returns true for its response's status, for example status >= 400 to limit
// failed logins. A request is counted when it is admitted, so that
// concurrent requests never go past the limit, and its cost is given back
// (Limiter.Refund) when count returns false. The refund is one more call to
// the shared backend, after the handler, for each request not counted. A
// custom backend (WithBackend) must be a backend.Controller: New refuses
// one that is not, and so does Limit.
func WithCountIf(count func(r *http.Request, status int) bool) Option {
	return routeOption("WithCountIf", func(c *config) error {
		if count == nil {
			return invalidf("WithCountIf(nil)", "the function is nil")
		}
		c.countIf = count
		return nil
	})
}

// Peek returns the Decision a request of cost 1 by key under p would get,
// without counting it: Allowed reports whether it would be admitted, with
// the tightest limit's Remaining and Reset, and Blocked whether the client
// is blocked. For a blocked client, RetryAfter is the time until the block
// ends; for one out of units, the Reset of the limits it has used up: when a
// fixed window ends (exact), when a token bucket is full (an upper bound),
// or when a sliding window's current window ends (an estimate, either way:
// the Retry-After of a request, computed by the backend, is exact). It costs
// one round trip to Redis. Peek is decided as a request would be: by the failure mode
// while the shared backend cannot decide.
func (l *Limiter) Peek(ctx context.Context, p *Policy, key string) Decision {
	var d Decision
	key = boundKey(key)
	d.Policy, d.Key, d.mode, d.cost = p.scope.name, key, p.headers, 1
	if !l.cfg.enabled {
		d.Allowed, d.Source = true, SourceOpen
		return d
	}
	res := &d.result
	s, src, _ := l.decide(ctx, p, key, 0, res, false)
	d.Source = src
	switch src {
	case SourceOpen:
		d.Allowed = true
		return d
	case SourceClosed:
		d.RetryAfter = time.Second
		return d
	}
	l.decided(&d, s, p)
	d.Allowed = !res.Blocked
	for j := range s.limits {
		if res.States[j].Remaining < 1 {
			d.Allowed = false
			d.RetryAfter = max(d.RetryAfter, res.States[j].Reset)
		}
	}
	if res.Blocked {
		d.RetryAfter = max(d.RetryAfter, res.RetryAfter)
	}
	res.Allowed, res.RetryAfter = d.Allowed, d.RetryAfter
	return d
}

// Reset forgets the count of key under p, and any block of it.
func (l *Limiter) Reset(ctx context.Context, p *Policy, key string) error {
	return l.control(ctx, p, key, func(ctx context.Context, c backend.Controller, bp backend.Policy, k string) error {
		return c.Reset(ctx, k, bp)
	})
}

// Block denies every request of key under p for d, whatever its count, and
// counts none of them. A later Block replaces the time left. d is 1ms to 10
// years.
func (l *Limiter) Block(ctx context.Context, p *Policy, key string, d time.Duration) error {
	if d < time.Millisecond || d > backend.MaxPeriod {
		return fmt.Errorf("ginlimit: %w: block duration %v is outside 1ms..%v", ErrInvalidOption, d, backend.MaxPeriod)
	}
	return l.control(ctx, p, key, func(ctx context.Context, c backend.Controller, bp backend.Policy, k string) error {
		return c.Block(ctx, k, bp, d)
	})
}

// Unblock ends a block of key under p; its count is kept.
func (l *Limiter) Unblock(ctx context.Context, p *Policy, key string) error {
	return l.control(ctx, p, key, func(ctx context.Context, c backend.Controller, bp backend.Policy, k string) error {
		return c.Unblock(ctx, k, bp)
	})
}

// Refund gives back the cost d consumed, for a request that is not to
// count (see WithCountIf), to the backend that decided it. A count never
// goes below zero. It does nothing for a Decision that consumed nothing: a
// denial, a shadow admission, a cost of zero, or one the failure mode made
// undecided.
func (l *Limiter) Refund(ctx context.Context, d *Decision) error {
	if !d.Allowed || d.Shadow || d.cost == 0 || d.pol == nil {
		return nil // consumed nothing
	}
	p := d.pol
	var err error
	switch d.Source {
	case SourceShared:
		r := l.remote
		cur := r.cur.Load()
		if c, ok := cur.b.(backend.Controller); ok {
			ctx, cancel := context.WithTimeout(ctx, r.timeout)
			defer cancel()
			err = c.Refund(ctx, d.scope.keyPrefix+d.Key, p.policy, d.cost)
		} else {
			err = ErrNoControl
		}
	case SourceMemory, SourceFallback:
		m := l.memoryBackend()
		if m == nil {
			return backend.ErrClosed
		}
		bp := p.policy
		if d.Source == SourceFallback {
			bp = p.fallback
		}
		err = m.Refund(ctx, d.scope.keyPrefix+d.Key, bp, d.cost)
	}
	if err != nil {
		l.stats.stripe().errors.Add(1)
	}
	return err
}

// control runs op on the shared backend, if there is one, and on the memory
// backend, for key under p.
func (l *Limiter) control(ctx context.Context, p *Policy, key string, op func(context.Context, backend.Controller, backend.Policy, string) error) error {
	if l.closed.Load() {
		return backend.ErrClosed
	}
	key = boundKey(key)
	var errs []error
	if r := l.remote; r != nil {
		cur := r.cur.Load()
		switch c, ok := backendOf(cur).(backend.Controller); {
		case cur == nil:
			errs = append(errs, errors.New("ginlimit: not connected to Redis yet"))
		case !ok:
			errs = append(errs, ErrNoControl)
		default:
			ctx, cancel := context.WithTimeout(ctx, r.timeout)
			err := op(ctx, c, p.policy, p.scope.keyPrefix+key)
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("ginlimit: %s: %s", r.name, r.mask(err)))
			}
		}
	}
	if m := l.memory.Load(); m != nil {
		bp, s := p.policy, p.scope
		if l.remote != nil {
			bp, s = p.fallback, s.fallback // the memory backend holds the failure mode's counts
		}
		if err := op(ctx, m, bp, s.keyPrefix+key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// backendOf returns rb's backend, or nil.
func backendOf(rb *remoteBackend) backend.Backend {
	if rb == nil {
		return nil
	}
	return rb.b
}
