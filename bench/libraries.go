package bench

// A Library is a rate limiter that BenchmarkPeers compares with ginlimit.
type Library struct {
	// Name is the library's name in sub-benchmark names, as in
	// BenchmarkPeers/memory-admit/ulule.
	Name string
	// Module is the module path the library is imported from.
	Module string
	// Version is the module version this module requires; it must match
	// go.mod.
	Version string
	// Notes says, in one or two sentences read from the library's source,
	// what it does: its algorithms, whether denied requests count against
	// the limit, the Redis round trips of one decision and what happens
	// when Redis fails.
	Notes string
}

// GinlimitNotes says what ginlimit does, in the terms of Library.Notes.
const GinlimitNotes = "Sliding window (the default), fixed window or token bucket (GCRA), with several limits per policy checked together; a denied request consumes nothing. " +
	"In memory: a bounded store of hashed keys in shards, each under its own mutex. " +
	"In Redis each decision is one EVALSHA of a Lua script that reads the key's hash and, to admit, writes it (HMGET, HSET, and PEXPIRE when the key's expiry moves), at the server's time, " +
	"sent through rueidis's automatic pipelining; a denied key is then watched through server-assisted client-side caching and denied locally, " +
	"without a round trip, until its counts change or the denial ends. On a Redis error or timeout (100 ms by default) a circuit breaker opens, " +
	"the request and those after it are decided in memory, and Redis is probed in the background until it answers."

// Libraries lists the peer libraries, in the order the benchmark report
// describes them.
var Libraries = []Library{
	{
		Name:    "ulule",
		Module:  "github.com/ulule/limiter/v3",
		Version: "v3.11.2",
		Notes: "Fixed window: one counter per key and period, incremented by every request, so denied requests count against the limit too. " +
			"In Redis each decision is one EVALSHA of a Lua script (INCRBY, then PEXPIRE or PTTL); a Redis error is returned to the caller, " +
			"and the Gin middleware's default error handler panics with it, which gin.Recovery turns into a 500.",
	},
	{
		Name:    "httprate",
		Module:  "github.com/go-chi/httprate",
		Version: "v0.16.1",
		Notes: "Sliding window counter: the previous window's count, weighted by how much of it still overlaps, plus the current count; " +
			"a denied request is not counted. The in-memory counter serializes every key of one limiter on a single mutex; " +
			"Redis is a separate module (httprate-redis), not measured here.",
	},
	{
		Name:    "throttled",
		Module:  "github.com/throttled/throttled/v2",
		Version: "v2.15.0",
		Notes: "GCRA, with a compare-and-swap loop over the store (up to 10 attempts); a denied request writes nothing. " +
			"In Redis (goredisstore.v9) a decision is a pipelined TIME and GET, then to admit an EVAL that sends a compare-and-swap Lua script in full " +
			"(SETNX and EXPIRE for a new key): 1 round trip to deny, 2 or 3 to admit; a Redis error is returned, and the HTTP middleware answers 500.",
	},
	{
		Name:    "sethvargo",
		Module:  "github.com/sethvargo/go-limiter",
		Version: "v0.7.1",
		Notes: "Token bucket per key that refills to full at each interval tick counted from the key's first request, " +
			"so it behaves as a fixed window per key; a denied request takes nothing. " +
			"This module stores in memory only (Redis is the separate go-redisstore module); its httplimit middleware answers 500 when the store returns an error.",
	},
	{
		Name:    "jgl",
		Module:  "github.com/JGLTechnologies/gin-rate-limit",
		Version: "v1.5.4",
		Notes: "A counter per key, refilled to the limit once the period (in whole seconds) has passed since the key's last admitted request; " +
			"a denied request is not counted, and reading and writing are separate steps, so concurrent requests for one key can exceed the limit. " +
			"In Redis, without Lua, a decision is a pipelined GET of two keys and, to admit, a second pipeline of INCR, SET and two EXPIREs; " +
			"on a Redis error it admits the request, or panics if PanicOnErr is set.",
	},
	{
		Name:    "xrate",
		Module:  "golang.org/x/time",
		Version: "v0.16.0",
		Notes: "Token bucket (rate.Limiter), one per key in a map that the benchmark keeps; Allow takes a token only when one is available, " +
			"so denied requests are not counted. In-process only: no Redis and no HTTP middleware.",
	},
	{
		Name:    "redis_rate",
		Module:  "github.com/go-redis/redis_rate/v10",
		Version: "v10.0.1",
		Notes: "GCRA in Redis only: each decision is one Lua script (EVALSHA, then EVAL if Redis does not have it) that reads TIME and the key " +
			"and writes only to admit, so denied requests are not counted. It has no HTTP middleware; a Redis error is returned to the caller.",
	},
}
