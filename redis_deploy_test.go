package ginlimit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit"
	"github.com/ginlimit/ginlimit/httplimit"
	"github.com/ginlimit/ginlimit/internal/redistest"
)

// TestRedisTLSWithCAFile connects over rediss:// to a server whose
// certificate a private CA signed: with WithRedisCAFile the Limiter decides
// in Redis; without it the certificate is not trusted, the Limiter keeps
// deciding in memory and says why.
func TestRedisTLSWithCAFile(t *testing.T) {
	srv, tls := redistest.StartTLS(t)

	l := redisLimiter(t, tls.URL, true, ginlimit.WithRedisCAFile(tls.CAFile), ginlimit.WithLimits("2/hour"))
	st := l.Status()
	assert.Equal(t, "redis", st.Backend)
	assert.Equal(t, tls.URL[len("rediss://"):], st.RedisAddr)
	assert.Equal(t, []int{200, 200, 429}, statuses(newRouter(l), request{}, 3))
	assert.Zero(t, l.Stats().Fallback, "decided in Redis: %+v", l.Stats())
	keys, err := srv.Do(t, "DBSIZE")
	require.NoError(t, err)
	assert.NotEqual(t, "0", keys, "the counts are in Redis")

	untrusted := redisLimiter(t, tls.URL, false, ginlimit.WithLimits("2/hour"))
	require.Eventually(t, func() bool { return untrusted.Status().LastError != "" }, 10*time.Second, 10*time.Millisecond,
		"the Limiter reports why it cannot connect")
	st = untrusted.Status()
	t.Logf("LastError without the CA: %s", st.LastError)
	assert.Contains(t, st.LastError, "certificate")
	assert.Contains(t, st.LastError, "unknown authority")
	assert.Equal(t, "memory", st.Backend)
	assert.False(t, st.RedisConnected)
	assert.Equal(t, []int{200, 200}, statuses(newRouter(untrusted), request{remoteAddr: "198.51.100.7:1"}, 2))
	assert.False(t, untrusted.Status().RedisConnected)
}

// TestRedisSentinel finds the master through a Sentinel.
func TestRedisSentinel(t *testing.T) {
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master)

	l := redisLimiter(t, sentinel.URL(), true, ginlimit.WithLimits("2/hour"))
	st := l.Status()
	assert.Equal(t, "redis", st.Backend)
	// Status shows where the Limiter was pointed, the Sentinel, not the
	// master it found there.
	assert.Equal(t, "sentinel "+sentinel.Addr()+" master mymaster", st.RedisAddr)
	assert.Equal(t, []int{200, 200, 429}, statuses(newRouter(l), request{}, 3))
	assert.Zero(t, l.Stats().Fallback, "decided in Redis: %+v", l.Stats())
	keys, err := master.Do(t, "DBSIZE")
	require.NoError(t, err)
	assert.NotEqual(t, "0", keys, "the counts are on the master")
}

// TestRedisFromEnvTLS configures rediss:// and its CA from the environment.
func TestRedisFromEnvTLS(t *testing.T) {
	_, tls := redistest.StartTLS(t)
	t.Setenv(httplimit.EnvRedisURL, tls.URL)
	t.Setenv(httplimit.EnvRedisCAFile, tls.CAFile)

	l, err := ginlimit.NewLimiter(ginlimit.FromEnv(), ginlimit.WithLogger(discardLogger()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, l.Close()) })
	require.Eventually(t, func() bool { return l.Status().RedisConnected }, 10*time.Second, 10*time.Millisecond,
		"the Limiter connects over TLS")
	assert.Equal(t, "redis", l.Status().Backend)
}

// TestRedisTLSCommonNameOnly connects to a server whose certificate names
// its IP address in the Common Name only, as Memorystore's certificates do:
// with the instance's CA given, the Limiter accepts it, and still refuses a
// certificate from another CA, or one that does not name the host.
func TestRedisTLSCommonNameOnly(t *testing.T) {
	_, tlsInfo := redistest.StartTLS(t, redistest.CommonNameOnly())
	l := redisLimiter(t, tlsInfo.URL, true, ginlimit.WithRedisCAFile(tlsInfo.CAFile))
	assert.Equal(t, "redis", l.Status().Backend)

	_, other := redistest.StartTLS(t)
	stranger := redisLimiter(t, tlsInfo.URL, false, ginlimit.WithRedisCAFile(other.CAFile))
	require.Eventually(t, func() bool { return stranger.Status().LastError != "" }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, stranger.Status().LastError, "x509: certificate signed by unknown authority")
	assert.Equal(t, "memory", stranger.Status().Backend)

	// A Common Name stands for an IP address only: by name, it is refused.
	byName := redisLimiter(t, strings.Replace(tlsInfo.URL, "127.0.0.1", "localhost", 1), false, ginlimit.WithRedisCAFile(tlsInfo.CAFile))
	require.Eventually(t, func() bool { return byName.Status().LastError != "" }, 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, byName.Status().LastError, "x509: certificate is not valid for any names, but wanted to match localhost")
	assert.Equal(t, "memory", byName.Status().Backend)
}
