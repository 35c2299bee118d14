package bench

// The middleware scenario measures whole requests through gin.Engine's
// ServeHTTP, each from one of numKeys distinct clients, with each library's
// middleware on the memory store of the memory-admit scenario, against
// baseline, the same engine without a limiter. Each library keys requests by
// client IP its usual way (with no trusted proxies, the peer's address) and
// writes the headers it writes by default:
//
// ginlimit (sliding): its Gin middleware, keyed by c.ClientIP() with IPv6
// grouped by /64. X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset (Unix seconds); a 429 adds Retry-After (the time until
// the request would be admitted) and a JSON body. It also counts each
// decision for its Stats.
//
// ulule (fixed): its Gin middleware (drivers/middleware/gin), keyed by
// c.ClientIP(). X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset (Unix seconds); a 429 answers "Limit exceeded". Its
// default error handler panics, which the memory store never makes it do.
//
// jgl (fixed): its Gin middleware, keyed by c.ClientIP()+c.FullPath(), so
// that each route counts apart. X-Rate-Limit-Limit, X-Rate-Limit-Remaining
// and X-Rate-Limit-Reset (Unix seconds), formatted with fmt.Sprintf.
//
// httprate (sliding): net/http middleware from LimitBy, keyed by the peer's
// IP through CanonicalizeIP (IPv6 grouped by /64), as its README shows for a
// server without proxies; LimitBy builds the key ip+":" on each request.
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (Unix
// seconds); a 429 adds Retry-After, always the whole window.
//
// throttled (gcra): net/http middleware (HTTPRateLimiterCtx) keyed by
// VaryBy{RemoteAddr: true}, the peer's IP lowercased plus "\n", built in a
// bytes.Buffer. X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset (seconds from now), added to any already there rather
// than set; a 429 adds Retry-After.
//
// sethvargo (fixed): net/http middleware (httplimit) keyed by IPKeyFunc(),
// the peer's IP. X-RateLimit-Limit, X-RateLimit-Remaining and
// X-RateLimit-Reset as an HTTP date (RFC 1123), formatted for each request; a
// 429 adds Retry-After, the same date.
//
// xrate (token): the net/http middleware written here (xrate.middleware),
// keyed by the peer's IP. No headers.
//
// The net/http middleware runs in Gin through adaptHTTP, which builds the
// middleware's handler for each request: two small allocations, the same
// whichever library it wraps.

import (
	"fmt"
	"net"
	"net/http"
	"testing"

	ratelimit "github.com/JGLTechnologies/gin-rate-limit"
	"github.com/gin-gonic/gin"
	"github.com/go-chi/httprate"
	"github.com/sethvargo/go-limiter/httplimit"
	"github.com/throttled/throttled/v2"
	ululegin "github.com/ulule/limiter/v3/drivers/middleware/gin"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/backend"
)

// A middlewareLibrary is one library in the middleware scenario. new returns
// the library's limiter as Gin middleware (nil for none) and closes what it
// opens with tb.Cleanup.
type middlewareLibrary struct {
	name string // "library/algorithm"
	new  func(tb testing.TB) gin.HandlerFunc
}

func middlewareLibraryName(l middlewareLibrary) string { return l.name }

// middlewareLibraries lists the libraries of the middleware scenario.
var middlewareLibraries = []middlewareLibrary{
	{"baseline", func(testing.TB) gin.HandlerFunc { return nil }},
	{"ginlimit/sliding", ginlimitMiddleware},
	{"ulule/fixed", func(testing.TB) gin.HandlerFunc { return ululegin.NewMiddleware(newUluleMemory()) }},
	{"jgl/fixed", func(testing.TB) gin.HandlerFunc { return ratelimit.RateLimiter(jglMemory(), nil) }},
	{"httprate/sliding", func(testing.TB) gin.HandlerFunc {
		return adaptHTTP(httprate.LimitBy(int(roomyQuota.count), roomyQuota.period, httprateKey))
	}},
	{"throttled/gcra", func(tb testing.TB) gin.HandlerFunc {
		h := &throttled.HTTPRateLimiterCtx{RateLimiter: newThrottledMemory(tb), VaryBy: &throttled.VaryBy{RemoteAddr: true}}
		return adaptHTTP(h.RateLimit)
	}},
	{"sethvargo/fixed", func(tb testing.TB) gin.HandlerFunc {
		m, err := httplimit.NewMiddleware(newSethvargoMemory(tb), httplimit.IPKeyFunc())
		if err != nil {
			tb.Fatal(err)
		}
		return adaptHTTP(m.Handle)
	}},
	{"xrate/token", func(testing.TB) gin.HandlerFunc { return adaptHTTP(new(xrate).middleware) }},
}

// benchMiddleware measures requests through the Gin engine of
// newLimitedEngine, from numKeys distinct clients.
func benchMiddleware(b *testing.B) {
	ips := distinctKeys(b, numKeys)
	peers := make([]string, len(ips))
	for i, ip := range ips {
		peers[i] = net.JoinHostPort(ip, "40000")
	}
	jglMemory() // before the leak checks, which would report its goroutine
	for _, lib := range middlewareLibraries {
		b.Run(lib.name, func(b *testing.B) {
			checkGoroutines(b)
			engine := newLimitedEngine(b, lib.new(b))
			walk(b, peers, func() admit {
				req, w := newRequest(ips[0]), newRecorder()
				return func(peer string) (bool, error) {
					req.RemoteAddr = peer
					code := w.serve(engine, req)
					if code >= 500 {
						return false, fmt.Errorf("status %d", code)
					}
					return code == http.StatusNoContent, nil
				}
			})
		})
	}
}

// newLimitedEngine returns an engine that runs limit, if not nil, before a
// handler of GET / that answers 204 No Content. It trusts no proxy, so that
// c.ClientIP() is the peer's address.
func newLimitedEngine(tb testing.TB, limit gin.HandlerFunc) *gin.Engine {
	engine := gin.New()
	if err := engine.SetTrustedProxies(nil); err != nil {
		tb.Fatal(err)
	}
	if limit != nil {
		engine.Use(limit)
	}
	engine.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	return engine
}

func ginlimitMiddleware(tb testing.TB) gin.HandlerFunc {
	lim, err := ginlimit.NewLimiter(
		ginlimit.WithLimits(backend.FormatLimits(roomyLimits)),
		ginlimit.WithLogger(discardLogger()),
	)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { lim.Close() })
	return lim.Middleware()
}

// adaptHTTP runs a net/http middleware in Gin the way Gin users write it:
// around a handler that gives Gin the request it receives and runs the rest
// of the chain. When the middleware answers without calling that handler,
// the chain is aborted.
func adaptHTTP(middleware func(http.Handler) http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		next := &ginNext{c: c}
		middleware(next).ServeHTTP(c.Writer, c.Request)
		if !next.reached {
			c.Abort()
		}
	}
}

// ginNext is the handler that adaptHTTP's middleware calls to go on.
type ginNext struct {
	c       *gin.Context
	reached bool
}

func (n *ginNext) ServeHTTP(_ http.ResponseWriter, req *http.Request) {
	n.reached = true
	n.c.Request = req
	n.c.Next()
}

// peerIP returns the IP address of req's peer, as c.ClientIP() does when gin
// trusts no proxy.
func peerIP(req *http.Request) string {
	ip, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return ip
}

func httprateKey(req *http.Request) (string, error) { return httprate.CanonicalizeIP(peerIP(req)), nil }

// middleware limits requests by their peer's IP, answering 429 Too Many
// Requests to those it denies.
func (x *xrate) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !x.allow(peerIP(req)) {
			http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, req)
	})
}
