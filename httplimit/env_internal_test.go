package httplimit

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ginlimit/ginlimit/backend"
)

// envErrorTests are the configuration errors the environment can cause, one
// variable's value or several variables together. Each error must start with
// the variable at fault (culprit) and name every other input involved.
var envErrorTests = []struct {
	name    string
	give    map[string]string
	opts    []Option // given after FromEnv
	culprit string
	also    []string // the other variables involved
	want    string
}{
	// One variable's value.
	{name: "enabled", give: map[string]string{EnvEnabled: "yes please"}, culprit: EnvEnabled,
		want: `ginlimit: RATELIMIT_ENABLED="yes please": invalid option: want true or false`},
	{name: "default unit", give: map[string]string{EnvDefault: "100/fortnight"}, culprit: EnvDefault,
		want: `ginlimit: RATELIMIT_DEFAULT="100/fortnight": invalid option: invalid limit: "100/fortnight": unknown unit "fortnight"`},
	{name: "default empty item", give: map[string]string{EnvDefault: "10/minute;;"}, culprit: EnvDefault,
		want: `ginlimit: RATELIMIT_DEFAULT="10/minute;;": invalid option: invalid limit: limit 2 of "10/minute;;" is empty`},
	{name: "policies", give: map[string]string{EnvPolicies: "pro=5/minit"}, culprit: EnvPolicies,
		want: `ginlimit: RATELIMIT_POLICIES="pro=5/minit": invalid option: policy "pro": invalid limit: "5/minit": unknown unit "minit"`},
	{name: "policies own name", give: map[string]string{EnvPolicies: "pro=5/minute;default=1/second"}, culprit: EnvPolicies,
		want: `ginlimit: RATELIMIT_POLICIES="pro=5/minute;default=1/second": invalid option: "default" is the Limiter's own policy`},
	{name: "shadow", give: map[string]string{EnvShadow: "maybe"}, culprit: EnvShadow,
		want: `ginlimit: RATELIMIT_SHADOW="maybe": invalid option: want true or false`},
	{name: "strategy", give: map[string]string{EnvStrategy: "leaky-bucket"}, culprit: EnvStrategy,
		want: `ginlimit: RATELIMIT_STRATEGY="leaky-bucket": invalid option: invalid policy: unknown strategy "leaky-bucket"`},
	{name: "key prefix", give: map[string]string{EnvKeyPrefix: "my prefix"}, culprit: EnvKeyPrefix,
		want: `ginlimit: RATELIMIT_KEY_PREFIX="my prefix": invalid option: character ' ' is not allowed`},
	{name: "key by", give: map[string]string{EnvKeyBy: "cookie"}, culprit: EnvKeyBy,
		want: `ginlimit: RATELIMIT_KEY_BY="cookie": invalid option: want ip, header:<Name> or xff:<N>`},
	{name: "key by ip argument", give: map[string]string{EnvKeyBy: "ip:4"}, culprit: EnvKeyBy,
		want: `ginlimit: RATELIMIT_KEY_BY="ip:4": invalid option: ip takes no argument`},
	{name: "key by empty header", give: map[string]string{EnvKeyBy: "header:"}, culprit: EnvKeyBy,
		want: `ginlimit: RATELIMIT_KEY_BY="header:": invalid option: the header name is empty`},
	{name: "key by xff zero", give: map[string]string{EnvKeyBy: "xff:0"}, culprit: EnvKeyBy,
		want: `ginlimit: RATELIMIT_KEY_BY="xff:0": invalid option: xff:<N> wants N from 1 to 64`},
	{name: "key by xff word", give: map[string]string{EnvKeyBy: "xff:two"}, culprit: EnvKeyBy,
		want: `ginlimit: RATELIMIT_KEY_BY="xff:two": invalid option: xff:<N> wants N from 1 to 64`},
	{name: "headers", give: map[string]string{EnvHeaders: "draft"}, culprit: EnvHeaders,
		want: `ginlimit: RATELIMIT_HEADERS="draft": invalid option: unknown header mode "draft" (want legacy, ietf, both, none)`},
	{name: "memory max keys negative", give: map[string]string{EnvMemoryMaxKeys: "-5"}, culprit: EnvMemoryMaxKeys,
		want: `ginlimit: RATELIMIT_MEMORY_MAX_KEYS="-5": invalid option: the bound must be at least 1`},
	{name: "memory max keys float", give: map[string]string{EnvMemoryMaxKeys: "1e6"}, culprit: EnvMemoryMaxKeys,
		want: `ginlimit: RATELIMIT_MEMORY_MAX_KEYS="1e6": invalid option: want a whole number of at least 1`},
	{name: "redis url scheme", give: map[string]string{EnvRedisURL: "http://alice7:hunter22@host:6379"}, culprit: EnvRedisURL,
		want: `ginlimit: REDIS_URL=`},
	{name: "redis url port", give: map[string]string{EnvRedisURL: "redis://alice7:hunter22@host:port"}, culprit: EnvRedisURL,
		want: `ginlimit: REDIS_URL="<unparsable redis:// URL>": invalid option: invalid URL: invalid port after host`},
	{name: "redis url password alone", give: map[string]string{EnvRedisURL: "redis://hunter22@host:6379/x"}, culprit: EnvRedisURL,
		want: `ginlimit: REDIS_URL=`},
	{name: "redis url unknown parameter", give: map[string]string{EnvRedisURL: "redis://host:6379?foo=bar"}, culprit: EnvRedisURL,
		want: `ginlimit: REDIS_URL="redis://host:6379?foo=bar": invalid option: invalid URL query: unknown parameter "foo"`},
	{name: "redis url fragment", give: map[string]string{EnvRedisURL: "redis://host:6379#x"}, culprit: EnvRedisURL,
		want: `ginlimit: REDIS_URL=`},
	{name: "redis timeout unit", give: map[string]string{EnvRedisTimeout: "100"}, culprit: EnvRedisTimeout,
		want: `ginlimit: RATELIMIT_REDIS_TIMEOUT="100": invalid option: want a Go duration from 1ms to 10s, such as 100ms`},
	{name: "redis timeout long", give: map[string]string{EnvRedisTimeout: "1h"}, culprit: EnvRedisTimeout,
		want: `ginlimit: RATELIMIT_REDIS_TIMEOUT="1h": invalid option: want 1ms to 10s`},
	{name: "failure mode", give: map[string]string{EnvFailureMode: "panic"}, culprit: EnvFailureMode,
		want: `ginlimit: RATELIMIT_FAILURE_MODE="panic": invalid option: unknown failure mode "panic" (want memory, open or closed)`},
	{name: "fallback limits", give: map[string]string{EnvFallbackLimits: "ten/minute"}, culprit: EnvFallbackLimits,
		want: `ginlimit: RATELIMIT_FALLBACK_LIMITS="ten/minute": invalid option: invalid limit`},
	{name: "fallback limits empty item", give: map[string]string{EnvFallbackLimits: "10/minute;"}, culprit: EnvFallbackLimits,
		want: `ginlimit: RATELIMIT_FALLBACK_LIMITS="10/minute;": invalid option: invalid limit: limit 2 of "10/minute;" is empty`},
	{name: "client cache", give: map[string]string{EnvClientCache: "on"}, culprit: EnvClientCache,
		want: `ginlimit: RATELIMIT_CLIENT_CACHE="on": invalid option: want auto or off`},
	{name: "ca file unreadable", give: map[string]string{EnvRedisURL: "rediss://host:6379", EnvRedisCAFile: "/nonexistent/ca.pem"}, culprit: EnvRedisCAFile,
		want: `ginlimit: RATELIMIT_REDIS_CA_FILE="/nonexistent/ca.pem": invalid option: cannot read CA file "/nonexistent/ca.pem": no such file or directory`},
	{name: "ca file without certificates", give: map[string]string{EnvRedisURL: "rediss://host:6379", EnvRedisCAFile: "$EMPTY"}, culprit: EnvRedisCAFile,
		want: `ginlimit: RATELIMIT_REDIS_CA_FILE="$EMPTY": invalid option: CA file "$EMPTY" holds no PEM certificate`},
	{name: "unknown variable", give: map[string]string{"RATELIMIT_STRATEGIE": "fixed-window"}, culprit: "RATELIMIT_STRATEGIE",
		want: `ginlimit: RATELIMIT_STRATEGIE: invalid option: unknown variable (known: RATELIMIT_ENABLED, RATELIMIT_DEFAULT`},

	// Several variables, or a variable and an option.
	{name: "ca file without url", give: map[string]string{EnvRedisCAFile: "/etc/ca.pem"}, culprit: EnvRedisCAFile,
		want: `ginlimit: RATELIMIT_REDIS_CA_FILE="/etc/ca.pem": invalid option: no Redis URL is configured: set REDIS_URL or use WithRedisURL`},
	{name: "ca file without tls", give: map[string]string{EnvRedisURL: "redis://alice7:hunter22@host:6379", EnvRedisCAFile: "/etc/ca.pem"}, culprit: EnvRedisCAFile, also: []string{EnvRedisURL},
		want: `ginlimit: RATELIMIT_REDIS_CA_FILE="/etc/ca.pem": invalid option: REDIS_URL="redis://xxxxx@host:6379" does not use TLS: use rediss:// or valkeys://`},
	{name: "ca file with a caller's client", give: map[string]string{EnvRedisCAFile: "/etc/ca.pem"}, opts: []Option{WithRedisClient(nilNodesClient{})}, culprit: EnvRedisCAFile,
		want: `ginlimit: RATELIMIT_REDIS_CA_FILE="/etc/ca.pem": invalid option: a client given by WithRedisClient carries its own TLS configuration`},
	{name: "ca file of a disabled limiter", give: map[string]string{EnvEnabled: "false", EnvRedisURL: "rediss://host:6379", EnvRedisCAFile: "/nonexistent/ca.pem"}, culprit: EnvRedisCAFile,
		want: `ginlimit: RATELIMIT_REDIS_CA_FILE="/nonexistent/ca.pem": invalid option: cannot read CA file`},
	{name: "url and a custom backend", give: map[string]string{EnvRedisURL: "redis://host:6379"}, opts: []Option{WithBackend(nopBackend{})}, culprit: EnvRedisURL,
		want: `ginlimit: REDIS_URL="redis://host:6379": invalid option: a Limiter counts in Redis or in a custom backend, not both, and WithBackend gives a custom backend`},
	{name: "token bucket too fast for redis", give: map[string]string{EnvRedisURL: "redis://host:6379", EnvStrategy: "token-bucket", EnvDefault: "2000000/second"}, culprit: EnvDefault, also: []string{EnvStrategy, EnvRedisURL},
		want: `ginlimit: RATELIMIT_DEFAULT="2000000/second": invalid option: redis: invalid policy: token bucket 2000000/second admits more than one unit a microsecond (with RATELIMIT_STRATEGY="token-bucket", REDIS_URL="redis://host:6379")`},
	{name: "fallback limits with the default limits", give: map[string]string{EnvRedisURL: "redis://host:6379", EnvDefault: eightLimits, EnvFallbackLimits: "9/9 seconds"}, culprit: EnvFallbackLimits, also: []string{EnvDefault},
		want: `ginlimit: RATELIMIT_FALLBACK_LIMITS="9/9 seconds": invalid option: with the limits "1/second;2/2 seconds;3/3 seconds;4/4 seconds;5/5 seconds;6/6 seconds;7/7 seconds;8/8 seconds" (with RATELIMIT_DEFAULT="` + eightLimits + `"): invalid policy: invalid limit: 9 limits, at most 8 are allowed`},
}

