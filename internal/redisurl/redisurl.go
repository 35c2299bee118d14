// Package redisurl turns a user's Redis URL (REDIS_URL) into a
// rueidis.ClientOption and gives forms of it that are safe to log.
//
// # Secrets
//
// The whole user info is secret: the password, and the user name too, since
// "redis://PASSWORD@host" is how redis-cli takes a password alone. No function
// of this package ever returns any part of it: Redact writes "xxxxx" in its
// place, Addr names hosts only, and errors are built here from fixed texts and
// from the parts of the URL that are known not to be user info (scheme, host,
// port, path, query and fragment), each of which is left out when it happens
// to contain the user name or the password. In particular the errors of
// net/url (a *url.Error prints the whole URL, and some of its inner errors
// quote bytes of it) and those of rueidis.ParseURL are never passed on.
//
// A URL whose password holds one of the reserved characters '/', '?' or '#'
// unescaped is split by every URL parser at that character, so part of the
// password would end up in the host, the path, the query or the fragment.
// Such a URL always has an '@' after the end of its host, and Parse rejects it
// (Redact gives a placeholder for it) rather than guess: '@' after the host must
// be written %40, like the reserved characters of a user name or password.
//
// # Error format
//
// Errors carry no prefix and do not name the input: they read like
// "invalid URL: missing host" or "unsupported scheme \"http\" (want redis://,
// rediss://, unix://, valkey:// or valkeys://)", and the caller adds its own
// context, such as "ginlimit: REDIS_URL: " or "ginlimit: WithRedisURL: ".
package redisurl

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// redacted replaces the user info and secret query values in Redact.
const redacted = "xxxxx"

// knownParams lists the query parameters rueidis.ParseURL (v1.0.79) reads, in
// the order the errors give them. All but addr are read once.
var knownParams = []string{
	"addr", "client_cache", "client_name", "db", "dial_timeout",
	"master_set", "max_retries", "protocol", "skip_verify", "write_timeout",
}

// supportedSchemes lists the schemes rueidis.ParseURL accepts, in the order the
// error messages give them.
var supportedSchemes = []string{"redis", "rediss", "unix", "valkey", "valkeys"}

const wantSchemes = "want redis://, rediss://, unix://, valkey:// or valkeys://"

// encodeHint tells how to write the reserved characters of a user name or
// password; it ends the errors that such characters most likely caused.
const encodeHint = "percent-encode '@', '/', '?', '#', ':' and '%' in the user name or password as %40, %2F, %3F, %23, %3A and %25"

func isSupportedScheme(scheme string) bool {
	for _, s := range supportedSchemes {
		if s == scheme {
			return true
		}
	}
	return false
}

// rawParts is raw cut the way net/url cuts it, before any unescaping.
type rawParts struct {
	scheme    string // lower case; "" when raw has no valid scheme
	hasSlash  bool   // "//" follows "scheme:"
	authority string // between "scheme://" and the first '/', '?' or '#'
	userinfo  string // the authority before its last '@', as written
	authEnd   int    // index in raw where the authority ends
	after     string // raw[authEnd:]: path, query and fragment
}

// splitRaw cuts raw into scheme, authority and what follows it. It mirrors
// url.Parse: the scheme is the leading [A-Za-z][A-Za-z0-9+.-]* before ':', and
// the authority ends at the first '/', '?' or '#' (url.Parse cuts the fragment
// at the first '#', then the query at the first '?', then the authority at
// the first '/', which comes to the same).
func splitRaw(raw string) rawParts {
	var p rawParts
	i := 0
	for ; i < len(raw); i++ {
		c := raw[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			continue
		}
		if i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			continue
		}
		break
	}
	if i == 0 || i == len(raw) || raw[i] != ':' {
		return p
	}
	p.scheme = strings.ToLower(raw[:i])
	rest := raw[i+1:]
	if !strings.HasPrefix(rest, "//") {
		return p
	}
	p.hasSlash = true
	start := i + 3
	end := len(raw)
	if j := strings.IndexAny(raw[start:], "/?#"); j >= 0 {
		end = start + j
	}
	p.authority = raw[start:end]
	if at := strings.LastIndex(p.authority, "@"); at >= 0 {
		p.userinfo = p.authority[:at]
	}
	p.authEnd = end
	p.after = raw[end:]
	return p
}

