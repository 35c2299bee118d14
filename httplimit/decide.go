package httplimit

import (
	"context"
	"net/http"
	"strconv"
	"time"
	"unsafe"

	"github.com/ginlimit/ginlimit/backend"
)

// Source says what decided a request.
type Source uint8

const (
	// SourceShared is the shared backend: Redis, or a backend given by
	// WithBackend.
	SourceShared Source = iota
	// SourceMemory is the built-in memory backend of a Limiter that has no
	// shared backend.
	SourceMemory
	// SourceFallback is the memory backend deciding for a shared backend that
	// cannot (FailToMemory), with the fallback limits.
	SourceFallback
	// SourceOpen admitted the request undecided: FailOpen while the shared
	// backend cannot decide, a disabled Limiter, or a closed one.
	SourceOpen
	// SourceClosed refused the request undecided: FailClosed while the
	// shared backend cannot decide. It is answered 503.
	SourceClosed
)

var sourceNames = [...]string{"shared", "memory", "fallback", "open", "closed"}

// String returns "shared", "memory", "fallback", "open" or "closed".
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "Source(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText makes a Source appear by name in JSON and logs.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Decision is the outcome of Limiter.Decide for one request.
type Decision struct {
	// Allowed reports whether the request may proceed; when it was counted,
	// its cost was consumed.
	Allowed bool
	// Source is what decided: the shared backend, the memory backend, or a
	// failure mode.
	Source Source
	// Policy is the name of the policy that counted the request, and Key the
	// client key it was counted under, without prefix.
	Policy string
	Key    string
	// Limit is the limit closest to exhaustion, with its Remaining units and
	// the time until it Resets. They are zero when Source is SourceOpen or
	// SourceClosed.
	Limit     backend.Limit
	Remaining int64
	Reset     time.Duration
	// RetryAfter is, for a refused request, the time after which it could be
	// admitted: when the limits admit it again, or, for SourceClosed, when
	// the shared backend is probed again. It is zero for an admitted one.
	RetryAfter time.Duration
	// Blocked reports that the client is blocked (Limiter.Block, or
	// WithPenalty): it was refused whatever its count, until RetryAfter.
	Blocked bool
	// Shadow reports a request that the policy would have refused, admitted
	// by shadow mode (WithShadow): Allowed is true, and RetryAfter says when
	// the refusal would have ended.
	Shadow bool

	scope  *scope  // nil when undecided (SourceOpen, SourceClosed)
	pol    *Policy // the policy that decided, when decided
	mode   Headers
	cost   int64
	result backend.Result
}

// Decide counts a request of cost units (1 for a plain request; 0 is free:
// admitted and not counted) by client key under p, in the shared backend if
// there is one and it can decide, and otherwise by p's failure mode. It
// never fails: a backend's failure is decided by the failure mode, and
// counted in Stats.Errors. An empty key is "unknown"; a key longer than 128
// bytes is counted under its hash. ctx bounds the call with the shared
// backend, along with WithRedisTimeout.
func (l *Limiter) Decide(ctx context.Context, p *Policy, key string, cost int64) Decision {
	return l.DecideRoute(ctx, p, "", key, cost)
}

// DecideRoute is Decide for a request of route, the pattern the router
// matched (never the request's path, which the client chooses), which the
// decision hook reports (see WithDecisionHook). Adapters call it.
func (l *Limiter) DecideRoute(ctx context.Context, p *Policy, route, key string, cost int64) (d Decision) {
	// d is the named result, and the backend writes its Result straight
	// into d.result: a Decision is a few hundred bytes, and copying it on the
	// way out cost a tenth of a memory decision.
	key = boundKey(key)
	cost = max(cost, 0)
	d.Policy, d.Key, d.mode, d.cost = p.scope.name, key, p.headers, cost
	if !l.cfg.enabled {
		d.Allowed, d.Source = true, SourceOpen
		return d
	}
	res := &d.result
	hook := l.cfg.hook
	s, src, took := l.decide(ctx, p, key, cost, res, hook != nil)
	d.Source = src
	switch src {
	case SourceOpen:
		d.Allowed = true
		l.stats.stripe().allowed.Add(1)
	case SourceClosed:
		d.RetryAfter = time.Second
		if r := l.remote; r != nil {
			d.RetryAfter = max(r.retryIn(s.keyPrefix+key, r.now()), time.Second)
		}
		l.stats.stripe().unavailable.Add(1)
	default:
		l.decided(&d, s, p)
		d.Allowed, d.RetryAfter = res.Allowed, res.RetryAfter
		if res.Allowed {
			l.stats.stripe().allowed.Add(1)
		} else {
			l.stats.stripe().denied.Add(1)
		}
	}
	if !d.Allowed && p.shadow && d.Source != SourceClosed {
		l.shadow(&d)
	}
	if hook != nil {
		hook(Event{
			Context: ctx,
			Policy:  d.Policy, Route: route, Key: d.Key,
			Allowed: d.Allowed, Shadow: d.Shadow, Blocked: d.Blocked, Source: d.Source,
			Limit: d.Limit, Remaining: d.Remaining, RetryAfter: d.RetryAfter,
			Cost: cost, Duration: took, Cached: res.Local,
		})
	}
	return d
}