const eightLimits = "1/1 second;2/2 seconds;3/3 seconds;4/4 seconds;5/5 seconds;6/6 seconds;7/7 seconds;8/8 seconds"

// TestEveryVariableErrorNamesIt checks that each error the environment causes
// starts with the variable at fault, names every other input involved, and
// shows no credentials; and that every variable has such a test.
func TestEveryVariableErrorNamesIt(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.pem")
	require.NoError(t, os.WriteFile(empty, []byte("no certificate here\n"), 0o600))
	for _, tt := range envErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.give {
				t.Setenv(k, strings.ReplaceAll(v, "$EMPTY", empty))
			}
			opts := append([]Option{FromEnv()}, tt.opts...)
			opts = append(opts, WithLogger(slog.New(slog.DiscardHandler)))
			_, err := New(opts...)
			require.ErrorIs(t, err, ErrInvalidOption)
			msg := err.Error()
			assert.Contains(t, msg, strings.ReplaceAll(tt.want, "$EMPTY", empty))
			assert.True(t, strings.HasPrefix(msg, "ginlimit: "+tt.culprit), "%q does not start with %s", msg, tt.culprit)
			for _, name := range tt.also {
				assert.Contains(t, msg, name+"=", "the error names every variable involved")
			}
			assert.NotContains(t, msg, "hunter22")
			assert.NotContains(t, msg, "alice7")
		})
	}

	culprits := map[string]bool{}
	for _, tt := range envErrorTests {
		culprits[tt.culprit] = true
	}
	for _, name := range envVars {
		assert.True(t, culprits[name], "no test of an error caused by %s", name)
	}
}