// Parse returns the client options for a Redis URL in the forms
// rueidis.ParseURL accepts: redis://, rediss:// (TLS), unix://, valkey://,
// valkeys://, cluster seeds as repeated addr=, Sentinel as master_set=.
//
// The user info is read as redis-cli reads it: "user:password@" is an ACL
// user and its password, ":password@" and "password@" (no ':') the password
// of the default user.
//
// The options are those rueidis.ParseURL returns (including DisableCache and
// AlwaysRESP2 from client_cache=0 and protocol=2, and DisableRetry from
// max_retries=0), with two differences: a user info without ':' is the
// Password, where rueidis would take it for a user name with no password,
// which no server accepts; and a lone "/" path, as in redis://host:6379/,
// means database 0 where rueidis.ParseURL would reject it.
//
// Nothing the user wrote is dropped or misread in silence: Parse rejects what
// rueidis.ParseURL ignores, or lets through although it cannot work:
//   - an empty URL, a URL without "//" after the scheme, an unescaped '@' after
//     the host, an empty user info ("@host") or password ("user:@host", ":@host";
//     an ACL user with nopass accepts any password);
//   - a missing host (where rueidis would silently use localhost) or socket
//     path, a socket path that begins or ends with white space, a unix:// URL
//     with a host or addr= seeds, several hosts, an empty port or one out of
//     1-65535;
//   - a path other than /N, a database number below 0 or given twice with
//     different values, and a fragment ("#...");
//   - a query that does not decode, an empty query ("?" alone) or item ("&&"),
//     a parameter rueidis does not read (a misspelt one, say), or one read once
//     but given twice;
//   - a timeout that is not a positive duration, skip_verify without TLS or
//     with a value other than true or false (a bare skip_verify means true),
//     protocol other than 2 or 3, client_cache other than 0 or 1, max_retries
//     other than 0 (ginlimit never retries a Redis call: a failing call is
//     decided at once by the failure mode), an empty client_name or one Redis
//     refuses (it takes printable ASCII without spaces), an empty master_set,
//     an addr= value that is not host:port (rueidis would turn it into the
//     first host).
//
// The error never contains any part of the user info; see the package
// documentation for its format.
func Parse(raw string) (rueidis.ClientOption, error) {
	var none rueidis.ClientOption
	if raw == "" {
		return none, errors.New("empty URL")
	}
	p := splitRaw(raw)
	if !p.hasSlash {
		// Without "//" url.Parse takes "user:pass@host" as an opaque part
		// and "host:port" as scheme "host": show nothing of raw.
		if isSupportedScheme(p.scheme) {
			return none, fmt.Errorf(`invalid URL: missing "//" after "%s:"`, p.scheme)
		}
		return none, errors.New("invalid URL: missing or unsupported scheme (" + wantSchemes + ")")
	}
	if !isSupportedScheme(p.scheme) {
		// The scheme comes before "://": it cannot hold the user info.
		return none, fmt.Errorf("unsupported scheme %q (%s)", p.scheme, wantSchemes)
	}
	if strings.Contains(p.after, "@") {
		return none, errors.New("invalid URL: unescaped '@' after the host; " + encodeHint)
	}

	u, err := url.Parse(raw)
	if err != nil {
		return none, errors.New("invalid URL: " + describeURLError(err))
	}
	c := newChecker(u, p)
	if err := c.check(u, p); err != nil {
		return none, err
	}

	toParse := raw
	if p.scheme != "unix" && strings.HasPrefix(p.after, "/") && (len(p.after) == 1 || p.after[1] == '?') {
		// A lone "/" path: drop it so that rueidis reads database 0.
		toParse = raw[:p.authEnd] + p.after[1:]
	}
	opt, err := rueidis.ParseURL(toParse)
	if err != nil {
		// Not expected after the checks above. The texts of rueidis quote
		// parts of the path and query, never the user info, but check anyway.
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		var ue *url.Error
		if errors.As(err, &ue) || !c.safe(msg) {
			msg = "invalid URL"
		}
		return none, errors.New(msg)
	}
	if u.User != nil {
		if _, hasColon := u.User.Password(); !hasColon {
			opt.Username, opt.Password = "", u.User.Username()
		}
	}
	return opt, nil
}

