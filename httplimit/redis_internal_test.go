package httplimit

import (
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientOption(t *testing.T) {
	var cfg config
	require.NoError(t, WithRedisURL("redis://10.0.0.1:26379?master_set=mymaster&protocol=2").apply(&cfg))
	require.NoError(t, WithRedisClientCache(false).apply(&cfg))
	opt, err := cfg.redis.clientOption(cfg.from)
	require.NoError(t, err)
	assert.True(t, opt.DisableRetry)
	assert.True(t, opt.DisableCache)
	assert.Equal(t, DefaultRedisDialTimeout, opt.Dialer.Timeout)
	assert.Equal(t, DefaultRedisDialTimeout, opt.Sentinel.Dialer.Timeout, "the Sentinel's dials are bounded too")
	assert.Equal(t, redisCacheBytes, opt.CacheSizeEachConn)

	caller := &tls.Config{ServerName: "redis.internal"}
	require.NoError(t, WithRedisOptions(rueidis.ClientOption{
		InitAddress: []string{"10.0.0.1:6380"},
		TLSConfig:   caller,
		Dialer:      netDialer(2 * time.Second),
	}).apply(&cfg))
	opt, err = cfg.redis.clientOption(cfg.from)
	require.NoError(t, err)
	assert.Equal(t, uint16(tls.VersionTLS12), opt.TLSConfig.MinVersion)
	assert.Zero(t, caller.MinVersion, "the caller's TLS configuration is left alone")
	assert.Equal(t, 2*time.Second, opt.Dialer.Timeout, "the caller's dial timeout is kept")
}

// TestURLClientCacheIsKept checks that the URL's client_cache=0 turns
// client-side caching off: it is not overridden by the default.
func TestURLClientCacheIsKept(t *testing.T) {
	var cfg config
	require.NoError(t, WithRedisURL("redis://10.0.0.1:6379?client_cache=0").apply(&cfg))
	opt, err := cfg.redis.clientOption(cfg.from)
	require.NoError(t, err)
	assert.True(t, opt.DisableCache)
}

func netDialer(timeout time.Duration) (d net.Dialer) {
	d.Timeout = timeout
	return d
}

func TestMaskRemovesEveryPassword(t *testing.T) {
	var cfg config
	require.NoError(t, WithRedisOptions(rueidis.ClientOption{
		InitAddress: []string{"10.0.0.1:26379"},
		Username:    "limiter",
		Password:    "p@ss/word",
		Sentinel:    rueidis.SentinelOption{MasterSet: "m", Username: "watcher", Password: "sentinel-secret"},
	}).apply(&cfg))
	got := cfg.redis.mask(errors.New("auth p@ss/word failed; p%40ss%2Fword; sentinel-secret; NOPERM User limiter has no permissions; watcher"))
	assert.Equal(t, "auth xxxxx failed; xxxxx; xxxxx; NOPERM User xxxxx has no permissions; xxxxx", got)
	assert.Empty(t, cfg.redis.mask(nil))
}
