package httplimit

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ginlimit/ginlimit/backend"
	"github.com/ginlimit/ginlimit/internal/redisurl"
)

// The environment variables FromEnv reads.
const (
	EnvEnabled       = "RATELIMIT_ENABLED"
	EnvDefault       = "RATELIMIT_DEFAULT"
	EnvPolicies      = "RATELIMIT_POLICIES"
	EnvStrategy      = "RATELIMIT_STRATEGY"
	EnvKeyPrefix     = "RATELIMIT_KEY_PREFIX"
	EnvKeyBy         = "RATELIMIT_KEY_BY"
	EnvHeaders       = "RATELIMIT_HEADERS"
	EnvShadow        = "RATELIMIT_SHADOW"
	EnvMemoryMaxKeys = "RATELIMIT_MEMORY_MAX_KEYS"

	EnvRedisURL       = "REDIS_URL"
	EnvRedisTimeout   = "RATELIMIT_REDIS_TIMEOUT"
	EnvFailureMode    = "RATELIMIT_FAILURE_MODE"
	EnvFallbackLimits = "RATELIMIT_FALLBACK_LIMITS"
	EnvClientCache    = "RATELIMIT_CLIENT_CACHE"
	EnvRedisCAFile    = "RATELIMIT_REDIS_CA_FILE"
)

// envVars lists every variable FromEnv knows; any other RATELIMIT_ variable is
// a mistake it reports.
var envVars = []string{
	EnvEnabled, EnvDefault, EnvPolicies, EnvStrategy, EnvKeyPrefix, EnvKeyBy, EnvHeaders, EnvShadow, EnvMemoryMaxKeys,
	EnvRedisURL, EnvRedisTimeout, EnvFailureMode, EnvFallbackLimits, EnvClientCache, EnvRedisCAFile,
}

// FromEnv configures the Limiter from the environment:
//
//	RATELIMIT_ENABLED          true or false, or 1 or 0 (false passes everything)  default true
//	RATELIMIT_DEFAULT          limits, as WithLimits                              default 100/minute
//	RATELIMIT_POLICIES         name=limits;..., as WithPolicy (see below)         default unset
//	RATELIMIT_STRATEGY         fixed-window, sliding-window or token-bucket      default sliding-window
//	RATELIMIT_KEY_PREFIX       key namespace, as WithKeyPrefix                    default ginlimit
//	RATELIMIT_KEY_BY           ip, header:<Name> or xff:<N>                       default ip
//	RATELIMIT_HEADERS          legacy, ietf, both or none                         default legacy
//	RATELIMIT_SHADOW           true or false: report, refuse nothing (WithShadow) default false
//	RATELIMIT_MEMORY_MAX_KEYS  keys the memory backend holds, at least 1          default 100000
//	REDIS_URL                  count in Redis, as WithRedisURL                    default unset: memory only
//	RATELIMIT_REDIS_TIMEOUT    a Go duration, as WithRedisTimeout                 default 100ms
//	RATELIMIT_FAILURE_MODE     memory, open or closed, as WithFailureMode         default memory
//	RATELIMIT_FALLBACK_LIMITS  limits while in memory, as WithFallbackLimits      default unset
//	RATELIMIT_CLIENT_CACHE     auto or off, as WithRedisClientCache               default auto
//	RATELIMIT_REDIS_CA_FILE    PEM file of CA certificates for rediss://          default unset: system roots
//
// RATELIMIT_POLICIES declares the policies WithPolicyFunc chooses between,
// each as name=limits, separated by ';', with a policy's limits separated by
// ',': "free=60/minute;pro=1000/minute,10000/day". They take the Limiter's
// strategy and settings.
//
// An unset or empty variable keeps the value configured before FromEnv. A
// value that does not parse, or a RATELIMIT_ variable FromEnv does not know
// (a typo), is an error naming the variable. Options after FromEnv override
// it. The environment is read when the Limiter is built.
func FromEnv() Option {
	return limiterOption("FromEnv", applyEnv)
}

func applyEnv(c *config) error {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "RATELIMIT_") && !slices.Contains(envVars, name) {
			return envError(name, "", fmt.Errorf("unknown variable (known: %s)", strings.Join(envVars, ", ")))
		}
	}
	for _, name := range envVars {
		value := strings.TrimSpace(os.Getenv(name))
		if value == "" {
			continue
		}
		if err := applyEnvVar(c, name, value); err != nil {
			if name == EnvRedisURL {
				value = redisurl.Redact(value)
			}
			return envError(name, value, err)
		}
		if from := c.from.ofVar(name); from != nil {
			*from = envOrigin(name, value)
		}
	}
	return nil
}

// ofVar returns the origin that variable name sets, or nil for a variable
// whose value is checked alone.
func (o *origins) ofVar(name string) *string {
	switch name {
	case EnvDefault:
		return &o.limits
	case EnvStrategy:
		return &o.strategy
	case EnvFallbackLimits:
		return &o.fallback
	case EnvFailureMode:
		return &o.failure
	case EnvRedisURL:
		return &o.redis
	case EnvRedisCAFile:
		return &o.caFile
	case EnvRedisTimeout:
		return &o.timeout
	case EnvClientCache:
		return &o.cache
	}
	return nil
}