// describeURLError tells what is wrong from an error of url.Parse without
// quoting any part of the URL: *url.Error prints the whole URL, an EscapeError
// quotes up to three bytes that may come from the password, an
// InvalidHostError a byte of the host, netip errors and "invalid port" the
// host or port, which could be bytes of the password when it is split wrongly.
func describeURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ee url.EscapeError
	var he url.InvalidHostError
	switch msg := err.Error(); {
	case errors.As(err, &ee):
		return "invalid percent-encoding (a '%' must be followed by two hexadecimal digits; in the host only non-ASCII bytes may be encoded); " + encodeHint
	case errors.As(err, &he):
		return "invalid character in host name"
	case strings.HasPrefix(msg, "invalid port"):
		return "invalid port after host (want host:port with a numeric port); " + encodeHint
	case msg == "net/url: invalid userinfo":
		return "invalid character in user info; " + encodeHint
	case msg == "net/url: invalid control character in URL":
		return "invalid control character in URL"
	case msg == "missing ']' in host":
		return "missing ']' in host"
	case msg == "invalid IP-literal" || strings.HasPrefix(msg, "invalid host"):
		return "invalid IPv6 address in brackets"
	default:
		// Not expected: Parse has ruled out the errors of a missing scheme
		// or an empty URL, and the others are above.
		return "malformed URL"
	}
}

// checker validates a parsed URL, knowing its user info so as to keep it out
// of the errors.
type checker struct {
	secrets []string // the user name and password, as written and decoded
}

func newChecker(u *url.URL, p rawParts) checker {
	var c checker
	if u.User == nil {
		return c
	}
	user, pass, _ := strings.Cut(p.userinfo, ":")
	decodedPass, _ := u.User.Password()
	for _, s := range []string{user, pass, u.User.Username(), decodedPass} {
		if s != "" {
			c.secrets = append(c.secrets, s)
		}
	}
	return c
}

// safe reports whether s, a part of the URL or a message, holds no part of
// the user info, raw or escaped.
func (c checker) safe(s string) bool {
	for _, secret := range c.secrets {
		for _, form := range []string{secret, url.PathEscape(secret), url.QueryEscape(secret)} {
			if strings.Contains(s, form) {
				return false
			}
		}
	}
	return true
}

// show quotes v for an error message, or gives a placeholder when v holds a
// part of the user info.
func (c checker) show(v string) string {
	if c.safe(v) && c.safe(strconv.Quote(v)) {
		return strconv.Quote(v)
	}
	return "(value not shown: it contains the user name or password)"
}

