package httplimit

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/ginlimit/ginlimit/backend"
)

// The health messages. Dashboards parse them: they never change.
const (
	MessageMemory = "In-memory rate limiting (single instance only)"
	MessageRedis  = "Redis rate limiting active"
	// MessageRedisPartial says that a Redis Cluster decides most keys, and
	// the failure mode those of the slots whose node failed (see
	// Status.DegradedSlots).
	MessageRedisPartial = "Redis rate limiting active, some cluster slots on the failure mode"
)

// HealthPath is where RegisterHealth puts the health group.
const HealthPath = "/health/ratelimit"

// pingTimeout bounds the readiness check of a backend that can be pinged.
const pingTimeout = 500 * time.Millisecond

// Status is the state of a Limiter, as GET /health/ratelimit serves it.
type Status struct {
	// Backend is the backend deciding now: "redis" or a custom backend's
	// name while the shared backend decides, "memory" otherwise (no shared
	// backend configured, or its failure mode deciding in memory).
	Backend string `json:"backend"`
	// RedisConnected reports whether decisions are made in Redis now.
	RedisConnected bool `json:"redis_connected"`
	// Message is MessageMemory, MessageRedis, or a custom backend's.
	Message string `json:"message"`
	// RedisConfigured reports whether a Redis backend was configured.
	RedisConfigured bool `json:"redis_configured"`
	// RedisAddr is where Redis is, without credentials.
	RedisAddr string `json:"redis_addr,omitempty"`
	// ClientCache reports whether a client over its limit is turned away
	// without a round trip: Redis is connected with client-side caching.
	ClientCache bool `json:"client_cache"`
	// Breaker is the state of the circuit breaker in front of the shared
	// backend: "closed" (deciding there), "open" (deciding by the failure
	// mode) or "half-open" (open, with a probe running).
	Breaker string `json:"breaker,omitempty"`
	// DegradedSince is when the shared backend stopped deciding, or, before
	// it first connects, when the Limiter was built. It is null while the
	// shared backend decides, unless some of a cluster's slots do not (see
	// DegradedSlots).
	DegradedSince *time.Time `json:"degraded_since"`
	// DegradedSlots is, for a Redis Cluster that decides, the number of its
	// 16384 hash slots whose keys are decided by the failure mode now,
	// because the node serving them failed; the keys of the other slots are
	// decided in Redis. DegradedSince is then when the first of them failed.
	DegradedSlots int `json:"degraded_slots,omitempty"`
	// LastError is the shared backend's last failure, without credentials.
	LastError string `json:"last_error,omitempty"`
	// FailureMode and FallbackLimits say how requests are decided while the
	// shared backend cannot (WithFailureMode, WithFallbackLimits).
	FailureMode    string   `json:"failure_mode,omitempty"`
	FallbackLimits []string `json:"fallback_limits,omitempty"`
	// Enabled is false when WithEnabled(false) or RATELIMIT_ENABLED=false
	// turned limiting off.
	Enabled bool `json:"enabled"`
	// Ready reports whether requests are decided without a 503: the Limiter
	// is open, and its shared backend (if any) decides or its failure mode is
	// not FailClosed. A Limiter deciding in memory during a Redis outage is
	// ready: taking instances out of service would turn the outage into one
	// of the whole service.
	Ready bool `json:"ready"`
	// Strategy and Limits describe the Limiter's default limits.
	Strategy string   `json:"strategy"`
	Limits   []string `json:"limits"`
	Stats    Stats    `json:"stats"`
}

// Status returns the state of the Limiter. It pings the shared backend at
// most once a second, waiting at most half a second; a failed ping opens the
// breaker as a failed request would.
func (l *Limiter) Status() Status {
	s := Status{
		Enabled:         l.cfg.enabled,
		Ready:           !l.closed.Load(),
		RedisConfigured: l.cfg.redis.configured(),
		Strategy:        l.cfg.strategy.String(),
		Limits:          formatLimits(l.cfg.limits),
		Stats:           l.Stats(),
	}
	if r := l.remote; r != nil && s.Ready {
		healthy := r.healthy()
		st := r.breaker.state()
		s.Breaker, s.LastError = st.state, st.lastErr
		if r.isRedis {
			s.RedisAddr = r.addr
			s.RedisConnected = healthy
		}
		if healthy {
			s.Backend = r.name
			s.ClientCache = s.RedisConnected && r.cur.Load().clientCache()
			if open, since, lastErr := r.slots.state(); open > 0 {
				s.DegradedSlots, s.DegradedSince, s.LastError = open, &since, lastErr
			}
		} else {
			since := st.since
			s.DegradedSince = &since
			s.Ready = l.cfg.failure != FailClosed
		}
		s.FailureMode = l.cfg.failure.String()
		s.FallbackLimits = formatLimits(l.cfg.fallbackLimits)
	}
	switch {
	case s.Backend == "":
		s.Backend, s.Message = "memory", MessageMemory
	case s.RedisConnected && s.DegradedSlots > 0:
		s.Message = MessageRedisPartial
	case s.RedisConnected:
		s.Message = MessageRedis
	default:
		s.Message = "Custom backend rate limiting (" + s.Backend + ")"
	}
	return s
}

