package httplimit

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/backend/redis"
	"github.com/ginlimit/ginlimit/internal/redisurl"
)

// Redis defaults.
const (
	// DefaultRedisTimeout bounds every Redis call a request waits for.
	DefaultRedisTimeout = 100 * time.Millisecond
	// DefaultRedisDialTimeout bounds connecting, TLS included, when the URL or
	// the rueidis options set no dial timeout of their own.
	DefaultRedisDialTimeout = 500 * time.Millisecond
	// redisCacheBytes is the client-side cache of each connection: it holds
	// only the versions of watched keys, a few dozen bytes each.
	redisCacheBytes = 4 << 20
)

// redisConfig is what the Redis options collect.
type redisConfig struct {
	opt     *rueidis.ClientOption // from WithRedisURL or WithRedisOptions
	client  rueidis.Client        // from WithRedisClient: the caller's
	timeout time.Duration
	noCache bool     // WithRedisClientCache(false)
	caFile  string   // WithRedisCAFile
	secrets []string // the user names and passwords, masked out of every error text
}

func (r *redisConfig) configured() bool { return r.opt != nil || r.client != nil }

// WithRedisURL makes the Limiter count in Redis, so that every instance of
// the service shares one limit. The URL takes the forms of rueidis.ParseURL:
//
//	redis://[user:password@]host:port[/db]    rediss:// for TLS
//	unix:///path/to/socket?db=N               valkey://, valkeys://
//	redis://host:7000?addr=host:7001&addr=host:7002     Redis Cluster seeds
//	redis://sentinel:26379?master_set=mymaster          Sentinel
//
// A malformed URL is an error that shows no password. A server that does not
// answer is not an error: the Limiter starts deciding in memory (see
// WithFailureMode) and switches to Redis, without blocking anything, once the
// server answers. Each call waits at most WithRedisTimeout.
func WithRedisURL(rawURL string) Option {
	return limiterOption("WithRedisURL", func(c *config) error {
		opt, err := redisurl.Parse(rawURL)
		if err != nil {
			return invalid(fmt.Sprintf("WithRedisURL(%q)", redisurl.Redact(rawURL)), err)
		}
		c.redis.opt, c.redis.client = &opt, nil
		c.redis.secrets = redisurl.Secrets(opt)
		c.from.redis = fmt.Sprintf("WithRedisURL(%q)", redisurl.Redact(rawURL))
		return nil
	})
}

// WithRedisOptions makes the Limiter count in Redis with a client built from
// opt, as WithRedisURL does. ginlimit sets DisableRetry (a failing server must
// fail fast, not be retried until the deadline), DisableCache when
// WithRedisClientCache(false) says so (opt's own DisableCache is kept), and a
// short dial timeout and a small cache when opt sets none.
func WithRedisOptions(opt rueidis.ClientOption) Option {
	return limiterOption("WithRedisOptions", func(c *config) error {
		if len(opt.InitAddress) == 0 {
			return invalidf("WithRedisOptions", "InitAddress is empty")
		}
		c.redis.opt, c.redis.client = &opt, nil
		c.redis.secrets = redisurl.Secrets(opt)
		c.from.redis = "WithRedisOptions"
		return nil
	})
}

// WithRedisClient makes the Limiter count in Redis through client, which the
// caller owns and closes after the Limiter. Build it with DisableRetry and a
// short Dialer.Timeout, as WithRedisOptions does. A client without a cache
// (DisableCache, or RESP2) is found out at the first denial, and denied keys
// are then not watched.
func WithRedisClient(client rueidis.Client) Option {
	return limiterOption("WithRedisClient", func(c *config) error {
		if client == nil {
			return invalidf("WithRedisClient(nil)", "the client is nil")
		}
		c.redis.opt, c.redis.client, c.redis.secrets = nil, client, nil
		c.from.redis = "WithRedisClient"
		return nil
	})
}

// WithRedisTimeout bounds each Redis call a request waits for: past it, the
// request is decided by the failure mode. It is at least a millisecond and at
// most 10 seconds; the default is DefaultRedisTimeout.
func WithRedisTimeout(d time.Duration) Option {
	return limiterOption("WithRedisTimeout", func(c *config) error {
		if d < time.Millisecond || d > 10*time.Second {
			return invalidf(fmt.Sprintf("WithRedisTimeout(%v)", d), "want 1ms to 10s")
		}
		c.redis.timeout, c.from.timeout = d, fmt.Sprintf("WithRedisTimeout(%v)", d)
		return nil
	})
}

// WithRedisClientCache turns client-side caching of denied keys on (the
// default) or off. With it on, a client over its limit is turned away
// without a round trip to Redis; a server that refuses CLIENT TRACKING is
// detected when connecting, and the Limiter then runs without it. Turn it
// off to keep the client from ever asking for tracking.
func WithRedisClientCache(on bool) Option {
	return limiterOption("WithRedisClientCache", func(c *config) error {
		c.redis.noCache, c.from.cache = !on, fmt.Sprintf("WithRedisClientCache(%t)", on)
		return nil
	})
}