func (c checker) check(u *url.URL, p rawParts) error {
	if u.Opaque != "" {
		return errors.New("invalid URL: missing \"//\" after \"" + p.scheme + ":\"")
	}
	if err := checkUserinfo(u); err != nil {
		return err
	}
	if i := strings.IndexByte(p.after, '#'); i >= 0 {
		return fmt.Errorf("invalid URL: fragment %s is not allowed", c.show(p.after[i:]))
	}
	unix := u.Scheme == "unix"
	var pathDB string
	if unix {
		if u.Host != "" {
			return errors.New("invalid URL: a unix:// URL has no host; write unix:///path/to/redis.sock (three slashes)")
		}
		if strings.TrimSpace(u.Path) == "" {
			return errors.New("invalid URL: missing socket path (want unix:///path/to/redis.sock)")
		}
		if strings.TrimSpace(u.Path) != u.Path {
			// rueidis would trim it.
			return errors.New("invalid URL: socket path begins or ends with white space")
		}
	} else {
		if err := c.checkHost(u); err != nil {
			return err
		}
		switch ps := strings.Split(u.Path, "/"); {
		case u.Path == "" || u.Path == "/":
		case len(ps) == 2:
			pathDB = ps[1]
			if err := c.checkDB(pathDB, "in the path"); err != nil {
				return err
			}
		default:
			return fmt.Errorf("invalid URL: invalid path %s (want /<database number> or none)", c.show(u.Path))
		}
	}

	if u.ForceQuery {
		return errors.New("invalid URL query: empty query after '?' (remove the '?')")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		var ee url.EscapeError
		switch msg := err.Error(); {
		case errors.As(err, &ee):
			return errors.New("invalid URL query: invalid percent-encoding (a '%' must be followed by two hexadecimal digits)")
		case strings.Contains(msg, "semicolon"):
			return errors.New("invalid URL query: ';' is not a separator, use '&'")
		case strings.Contains(msg, "exceeded limit"):
			return errors.New("invalid URL query: too many parameters")
		default:
			return errors.New("invalid URL query")
		}
	}
	bareSkipVerify := false
	if u.RawQuery != "" {
		for _, item := range strings.Split(u.RawQuery, "&") {
			if item == "" {
				return errors.New("invalid URL query: empty item (a '&' at the start or end, or two in a row)")
			}
			rawName, _, hasValue := strings.Cut(item, "=")
			name, _ := url.QueryUnescape(rawName) // ParseQuery has decoded it
			switch {
			case name == "":
				return errors.New("invalid URL query: parameter without a name")
			case !slices.Contains(knownParams, name):
				return fmt.Errorf("invalid URL query: unknown parameter %s (known: %s)", c.show(name), strings.Join(knownParams, ", "))
			case name == "skip_verify":
				bareSkipVerify = !hasValue
			}
		}
	}
	for _, name := range knownParams {
		if name != "addr" && len(q[name]) > 1 {
			return fmt.Errorf("invalid URL query: %s given %d times", name, len(q[name]))
		}
	}
	if q.Has("db") {
		v := q.Get("db")
		if err := c.checkDB(v, "in db="); err != nil {
			return err
		}
		if pathDB != "" {
			a, _ := strconv.Atoi(pathDB)
			b, _ := strconv.Atoi(v)
			if a != b {
				return fmt.Errorf("invalid URL: database number given twice with different values (path /%d and db=%d)", a, b)
			}
		}
	}
	for _, name := range []string{"dial_timeout", "write_timeout"} {
		if !q.Has(name) {
			continue
		}
		// rueidis takes 0 for its default.
		v := q.Get(name)
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return fmt.Errorf("invalid URL query: invalid %s %s (want a positive duration such as 5s or 500ms)", name, c.show(v))
		}
	}
	if q.Has("skip_verify") {
		if u.Scheme != "rediss" && u.Scheme != "valkeys" {
			return errors.New("invalid URL query: skip_verify needs TLS (rediss:// or valkeys://)")
		}
		switch v := q.Get("skip_verify"); {
		case v == "" && !bareSkipVerify:
			// rueidis reads "skip_verify=" as true: a value that went
			// missing must not turn verification off.
			return errors.New("invalid URL query: empty skip_verify= (want skip_verify=true or skip_verify=false)")
		case v != "":
			if _, err := strconv.ParseBool(v); err != nil {
				return fmt.Errorf("invalid URL query: invalid skip_verify %s (want true or false)", c.show(v))
			}
		}
	}
	if v := q.Get("protocol"); q.Has("protocol") && v != "2" && v != "3" {
		return fmt.Errorf("invalid URL query: invalid protocol %s (want 2 or 3)", c.show(v))
	}
	if v := q.Get("client_cache"); q.Has("client_cache") && v != "0" && v != "1" {
		return fmt.Errorf("invalid URL query: invalid client_cache %s (want 0 or 1)", c.show(v))
	}
	if v := q.Get("max_retries"); q.Has("max_retries") && v != "0" {
		// rueidis reads only "0"; ginlimit sets DisableRetry whatever the URL says.
		return fmt.Errorf("invalid URL query: invalid max_retries %s (want 0 or none: ginlimit never retries a Redis call, a failing call is decided at once by the failure mode)", c.show(v))
	}
	if q.Has("client_name") {
		v := q.Get("client_name")
		if v == "" {
			return errors.New("invalid URL query: empty client_name (want a name, or leave client_name out)")
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < '!' || r > '~' }) {
			// Redis refuses such a name in HELLO, so no connection would work.
			return fmt.Errorf("invalid URL query: invalid client_name %s (Redis takes printable ASCII without spaces)", c.show(v))
		}
	}
	if q.Has("master_set") && q.Get("master_set") == "" {
		return errors.New("invalid URL query: empty master_set (want the name of the master set for Sentinel)")
	}
	if addrs := q["addr"]; len(addrs) > 0 {
		if unix {
			return errors.New("invalid URL query: addr= is not supported with unix://")
		}
		for _, a := range addrs {
			if err := c.checkSeed(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkUserinfo rejects a user info that would make rueidis send no password
// or an empty one: it is most likely a secret that went missing, as in
// redis://$REDIS_PASSWORD@host with the variable unset.
func checkUserinfo(u *url.URL) error {
	if u.User == nil {
		return nil
	}
	pass, hasColon := u.User.Password()
	switch {
	case !hasColon && u.User.Username() == "":
		return errors.New("invalid URL: empty user info before '@' (write the password before the '@', or remove the '@')")
	case hasColon && pass == "":
		return errors.New("invalid URL: empty password after ':' in the user info (want user:password, or :password for the default user; an ACL user with nopass accepts any password)")
	}
	return nil
}

// checkHost checks the host and port of a TCP URL. url.Parse has already
// checked that the port, if any, is made of digits.
func (c checker) checkHost(u *url.URL) error {
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("invalid URL: missing host (want %s://host:port)", u.Scheme)
	}
	if !strings.HasPrefix(u.Host, "[") && strings.ContainsAny(host, ":,") {
		return fmt.Errorf("invalid URL: invalid host %s: one host only, give more nodes as ?addr=host:port&addr=host:port", c.show(host))
	}
	if strings.HasSuffix(u.Host, ":") {
		// rueidis would use port 6379.
		return errors.New("invalid URL: empty port after ':' (want host:port, or the host alone for port 6379)")
	}
	if port := u.Port(); port != "" {
		if err := c.checkPort(port); err != nil {
			return err
		}
	}
	return nil
}

func (c checker) checkPort(port string) error {
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid URL: invalid port %s (want 1-65535)", c.show(port))
	}
	return nil
}

// checkSeed checks an addr= value. rueidis.ParseURL replaces a value that
// net.SplitHostPort rejects by the URL's own host and the default port, so a
// seed without a port would silently become a copy of the first host.
func (c checker) checkSeed(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || port == "" || strings.ContainsAny(host, "/?#@,") {
		return fmt.Errorf("invalid URL query: invalid addr %s (want host:port)", c.show(a))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid URL query: invalid port in addr %s (want 1-65535)", c.show(a))
	}
	return nil
}

func (c checker) checkDB(v, where string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("invalid URL: invalid database number %s %s (want a number from 0)", c.show(v), where)
	}
	if n < 0 || n > math.MaxInt32 {
		return fmt.Errorf("invalid URL: database number %d %s out of range (want 0-%d)", n, where, math.MaxInt32)
	}
	return nil
}

