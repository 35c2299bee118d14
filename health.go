package ginlimit

import (
	"net/http"
	"path"

	"github.com/gin-gonic/gin"

	"github.com/ginlimit/ginlimit/httplimit"
)

// HealthPath is where RegisterHealth puts the health group.
const HealthPath = httplimit.HealthPath

// RegisterHealth adds the health group to r:
//
//	GET /health/ratelimit        200 with the Summary as JSON: backend, redis_connected, message, ready
//	GET /health/ratelimit/ready  200 when requests are decided without a 503 (see Status.Ready), else 503
//
// The group is safe on a public router: it tells neither where Redis is nor
// why it failed. RegisterHealthDetails serves the whole Status, for a route
// behind authentication. Requests to the group are never limited or counted
// by l, even when l's middleware runs in front of them. It panics if l is
// nil.
func RegisterHealth(r gin.IRouter, l *Limiter) {
	if l == nil {
		panic("ginlimit: RegisterHealth: the Limiter is nil")
	}
	g := r.Group(HealthPath)
	g.GET("", func(c *gin.Context) {
		c.JSON(http.StatusOK, l.Status().Summary())
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

// RegisterHealthDetails adds GET /health/ratelimit to r, answering 200 with
// the whole Status as JSON: the Redis address, the breaker's state, the last
// error (without credentials), the failure mode, the limits and the Stats.
// WARNING: these details help an attacker (where Redis is, when it fails,
// how much traffic is served); put r behind authentication, such as a route
// group with an authenticating middleware:
//
//	admin := router.Group("/admin", gin.BasicAuth(gin.Accounts{"ops": os.Getenv("OPS_PASSWORD")}))
//	ginlimit.RegisterHealthDetails(admin, lim) // GET /admin/health/ratelimit
//
// The route is never limited or counted by l. It panics if l is nil.
func RegisterHealthDetails(r gin.IRouter, l *Limiter) {
	if l == nil {
		panic("ginlimit: RegisterHealthDetails: the Limiter is nil")
	}
	g := r.Group(HealthPath)
	g.GET("", func(c *gin.Context) {
		c.JSON(http.StatusOK, l.Status())
	})
	l.addExempt(g.BasePath())
}

// RegisterAdmin adds the admin routes of httplimit.Limiter.AdminHandler to
// r: GET peek, and POST reset, block and unblock, each taking key, policy
// and, for block, duration as query parameters. They are never limited.
//
// WARNING: they let whoever reaches them reset and block any client. Never
// register them by default or on a public route: put r behind your own
// authentication.
//
//	RegisterAdmin(router.Group("/admin/ratelimit", requireAdmin), lim)
func RegisterAdmin(r gin.IRouter, l *Limiter) {
	if l == nil {
		panic("ginlimit: RegisterAdmin: the Limiter is nil")
	}
	h := gin.WrapH(l.engine.AdminHandler())
	g := r.Group("")
	g.GET("/peek", h)
	for _, op := range []string{"/reset", "/block", "/unblock"} {
		g.POST(op, h)
	}
	for _, op := range []string{"/peek", "/reset", "/block", "/unblock"} {
		l.addExempt(path.Join(g.BasePath(), op))
	}
}