// decided fills in d what a backend's decision, in d.result, says: by the
// limits of scope s of policy p, the tightest limit and whether the client
// is blocked.
func (l *Limiter) decided(d *Decision, s *scope, p *Policy) {
	res := &d.result
	if res.Now.IsZero() {
		res.Now = l.now()
	}
	i := tightest(res, s)
	d.scope, d.pol = s, p
	d.Limit, d.Remaining, d.Reset = s.limits[i], res.States[i].Remaining, res.States[i].Reset
	d.Blocked = res.Blocked
}

// decide asks the shared backend, if there is one and it can decide, and
// otherwise applies the policy's failure mode, for the key of client under
// p, writing the backend's Result to res. The scope it returns is the one of
// the limits that decided: p's, or its fallback's. When timed, it also
// returns how long the shared backend took: a memory decision, well under a
// microsecond, is not timed, which spares two clock reads.
func (l *Limiter) decide(ctx context.Context, p *Policy, client string, cost int64, res *backend.Result, timed bool) (s *scope, src Source, took time.Duration) {
	s = p.scope
	if l.closed.Load() {
		l.stats.stripe().errors.Add(1)
		return s, SourceOpen, 0
	}
	pol := p.policy
	src = SourceMemory
	if r := l.remote; r != nil {
		var ok bool
		var err error
		var start time.Time
		if timed {
			start = time.Now()
		}
		*res, ok, err = r.allow(ctx, s.keyPrefix+client, pol, cost)
		if timed && !res.Local {
			took = time.Since(start)
		}
		if ok {
			return s, SourceShared, took
		}
		st := l.stats.stripe()
		if err != nil {
			st.errors.Add(1)
		}
		st.fallback.Add(1)
		switch p.failure {
		case FailOpen:
			return s, SourceOpen, took
		case FailClosed:
			return s, SourceClosed, took
		}
		s, pol, src = s.fallback, p.fallback, SourceFallback
	}
	m := l.memoryBackend()
	if m == nil {
		l.stats.stripe().errors.Add(1)
		return s, SourceOpen, took
	}
	// The memory store hashes the key and keeps nothing of it, so the key
	// can live in a buffer on the stack: no allocation per request.
	var buf [128]byte
	key := append(append(buf[:0], s.keyPrefix...), client...)
	var err error
	*res, err = m.Allow(ctx, unsafe.String(unsafe.SliceData(key), len(key)), pol, cost)
	if err != nil { // closed
		l.stats.stripe().errors.Add(1)
		return s, SourceOpen, took
	}
	return s, src, took
}

// CountSkipped counts, in Stats.Skipped, a request that an adapter's skip
// function exempted from limiting (see WithSkip).
func (l *Limiter) CountSkipped() { l.stats.stripe().skipped.Add(1) }

// WriteHeaders sets on h the rate-limit headers of the policy's mode (see
// WithHeaders) for a decided request, and Retry-After for a refused one (a
// denial, or SourceClosed), in whole seconds and at least 1.
func (d *Decision) WriteHeaders(h http.Header) {
	if d.scope != nil && d.mode != HeadersNone {
		writeHeaders(h, d.mode, d.scope, &d.result, d.cost)
	}
	if !d.Allowed {
		h[hdrRetryAfter] = []string{strconv.FormatInt(retryAfterSeconds(d.RetryAfter), 10)}
	}
}

// WriteDenial answers a refused request with the default response: 429 Too
// Many Requests with the JSON body {"error":"rate limit exceeded",
// "retry_after":N}, or, for SourceClosed, 503 Service Unavailable with
// {"error":"rate limiter unavailable","retry_after":N}. Call WriteHeaders
// first: WriteDenial writes the status line.
func (d *Decision) WriteDenial(w http.ResponseWriter) {
	code, message := http.StatusTooManyRequests, "rate limit exceeded"
	if d.Source == SourceClosed {
		code, message = http.StatusServiceUnavailable, "rate limiter unavailable"
	}
	body := make([]byte, 0, 64)
	body = append(body, `{"error":"`...)
	body = append(body, message...)
	body = append(body, `","retry_after":`...)
	body = strconv.AppendInt(body, retryAfterSeconds(d.RetryAfter), 10)
	body = append(body, '}')
	w.Header()["Content-Type"] = []string{"application/json; charset=utf-8"}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