// Redact returns raw with its whole user info replaced by "xxxxx", whatever
// its form (redis://xxxxx@host:6379/0): neither the user name nor the
// password shows. An empty user info, as in redis://@host, holds nothing and
// is kept. It parses raw with net/url. The values of query parameters whose
// name looks secret (containing pass, pwd, token, secret, auth, key or cred,
// in any case) are replaced by "xxxxx" too; the other parts keep their
// original spelling and order.
//
// When raw does not parse, or holds an '@' after the host (so that part of
// the password may have been taken for the host, path or query), Redact
// returns a fixed placeholder that names at most the scheme, such as
// "<unparsable rediss:// URL>" or "<unparsable redis URL>". An empty raw
// gives "".
func Redact(raw string) string {
	if raw == "" {
		return ""
	}
	p := splitRaw(raw)
	if !p.hasSlash || strings.Contains(p.after, "@") {
		return unparsable(p.scheme)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return unparsable(p.scheme)
	}
	if u.User != nil && p.userinfo != "" {
		u.User = url.User(redacted)
	}
	u.RawQuery = redactQuery(u.RawQuery)
	return u.String()
}

func unparsable(scheme string) string {
	if isSupportedScheme(scheme) {
		return "<unparsable " + scheme + ":// URL>"
	}
	return "<unparsable redis URL>"
}