// envOrigin names a variable and its value, without the credentials of a
// Redis URL.
func envOrigin(name, value string) string {
	if name == EnvRedisURL {
		value = redisurl.Redact(value)
	}
	return fmt.Sprintf("%s=%q", name, value)
}

// applyEnvVar applies variable name through the option it stands for. A
// value the option refuses gives the option's own reason, which applyEnv
// labels with the variable instead of the option.
func applyEnvVar(c *config, name, value string) error {
	opt, err := envOption(name, value)
	if err != nil {
		return err
	}
	if err := opt.apply(c); err != nil {
		var oe *optionError
		if errors.As(err, &oe) {
			return oe.err
		}
		return err
	}
	return nil
}

// envOption returns the option variable name sets with value, or the reason
// value does not read as one.
func envOption(name, value string) (Option, error) {
	switch name {
	case EnvEnabled:
		enabled, err := strconv.ParseBool(value)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return WithEnabled(enabled), nil
	case EnvDefault:
		return WithLimits(value), nil
	case EnvPolicies:
		return parsePolicies(value)
	case EnvStrategy:
		s, err := backend.ParseStrategy(value)
		if err != nil {
			return nil, err
		}
		return WithStrategy(s), nil
	case EnvKeyPrefix:
		return WithKeyPrefix(value), nil
	case EnvKeyBy:
		return parseKeyBy(value)
	case EnvHeaders:
		h, err := ParseHeaders(value)
		if err != nil {
			return nil, err
		}
		return WithHeaders(h), nil
	case EnvShadow:
		on, err := strconv.ParseBool(value)
		if err != nil {
			return nil, errors.New("want true or false")
		}
		return WithShadow(on), nil
	case EnvMemoryMaxKeys:
		n, err := strconv.Atoi(value)
		if err != nil {
			return nil, errors.New("want a whole number of at least 1")
		}
		return WithMemoryMaxKeys(n), nil
	case EnvRedisURL:
		return WithRedisURL(value), nil
	case EnvRedisTimeout:
		d, err := time.ParseDuration(value)
		if err != nil {
			return nil, errors.New("want a Go duration from 1ms to 10s, such as 100ms")
		}
		return WithRedisTimeout(d), nil
	case EnvFailureMode:
		m, err := ParseFailureMode(value)
		if err != nil {
			return nil, err
		}
		return WithFailureMode(m), nil
	case EnvFallbackLimits:
		return WithFallbackLimits(value), nil
	case EnvClientCache:
		switch strings.ToLower(value) {
		case "auto":
			return WithRedisClientCache(true), nil
		case "off":
			return WithRedisClientCache(false), nil
		}
		return nil, errors.New("want auto or off")
	case EnvRedisCAFile:
		return WithRedisCAFile(value), nil
	}
	return nil, fmt.Errorf("no option for %s", name) // envVars and this switch disagree
}

// parsePolicies reads RATELIMIT_POLICIES: name=limits entries separated by
// ';', with the limits of one separated by ','.
func parsePolicies(value string) (Option, error) {
	var opts []Option
	var names []string
	for entry := range strings.SplitSeq(value, ";") {
		entry = strings.TrimSpace(entry)
		name, limits, ok := strings.Cut(entry, "=")
		name, limits = strings.TrimSpace(name), strings.TrimSpace(limits)
		switch {
		case entry == "":
			return nil, errors.New("an entry is empty (write name=limits, separate policies with ';' and the limits of one with ',')")
		case !ok:
			return nil, fmt.Errorf("entry %q is not name=limits (separate policies with ';' and the limits of one with ',')", entry)
		}
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("policy %q: %w", name, err)
		}
		if slices.Contains(names, name) {
			return nil, fmt.Errorf("policy %q is declared twice", name)
		}
		names = append(names, name)
		if _, err := backend.ParseLimits(limits); err != nil {
			return nil, fmt.Errorf("policy %q: %w", name, err)
		}
		opts = append(opts, WithPolicy(name, limits))
	}
	return limiterOption(EnvPolicies, func(c *config) error {
		for _, o := range opts {
			if err := o.apply(c); err != nil {
				return err
			}
			c.policies[len(c.policies)-1].from = envOrigin(EnvPolicies, value)
		}
		return nil
	}), nil
}

// parseKeyBy reads RATELIMIT_KEY_BY: "ip", "header:<Name>" or "xff:<N>".
func parseKeyBy(value string) (Option, error) {
	kind, arg, hasArg := strings.Cut(value, ":")
	switch strings.ToLower(kind) {
	case "ip":
		if hasArg {
			return nil, fmt.Errorf("ip takes no argument")
		}
		return KeyByIP(), nil
	case "header":
		if err := checkHeaderName(arg); err != nil {
			return nil, err
		}
		return KeyByHeader(arg), nil
	case "xff":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("xff:<N> wants N from 1 to 64")
		}
		return KeyByForwardedFor(n), nil
	}
	return nil, fmt.Errorf("want ip, header:<Name> or xff:<N>")
}

func envError(name, value string, err error) error {
	if value == "" {
		return invalid(name, err)
	}
	return invalid(fmt.Sprintf("%s=%q", name, value), err)
}