func formatLimits(limits []backend.Limit) []string {
	out := make([]string, len(limits))
	for i, l := range limits {
		out[i] = l.String()
	}
	return out
}

// Summary is the body of the public health route: what a load balancer, an
// uptime check or a dashboard needs, and nothing an attacker could use. Its
// fields are Status's of the same names.
type Summary struct {
	Backend        string `json:"backend"`
	RedisConnected bool   `json:"redis_connected"`
	Message        string `json:"message"`
	Ready          bool   `json:"ready"`
}

// Summary returns the fields of s that the public health route serves.
func (s Status) Summary() Summary {
	return Summary{Backend: s.Backend, RedisConnected: s.RedisConnected, Message: s.Message, Ready: s.Ready}
}

// A Mux registers handlers by pattern, as http.ServeMux and chi's Router
// do.
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// RegisterHealth adds the health routes to mux:
//
//	GET /health/ratelimit        200 with the Summary as JSON: backend, redis_connected, message, ready
//	GET /health/ratelimit/ready  200 when requests are decided without a 503 (see Status.Ready), else 503
//
// The routes are safe on a public router: they tell neither where Redis is
// nor why it failed. RegisterHealthDetails serves the whole Status, for a
// route behind authentication. Requests to them are never limited or counted
// by l's Middleware, even when it runs in front of mux. It panics if l is
// nil.
func RegisterHealth(mux Mux, l *Limiter) {
	if l == nil {
		panic("ginlimit: RegisterHealth: the Limiter is nil")
	}
	mux.Handle(HealthPath, l.healthHandler(func(s Status) (int, any) { return http.StatusOK, s.Summary() }))
	mux.Handle(HealthPath+"/ready", l.healthHandler(func(s Status) (int, any) { return s.readiness() }))
	l.exemptPaths(HealthPath, HealthPath+"/ready")
}

// RegisterHealthDetails adds GET /health/ratelimit to mux, answering 200
// with the whole Status as JSON: the Redis address, the breaker's state, the
// last error (without credentials), the failure mode, the limits and the
// Stats. WARNING: these details help an attacker (where Redis is, when it
// fails, how much traffic is served); put mux behind authentication, such as
// a ServeMux mounted under "/admin/" by an authenticating handler. The route
// is never limited or counted by l's Middleware when mux is the one the
// Middleware wraps; a mux mounted under a prefix (http.StripPrefix) is best
// served beside the Middleware, which sees the whole path. It panics if l is
// nil.
func RegisterHealthDetails(mux Mux, l *Limiter) {
	if l == nil {
		panic("ginlimit: RegisterHealthDetails: the Limiter is nil")
	}
	mux.Handle(HealthPath, l.healthHandler(func(s Status) (int, any) { return http.StatusOK, s }))
	l.exemptPaths(HealthPath)
}

// healthHandler serves, to GET and HEAD, body's answer for the Limiter's
// Status as JSON.
func (l *Limiter) healthHandler(body func(Status) (int, any)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		code, v := body(l.Status())
		b, err := json.Marshal(v)
		if err != nil { // the Status holds nothing json cannot encode
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write(b)
	})
}

// readinessBody is the body of the readiness route.
type readinessBody struct {
	Ready   bool   `json:"ready"`
	Backend string `json:"backend"`
	Message string `json:"message"`
}

// readiness returns the readiness route's status code and body: 200 when
// ready, else 503.
func (s Status) readiness() (int, any) {
	code := http.StatusOK
	if !s.Ready {
		code = http.StatusServiceUnavailable
	}
	return code, readinessBody{Ready: s.Ready, Backend: s.Backend, Message: s.Message}
}

// exemptPaths adds URL paths the Middleware never limits.
func (l *Limiter) exemptPaths(paths ...string) {
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

// isExempt reports whether the Middleware leaves path alone.
func (l *Limiter) isExempt(path string) bool {
	if paths := l.exempt.Load(); paths != nil {
		return slices.Contains(*paths, path)
	}
	return false
}
