package ginlimit

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit/backend"
)

// The health messages. Dashboards parse them: they never change.
const (
	MessageMemory = "In-memory rate limiting (single instance only)"
	MessageRedis  = "Redis rate limiting active"
)

// HealthPath is where RegisterHealth puts the health group.
const HealthPath = "/health/ratelimit"

// pingTimeout bounds the readiness check of a backend that can be pinged.
const pingTimeout = 500 * time.Millisecond

// Status is the state of a Limiter, as GET /health/ratelimit serves it.
type Status struct {
	// Backend is "memory", "redis", or the name of a custom backend.
	Backend string `json:"backend"`
	// RedisConnected reports whether decisions are made in Redis now.
	RedisConnected bool `json:"redis_connected"`
	// Message is MessageMemory, MessageRedis, or a custom backend's.
	Message string `json:"message"`
	// RedisConfigured reports whether a Redis backend was configured.
	RedisConfigured bool `json:"redis_configured"`
	// Enabled is false when WithEnabled(false) or RATELIMIT_ENABLED=false
	// turned limiting off.
	Enabled bool `json:"enabled"`
	// Ready reports whether the configured backend is the one in use and
	// answers. It is false once the Limiter is closed.
	Ready bool `json:"ready"`
	// Strategy and Limits describe the Limiter's default limits.
	Strategy string   `json:"strategy"`
	Limits   []string `json:"limits"`
	Stats    Stats    `json:"stats"`
}

// Status returns the state of the Limiter. It may ping a backend that
// implements backend.Pinger, for at most half a second.
func (l *Limiter) Status() Status {
	s := Status{
		Backend:  l.backendName(),
		Enabled:  l.cfg.enabled,
		Ready:    !l.closed.Load(),
		Strategy: l.cfg.strategy.String(),
		Limits:   make([]string, len(l.cfg.limits)),
		Stats:    l.Stats(),
	}
	for i, lim := range l.cfg.limits {
		s.Limits[i] = lim.String()
	}
	switch s.Backend {
	case "memory":
		s.Message = MessageMemory
	default:
		s.Message = "Custom backend rate limiting (" + s.Backend + ")"
	}
	if p, ok := l.backend.(backend.Pinger); ok && s.Ready {
		ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		s.Ready = p.Ping(ctx) == nil
	}
	return s
}

// RegisterHealth adds the health group to r:
//
//	GET /health/ratelimit        200 with the Status as JSON
//	GET /health/ratelimit/ready  200 when the configured backend is in use, else 503
//
// Requests to the group are never limited or counted by l, even when l's
// middleware runs in front of them. It panics if l is nil.
func RegisterHealth(r gin.IRouter, l *Limiter) {
	if l == nil {
		panic("ginlimit: RegisterHealth: the Limiter is nil")
	}
	g := r.Group(HealthPath)
	g.GET("", func(c *gin.Context) {
		c.JSON(http.StatusOK, l.Status())
	})
	g.GET("/ready", func(c *gin.Context) {
		s := l.Status()
		code := http.StatusOK
		if !s.Ready {
			code = http.StatusServiceUnavailable
		}
		c.JSON(code, gin.H{"ready": s.Ready, "backend": s.Backend, "message": s.Message})
	})
	base := g.BasePath()
	l.addExempt(base, base+"/ready")
}