// WithRedisCAFile trusts the CA certificates of the PEM file at path for a
// rediss:// connection, in place of the system's roots; Memorystore's
// in-transit encryption needs its instance's CA. The server's certificate
// must name the host in a subject alternative name or, for a host given as an
// IP address, in its Common Name, as Memorystore's do. The file is read when
// the Limiter is built.
func WithRedisCAFile(path string) Option {
	return limiterOption("WithRedisCAFile", func(c *config) error {
		if path == "" {
			return invalidf(`WithRedisCAFile("")`, "the path is empty")
		}
		c.redis.caFile, c.from.caFile = path, fmt.Sprintf("WithRedisCAFile(%q)", path)
		return nil
	})
}

// dialer returns the function that connects to Redis with opt, the options
// clientOption returned.
func dialer(opt rueidis.ClientOption, clock func() time.Time) func() (*remoteBackend, error) {
	return func() (*remoteBackend, error) {
		// The tracker hears the client's invalidations, so that the Store
		// checks the keys it watches in memory alone.
		tracker := redis.NewTracker()
		o := opt
		if callers := opt.OnInvalidations; callers != nil {
			o.OnInvalidations = func(keys []rueidis.RedisMessage) {
				tracker.Invalidated(keys)
				callers(keys)
			}
		} else {
			o.OnInvalidations = tracker.Invalidated
		}
		client, err := rueidis.NewClient(o)
		cache := !o.DisableCache
		if errors.Is(err, rueidis.ErrNoCache) && cache {
			// The server refuses CLIENT TRACKING or RESP3: decide in the
			// script alone.
			o.DisableCache, cache, tracker = true, false, nil
			client, err = rueidis.NewClient(o)
		}
		if err != nil {
			return nil, err
		}
		rb, err := newRedisBackend(client, cache, clock, tracker)
		if err != nil {
			client.Close()
			return nil, err
		}
		rb.close = func() { rb.b.(*redis.Store).Close(); client.Close() }
		return rb, nil
	}
}

// clientOption returns the options the client is built with: the caller's,
// with the CA file's roots, no retries, bounded dials and a small cache. from
// names the inputs in its errors.
func (r *redisConfig) clientOption(from origins) (rueidis.ClientOption, error) {
	opt := *r.opt
	if r.caFile != "" {
		if opt.TLSConfig == nil {
			return opt, invalidf(from.caFile, "%s does not use TLS: use rediss:// or valkeys://", from.redis)
		}
		pool, err := loadCA(r.caFile)
		if err != nil {
			return opt, invalid(from.caFile, err)
		}
		opt.TLSConfig = opt.TLSConfig.Clone()
		opt.TLSConfig.RootCAs = pool
		host := opt.TLSConfig.ServerName
		if host == "" && len(opt.InitAddress) > 0 {
			host, _, _ = net.SplitHostPort(opt.InitAddress[0])
		}
		// Go's own check would refuse a certificate that names an IP address
		// in its Common Name only, as Memorystore's do: check it here.
		opt.TLSConfig.InsecureSkipVerify = true
		opt.TLSConfig.VerifyConnection = verifyPrivateCA(pool, host)
	}
	if opt.TLSConfig != nil && opt.TLSConfig.MinVersion == 0 {
		opt.TLSConfig = opt.TLSConfig.Clone() // the caller's stays as it was
		opt.TLSConfig.MinVersion = tls.VersionTLS12
	}
	opt.DisableRetry = true
	// The URL's client_cache=0, the caller's DisableCache and
	// WithRedisClientCache(false) each turn caching off.
	opt.DisableCache = opt.DisableCache || r.noCache
	if opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = DefaultRedisDialTimeout
	}
	if opt.Sentinel.MasterSet != "" && opt.Sentinel.Dialer.Timeout == 0 {
		// The Sentinel is dialled with a dialer of its own, which has no
		// timeout unless given one: an unreachable Sentinel would hold the
		// connecting probe, and Close, for minutes.
		opt.Sentinel.Dialer.Timeout = opt.Dialer.Timeout
	}
	if opt.CacheSizeEachConn == 0 {
		opt.CacheSizeEachConn = redisCacheBytes
	}
	return opt, nil
}

// newRedisBackend returns a Store over client. tracker, if not nil, hears
// the client's invalidations.
func newRedisBackend(client rueidis.Client, cache bool, clock func() time.Time, tracker *redis.Tracker) (*remoteBackend, error) {
	opts := []redis.Option{redis.WithClientCache(cache)}
	if clock != nil {
		opts = append(opts, redis.WithClock(clock))
	}
	if tracker != nil {
		opts = append(opts, redis.WithTracker(tracker))
	}
	store, err := redis.New(client, opts...)
	if err != nil {
		return nil, err
	}
	rb := newRemoteBackend(store)
	rb.close = func() { store.Close() }
	return rb, nil
}

// addr returns where Redis is, for logs and health, without credentials.
func (r *redisConfig) addr() string {
	if r.opt != nil {
		return redisurl.Addr(*r.opt)
	}
	nodes := make([]string, 0, 4)
	for a := range r.client.Nodes() {
		nodes = append(nodes, a)
	}
	slices.Sort(nodes)
	return strings.Join(nodes, ",")
}

// mask removes the user names and passwords from an error's text: a server's
// error may quote the user (NOPERM User limiter has no permissions...).
func (r *redisConfig) mask(err error) string {
	if err == nil {
		return ""
	}
	return redisurl.Mask(err.Error(), r.secrets)
}

// pingTimeoutFor bounds a health ping.
func pingTimeoutFor(timeout time.Duration) time.Duration {
	return min(max(timeout, 50*time.Millisecond), pingTimeout)
}