// TestRouteErrorNamesVariable checks an error found when a route is set up:
// the fallback limits of the environment cannot tighten the route's limits.
func TestRouteErrorNamesVariable(t *testing.T) {
	t.Setenv(EnvRedisURL, "redis://127.0.0.1:1")
	t.Setenv(EnvFallbackLimits, "9/9 seconds")
	l, err := New(FromEnv(), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	defer l.Close()
	assert.PanicsWithError(t, `ginlimit: Limit("`+eightLimits+`"): RATELIMIT_FALLBACK_LIMITS="9/9 seconds": invalid option: with the limits "1/second;2/2 seconds;3/3 seconds;4/4 seconds;5/5 seconds;6/6 seconds;7/7 seconds;8/8 seconds": invalid policy: invalid limit: 9 limits, at most 8 are allowed`,
		func() { l.Limit(eightLimits) })
}

// TestSettingsWithoutSharedBackendAreLogged checks that the settings only a
// shared backend uses are not ignored in silence when there is none.
func TestSettingsWithoutSharedBackendAreLogged(t *testing.T) {
	t.Setenv(EnvRedisTimeout, "50ms")
	t.Setenv(EnvFallbackLimits, "10/minute")
	var logs bytes.Buffer
	l, err := New(FromEnv(), WithFailureMode(FailClosed), WithRedisClientCache(false),
		WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
	require.NoError(t, err)
	defer l.Close()
	var warned []string
	for line := range strings.Lines(logs.String()) {
		var rec struct{ Level, Msg, Setting string }
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec.Level == "WARN" && rec.Msg == "ginlimit: setting has no effect without Redis or a custom backend" {
			warned = append(warned, rec.Setting)
		}
	}
	assert.ElementsMatch(t, []string{`RATELIMIT_REDIS_TIMEOUT="50ms"`, `RATELIMIT_FALLBACK_LIMITS="10/minute"`, `WithFailureMode(closed)`, `WithRedisClientCache(false)`}, warned)
}

// nopBackend admits everything.
type nopBackend struct{}

func (nopBackend) Allow(context.Context, string, backend.Policy, int64) (backend.Result, error) {
	return backend.Result{Allowed: true}, nil
}

// nilNodesClient stands for a caller's client in tests whose configuration
// is refused before the client is used.
type nilNodesClient struct{ rueidis.Client }