// secretWords are the parts of a query parameter name that make its value
// secret.
var secretWords = []string{"pass", "pwd", "token", "secret", "auth", "key", "cred"}

func isSecretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// redactQuery replaces the values of secret parameters in a raw query,
// keeping everything else as written. It splits on both '&' and ';', as some
// parsers take ';' as a separator, and treats a name that does not decode as
// secret.
func redactQuery(raw string) string {
	if raw == "" {
		return raw
	}
	var b strings.Builder
	b.Grow(len(raw))
	for raw != "" {
		pair := raw
		sep := ""
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			pair, sep, raw = raw[:i], raw[i:i+1], raw[i+1:]
		} else {
			raw = ""
		}
		name, _, hasValue := strings.Cut(pair, "=")
		decoded, err := url.QueryUnescape(name)
		if hasValue && (err != nil || isSecretName(name) || isSecretName(decoded)) {
			pair = name + "=" + redacted
		}
		b.WriteString(pair)
		b.WriteString(sep)
	}
	return b.String()
}

// Secrets returns the non-empty user names and passwords of opt: the
// server's and the Sentinel's, longest first, so that Mask hides a secret
// holding another whole.
func Secrets(opt rueidis.ClientOption) []string {
	var out []string
	for _, s := range []string{opt.Username, opt.Password, opt.Sentinel.Username, opt.Sentinel.Password} {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// Mask returns text with each of secrets (see Secrets) replaced by "xxxxx",
// as written and as escaped in a URL's query or path: the text of a server's
// error, which may quote the user name (NOPERM User limiter has no
// permissions...), or of a client's, which may quote the URL.
func Mask(text string, secrets []string) string {
	for _, secret := range secrets {
		for _, form := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
			text = strings.ReplaceAll(text, form, redacted)
		}
	}
	return text
}

// Addr returns the address(es) opt points at, for logs and health checks:
// "host:port", several joined by ","; "sentinel host:port,host:port master
// NAME" for Sentinel; the socket path for unix. It holds no credentials: were
// an address written with user info ("user:pass@host:port" or a URL), only
// what follows its last '@' is kept.
func Addr(opt rueidis.ClientOption) string {
	addrs := make([]string, 0, len(opt.InitAddress))
	for _, a := range opt.InitAddress {
		addrs = append(addrs, stripUserinfo(a))
	}
	s := strings.Join(addrs, ",")
	if opt.Sentinel.MasterSet != "" {
		return "sentinel " + s + " master " + opt.Sentinel.MasterSet
	}
	return s
}

func stripUserinfo(a string) string {
	if strings.Contains(a, "://") {
		u, err := url.Parse(a)
		if err != nil {
			return "<invalid address>"
		}
		if u.Host != "" {
			return u.Host
		}
		return u.Path
	}
	if i := strings.LastIndex(a, "@"); i > 0 && !strings.HasPrefix(a, "/") {
		return a[i+1:]
	}
	return a
}
