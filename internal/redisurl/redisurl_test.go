package redisurl_test

import (
	"crypto/tls"
	"go/ast"
	"go/parser"
	"go/token"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/internal/redisurl"
)

// The user name and password used by the tests: an error or a display form
// that contains either one leaks.
const (
	testUser = "alice"
	testPass = "s3cr3t"
)

// view is the part of a rueidis.ClientOption that Parse sets.
type view struct {
	Addrs        []string
	User, Pass   string
	DB           int
	TLS          bool
	ServerName   string
	SkipVerify   bool
	MasterSet    string
	Unix         bool // DialCtxFn set
	RESP2        bool
	NoCache      bool
	NoRetry      bool
	ClientName   string
	DialTimeout  time.Duration
	WriteTimeout time.Duration
}

func viewOf(opt rueidis.ClientOption) view {
	v := view{
		Addrs:        opt.InitAddress,
		User:         opt.Username,
		Pass:         opt.Password,
		DB:           opt.SelectDB,
		TLS:          opt.TLSConfig != nil,
		MasterSet:    opt.Sentinel.MasterSet,
		Unix:         opt.DialCtxFn != nil,
		RESP2:        opt.AlwaysRESP2,
		NoCache:      opt.DisableCache,
		NoRetry:      opt.DisableRetry,
		ClientName:   opt.ClientName,
		DialTimeout:  opt.Dialer.Timeout,
		WriteTimeout: opt.ConnWriteTimeout,
	}
	if opt.TLSConfig != nil {
		v.ServerName = opt.TLSConfig.ServerName
		v.SkipVerify = opt.TLSConfig.InsecureSkipVerify
		if opt.TLSConfig.MinVersion != tls.VersionTLS12 {
			v.ServerName += " (MinVersion not TLS 1.2)"
		}
	}
	return v
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		give string
		want view
		// sameAsRueidis is false where Parse knowingly differs from
		// rueidis.ParseURL.
		differsFromRueidis bool
	}{
		{name: "redis host port db", give: "redis://localhost:6379/0", want: view{Addrs: []string{"localhost:6379"}}},
		{name: "redis default port", give: "redis://cache.internal", want: view{Addrs: []string{"cache.internal:6379"}}},
		{name: "upper-case scheme", give: "REDIS://cache.internal:6380", want: view{Addrs: []string{"cache.internal:6380"}}},
		{name: "db in path", give: "redis://h:6380/3", want: view{Addrs: []string{"h:6380"}, DB: 3}},
		{name: "db in query", give: "redis://h:6380?db=3", want: view{Addrs: []string{"h:6380"}, DB: 3}},
		{name: "db in path and query agree", give: "redis://h/3?db=3", want: view{Addrs: []string{"h:6379"}, DB: 3}},
		{name: "lone slash is db 0", give: "redis://h:6379/", want: view{Addrs: []string{"h:6379"}}, differsFromRueidis: true},
		{name: "lone slash before query", give: "redis://h:6379/?db=2", want: view{Addrs: []string{"h:6379"}, DB: 2}, differsFromRueidis: true},
		{name: "IPv6", give: "redis://[::1]:6379/1", want: view{Addrs: []string{"[::1]:6379"}, DB: 1}},
		{
			name: "username and password",
			give: "redis://" + testUser + ":" + testPass + "@h:6379/1",
			want: view{Addrs: []string{"h:6379"}, User: testUser, Pass: testPass, DB: 1},
		},
		{
			name: "password only",
			give: "redis://:" + testPass + "@h",
			want: view{Addrs: []string{"h:6379"}, Pass: testPass},
		},
		{
			// redis-cli reads a user info without ':' as the password of
			// the default user; rueidis takes it for a user name.
			name:               "user info without colon is the password",
			give:               "redis://" + testPass + "@h:6379/0",
			want:               view{Addrs: []string{"h:6379"}, Pass: testPass},
			differsFromRueidis: true,
		},
		{
			name:               "escaped user info without colon",
			give:               "rediss://p%40ss%3Aw@h",
			want:               view{Addrs: []string{"h:6379"}, Pass: "p@ss:w", TLS: true, ServerName: "h"},
			differsFromRueidis: true,
		},
		{
			name:               "unix socket with password only",
			give:               "unix://" + testPass + "@/tmp/redis.sock",
			want:               view{Addrs: []string{"/tmp/redis.sock"}, Pass: testPass, Unix: true},
			differsFromRueidis: true,
		},
		{
			name: "percent-encoded reserved characters in password",
			give: "redis://" + testUser + ":p%40ss%3Aw%2Frd%25@h:6379/0",
			want: view{Addrs: []string{"h:6379"}, User: testUser, Pass: "p@ss:w/rd%"},
		},
		{
			name: "unescaped @ and : in password",
			give: "redis://" + testUser + ":p@ss:w@h:6379/0",
			want: view{Addrs: []string{"h:6379"}, User: testUser, Pass: "p@ss:w"},
		},
		{
			name: "rediss sets TLS with ServerName",
			give: "rediss://" + testUser + ":" + testPass + "@redis.example.com:6380/2",
			want: view{Addrs: []string{"redis.example.com:6380"}, User: testUser, Pass: testPass, DB: 2, TLS: true, ServerName: "redis.example.com"},
		},
		{
			name: "rediss skip_verify",
			give: "rediss://h?skip_verify=true",
			want: view{Addrs: []string{"h:6379"}, TLS: true, ServerName: "h", SkipVerify: true},
		},
		{
			name: "rediss bare skip_verify",
			give: "rediss://h?skip_verify",
			want: view{Addrs: []string{"h:6379"}, TLS: true, ServerName: "h", SkipVerify: true},
		},
		{
			name: "unix socket with db",
			give: "unix:///var/run/redis.sock?db=2",
			want: view{Addrs: []string{"/var/run/redis.sock"}, DB: 2, Unix: true},
		},
		{
			name: "unix socket with credentials",
			give: "unix://" + testUser + ":" + testPass + "@/tmp/redis.sock",
			want: view{Addrs: []string{"/tmp/redis.sock"}, User: testUser, Pass: testPass, Unix: true},
		},
		{name: "valkey", give: "valkey://h:7000/1", want: view{Addrs: []string{"h:7000"}, DB: 1}},
		{name: "valkeys", give: "valkeys://vk.example.com", want: view{Addrs: []string{"vk.example.com:6379"}, TLS: true, ServerName: "vk.example.com"}},
		{
			name: "cluster seeds",
			give: "redis://h1:7000?addr=h2:7001&addr=h3:7002",
			want: view{Addrs: []string{"h1:7000", "h2:7001", "h3:7002"}},
		},
		{
			name: "seed with empty host takes the URL's host",
			give: "redis://h1:7000?addr=:7001",
			want: view{Addrs: []string{"h1:7000", "h1:7001"}},
		},
		{
			name: "sentinel",
			give: "redis://s1:26379?addr=s2:26379&addr=s3:26379&master_set=mymaster",
			want: view{Addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, MasterSet: "mymaster"},
		},
		{
			name: "query flags",
			give: "redis://h?protocol=2&client_cache=0&max_retries=0&client_name=app&dial_timeout=3s&write_timeout=250ms",
			want: view{Addrs: []string{"h:6379"}, RESP2: true, NoCache: true, NoRetry: true, ClientName: "app", DialTimeout: 3 * time.Second, WriteTimeout: 250 * time.Millisecond},
		},
		{
			name: "query flags off",
			give: "redis://h?protocol=3&client_cache=1",
			want: view{Addrs: []string{"h:6379"}},
		},
		{name: "skip_verify false", give: "rediss://h?skip_verify=false", want: view{Addrs: []string{"h:6379"}, TLS: true, ServerName: "h"}},
		{name: "escaped parameter name", give: "redis://h?d%62=2", want: view{Addrs: []string{"h:6379"}, DB: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := redisurl.Parse(tt.give)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v, want nil", tt.give, err)
			}
			if got := viewOf(opt); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) = %+v, want %+v", tt.give, got, tt.want)
			}
			if tt.differsFromRueidis {
				return
			}
			ropt, err := rueidis.ParseURL(tt.give)
			if err != nil {
				t.Fatalf("rueidis.ParseURL(%q) error = %v, want nil", tt.give, err)
			}
			if got, want := viewOf(opt), viewOf(ropt); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q) = %+v, want what rueidis.ParseURL gives: %+v", tt.give, got, want)
			}
		})
	}
}

// cred is a user info for the error tests: no part of it may show.
const cred = testUser + ":" + testPass + "@"

// parseErrorTests holds an input for every error text of Parse; they are the
// fuzzer's seeds too, so that it starts from every error path.
var parseErrorTests = []struct {
	name string
	give string
	want string // a substring of the error
}{
	{name: "empty", give: "", want: "empty URL"},
	{name: "unknown scheme", give: "http://" + cred + "h", want: `unsupported scheme "http"`},
	{name: "no scheme host port", give: "localhost:6379", want: "missing or unsupported scheme"},
	{name: "no scheme with credentials", give: cred + "h:6379", want: "missing or unsupported scheme"},
	{name: "no scheme slashes", give: "//" + cred + "h:6379", want: "missing or unsupported scheme"},
	{name: "leading space", give: " redis://h", want: "missing or unsupported scheme"},
	{name: "no slashes after scheme", give: "redis:" + cred + "h:6379", want: `missing "//" after "redis:"`},
	{name: "missing host", give: "redis://", want: "missing host"},
	{name: "missing host with port", give: "redis://:6379/0", want: "missing host"},
	{name: "missing host with credentials", give: "rediss://" + cred + "/0", want: "missing host"},
	{name: "non-numeric port", give: "redis://" + cred + "h:abc/0", want: "invalid port after host"},
	{name: "port zero", give: "redis://" + cred + "h:0", want: `invalid port "0"`},
	{name: "port too big", give: "redis://h:70000", want: `invalid port "70000"`},
	{name: "empty port", give: "redis://" + cred + "h:/0", want: "empty port after ':'"},
	{name: "several hosts", give: "redis://h1:1,h2:2", want: "one host only"},
	{name: "bad db in path", give: "redis://" + cred + "h/x", want: `invalid database number "x" in the path`},
	{name: "negative db", give: "redis://h/-1", want: "database number -1 in the path out of range"},
	{name: "huge db", give: "redis://h?db=4294967296", want: "out of range"},
	{name: "bad db in query", give: "redis://h?db=one", want: `invalid database number "one" in db=`},
	{name: "db twice", give: "redis://h/1?db=2", want: "database number given twice"},
	{name: "path too deep", give: "redis://h/1/2", want: `invalid path "/1/2"`},
	{name: "bad dial_timeout", give: "redis://h?dial_timeout=abc", want: `invalid dial_timeout "abc"`},
	{name: "negative write_timeout", give: "redis://h?write_timeout=-1s", want: `invalid write_timeout "-1s"`},
	{name: "zero dial_timeout", give: "redis://" + cred + "h?dial_timeout=0", want: `invalid dial_timeout "0" (want a positive duration`},
	{name: "skip_verify without TLS", give: "redis://h?skip_verify=true", want: "skip_verify needs TLS"},
	{name: "bad skip_verify", give: "rediss://h?skip_verify=maybe", want: `invalid skip_verify "maybe"`},
	{name: "empty skip_verify", give: "rediss://" + cred + "h?skip_verify=", want: "empty skip_verify="},
	{name: "bad protocol", give: "redis://h?protocol=4", want: `invalid protocol "4"`},
	{name: "bad client_cache", give: "redis://h?client_cache=false", want: `invalid client_cache "false"`},
	{name: "bad max_retries", give: "redis://h?max_retries=many", want: `invalid max_retries "many"`},
	{name: "max_retries above 0", give: "redis://" + cred + "h?max_retries=3", want: `invalid max_retries "3" (want 0 or none: ginlimit never retries a Redis call`},
	{name: "max_retries 00", give: "redis://h?max_retries=00", want: `invalid max_retries "00"`},
	{name: "empty master_set", give: "redis://h?master_set=", want: "empty master_set"},
	{name: "empty client_name", give: "redis://" + cred + "h?client_name=", want: "empty client_name"},
	{name: "bare client_name", give: "redis://h?client_name", want: "empty client_name"},
	{name: "client_name with space", give: "redis://h?client_name=my%20app", want: `invalid client_name "my app"`},
	{name: "repeated db", give: "redis://h?db=1&db=2", want: "db given 2 times"},
	{name: "seed without port", give: "redis://h?addr=h2", want: `invalid addr "h2"`},
	{name: "seed with bad port", give: "redis://h?addr=h2:99999", want: `invalid port in addr "h2:99999"`},
	{name: "bad query escape", give: "redis://" + cred + "h?a=%zz", want: "invalid URL query: invalid percent-encoding"},
	{name: "semicolon in query", give: "redis://h?a=1;b=2", want: "';' is not a separator"},
	{name: "too many query items", give: "redis://h?" + strings.Repeat("&", 10000), want: "invalid URL query: too many parameters"},
	{name: "unknown parameter", give: "redis://" + cred + "h?foo=bar", want: `invalid URL query: unknown parameter "foo" (known: addr, client_cache, client_name, db, dial_timeout, master_set, max_retries, protocol, skip_verify, write_timeout)`},
	{name: "misspelt parameter", give: "redis://h?dial_timout=1s", want: `unknown parameter "dial_timout"`},
	{name: "upper-case parameter", give: "redis://h?DB=1", want: `unknown parameter "DB"`},
	{name: "secret-looking parameter", give: "redis://h?password=" + testPass, want: `unknown parameter "password"`},
	{name: "parameter without name", give: "redis://h?=1", want: "parameter without a name"},
	{name: "empty query", give: "redis://" + cred + "h:6379/0?", want: "invalid URL query: empty query after '?'"},
	{name: "empty first item", give: "redis://h:6379/0?&db=1", want: "invalid URL query: empty item"},
	{name: "empty last item", give: "redis://h?db=1&", want: "invalid URL query: empty item"},
	{name: "empty middle item", give: "redis://h?db=1&&protocol=2", want: "invalid URL query: empty item"},
	{name: "fragment", give: "redis://" + cred + "h/1#x", want: `invalid URL: fragment "#x" is not allowed`},
	{name: "empty fragment", give: "redis://h#", want: `invalid URL: fragment "#" is not allowed`},
	{name: "unix without path", give: "unix://", want: "missing socket path"},
	{name: "unix path with spaces", give: "unix:///tmp/redis.sock%20", want: "socket path begins or ends with white space"},
	{name: "unix with host", give: "unix://tmp/redis.sock", want: "unix:// URL has no host"},
	{name: "unix with seeds", give: "unix:///tmp/redis.sock?addr=h:1", want: "addr= is not supported with unix://"},
	{name: "IPv6 without bracket", give: "redis://[::1:6379", want: "missing ']' in host"},
	{name: "IPv4 in brackets", give: "redis://[127.0.0.1]:6379", want: "invalid IPv6 address"},
	{name: "bad host character", give: "redis://h^x:6379", want: "invalid character in host name"},
	{name: "bad host escape", give: "redis://h%zz", want: "invalid percent-encoding"},
	// The user info.
	{name: "empty user info", give: "redis://@h:6379", want: "invalid URL: empty user info before '@'"},
	{name: "user with empty password", give: "redis://" + testUser + ":@h:6379", want: "invalid URL: empty password after ':' in the user info"},
	{name: "colon only", give: "redis://:@h:6379", want: "invalid URL: empty password after ':' in the user info"},
	// Passwords with reserved characters written as they are.
	{name: "slash in password", give: "redis://" + testUser + ":s3c/r3t@h:6379/0", want: "unescaped '@' after the host"},
	{name: "digits then slash in password", give: "redis://" + testUser + ":6379/" + testPass + "@h/0", want: "unescaped '@' after the host"},
	{name: "question mark in password", give: "redis://" + testUser + ":s3c?r3t@h", want: "unescaped '@' after the host"},
	{name: "hash in password", give: "redis://" + testUser + ":s3c#r3t@h", want: "unescaped '@' after the host"},
	{name: "slash in password without user", give: "redis://s3c/r3t@h", want: "unescaped '@' after the host"},
	{name: "percent in password", give: "redis://" + testUser + ":s3%cr3t@h", want: "invalid percent-encoding"},
	{name: "space in password", give: "redis://" + testUser + ":s3c r3t@h", want: "invalid character in user info"},
	{name: "newline in password", give: "redis://" + testUser + ":s3c\nr3t@h", want: "invalid control character"},
	{name: "password reused as port", give: "redis://" + testUser + ":" + testPass + "@h:" + testPass, want: "invalid port after host"},
	{name: "password without user reused as port", give: "redis://" + testPass + "@h:" + testPass, want: "invalid port after host"},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range parseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisurl.Parse(tt.give)
			if err == nil {
				t.Fatalf("Parse(%q) error = nil, want one containing %q", tt.give, tt.want)
			}
			got := err.Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.give, got, tt.want)
			}
			for _, secret := range []string{testUser, testPass, "s3c", "r3t"} {
				if strings.Contains(got, secret) {
					t.Errorf("Parse(%q) error = %q, want no %q in it", tt.give, got, secret)
				}
			}
			if strings.HasPrefix(got, "redis:") || strings.HasPrefix(got, "ginlimit:") || strings.HasPrefix(got, "parse ") {
				t.Errorf("Parse(%q) error = %q, want no prefix", tt.give, got)
			}
			if r, _ := utf8.DecodeRuneInString(got); !unicode.IsLower(r) {
				t.Errorf("Parse(%q) error = %q, want it to start in lower case", tt.give, got)
			}
		})
	}
}

// TestParseShowsNoUserInfoInValues checks that a value quoted in an error is
// left out when it holds the user name or password.
func TestParseShowsNoUserInfoInValues(t *testing.T) {
	tests := []struct {
		name string
		give string
	}{
		{name: "db equal to password", give: "redis://" + testUser + ":" + testPass + "@h?db=" + testPass},
		{name: "timeout holding user", give: "redis://" + testUser + ":" + testPass + "@h?dial_timeout=" + testUser},
		{name: "seed holding password", give: "redis://" + testUser + ":" + testPass + "@h?addr=" + testPass},
		{name: "path holding escaped password", give: "redis://" + testUser + ":p%40ss@h/p%2540ss"},
		{name: "db equal to password without user", give: "redis://" + testPass + "@h?db=" + testPass},
		{name: "unknown parameter named after user", give: "redis://" + testUser + ":" + testPass + "@h?" + testUser + "=1"},
		{name: "unknown parameter named after password", give: "redis://" + testPass + "@h?" + testPass},
		{name: "fragment holding user", give: "redis://" + testUser + ":" + testPass + "@h#" + testUser},
		{name: "client_name holding password", give: "redis://" + testPass + "@h?client_name=" + testPass + "%20"},
		{name: "max_retries holding user", give: "redis://" + testUser + ":" + testPass + "@h?max_retries=" + testUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := redisurl.Parse(tt.give)
			if err == nil {
				t.Fatalf("Parse(%q) error = nil, want an error", tt.give)
			}
			got := err.Error()
			for _, secret := range []string{testUser, testPass, "p@ss", "p%40ss"} {
				if strings.Contains(got, secret) {
					t.Errorf("Parse(%q) error = %q, want no %q in it", tt.give, got, secret)
				}
			}
			if !strings.Contains(got, "value not shown") {
				t.Errorf("Parse(%q) error = %q, want it to say the value is not shown", tt.give, got)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "empty", give: "", want: ""},
		{name: "user and password", give: "redis://" + testUser + ":" + testPass + "@h:6379/0", want: "redis://xxxxx@h:6379/0"},
		{name: "password only", give: "rediss://:" + testPass + "@h:6380", want: "rediss://xxxxx@h:6380"},
		{name: "password without colon", give: "redis://" + testPass + "@h:6379/x", want: "redis://xxxxx@h:6379/x"},
		{name: "encoded reserved characters", give: "redis://" + testUser + ":p%40ss%3Aw%2Frd%25@h:6379/0", want: "redis://xxxxx@h:6379/0"},
		{name: "only encoded characters", give: "redis://" + testUser + ":%40%3A%2F@h/0", want: "redis://xxxxx@h/0"},
		{name: "unescaped @ in password", give: "redis://" + testUser + ":p@ss@h:6379/0", want: "redis://xxxxx@h:6379/0"},
		{name: "unescaped @ and : in password", give: "redis://" + testUser + ":p@ss:w@h:6379/0", want: "redis://xxxxx@h:6379/0"},
		{name: "unescaped @ without colon", give: "redis://p@ss@h:6379/0", want: "redis://xxxxx@h:6379/0"},
		{name: "unescaped p@ss:w/rd%", give: "redis://" + testUser + ":p@ss:w/rd%@h:6379/0", want: "<unparsable redis:// URL>"},
		{name: "unescaped slash", give: "redis://" + testUser + ":6379/" + testPass + "@h/0", want: "<unparsable redis:// URL>"},
		{name: "unescaped slash without colon", give: "redis://s3c/r3t@h/0", want: "<unparsable redis:// URL>"},
		{name: "unescaped question mark", give: "rediss://" + testUser + ":s3c?r3t@h", want: "<unparsable rediss:// URL>"},
		{name: "unescaped hash", give: "redis://" + testUser + ":s3c#r3t@h", want: "<unparsable redis:// URL>"},
		{name: "unescaped percent", give: "redis://" + testUser + ":s3%cr3t@h", want: "<unparsable redis:// URL>"},
		{name: "space", give: "redis://" + testUser + ":s3c r3t@h", want: "<unparsable redis:// URL>"},
		{name: "user only", give: "redis://" + testUser + "@h:6379", want: "redis://xxxxx@h:6379"},
		{name: "empty password", give: "redis://" + testUser + ":@h", want: "redis://xxxxx@h"},
		{name: "colon only", give: "redis://:@h", want: "redis://xxxxx@h"},
		{name: "empty user info", give: "redis://@h", want: "redis://@h"},
		{name: "user with reserved characters", give: "redis://a%40b:" + testPass + "@h", want: "redis://xxxxx@h"},
		{name: "no user info", give: "redis://h:6379/0?db=1&addr=h2:1", want: "redis://h:6379/0?db=1&addr=h2:1"},
		{name: "unix", give: "unix://" + testUser + ":" + testPass + "@/tmp/redis.sock?db=1", want: "unix://xxxxx@/tmp/redis.sock?db=1"},
		{
			name: "secret query values",
			give: "redis://h?password=" + testPass + "&db=1&Auth_Token=" + testPass + "&client_name=app&PWD=" + testPass + "&sentinel_pass=" + testPass + "&apiKey=" + testPass + "&my%53ecret=" + testPass,
			want: "redis://h?password=xxxxx&db=1&Auth_Token=xxxxx&client_name=app&PWD=xxxxx&sentinel_pass=xxxxx&apiKey=xxxxx&my%53ecret=xxxxx",
		},
		{name: "semicolon separator", give: "redis://h?x=1;token=" + testPass, want: "redis://h?x=1;token=xxxxx"},
		{name: "undecodable name", give: "redis://h?a%zz=" + testPass + "&db=1", want: "redis://h?a%zz=xxxxx&db=1"},
		{name: "other scheme", give: "http://" + testUser + ":" + testPass + "@h", want: "http://xxxxx@h"},
		{name: "no scheme", give: testUser + ":" + testPass + "@h:6379", want: "<unparsable redis URL>"},
		{name: "no slashes", give: "redis:" + testUser + ":" + testPass + "@h", want: "<unparsable redis:// URL>"},
		{name: "bad port", give: "redis://" + testUser + ":" + testPass + "@h:x" + testPass, want: "<unparsable redis:// URL>"},
		{name: "control character", give: "redis://" + testUser + ":" + testPass + "\x00@h", want: "<unparsable redis:// URL>"},
		{name: "garbage", give: "%%%" + testPass, want: "<unparsable redis URL>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redisurl.Redact(tt.give)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.give, got, tt.want)
			}
			for _, secret := range []string{testUser, testPass, "s3c", "r3t", "p@ss", "%40%3A%2F", "p%40ss", "a%40b"} {
				if strings.Contains(got, secret) {
					t.Errorf("Redact(%q) = %q, want no %q in it", tt.give, got, secret)
				}
			}
		})
	}
}

func TestAddr(t *testing.T) {
	mustParse := func(raw string) rueidis.ClientOption {
		t.Helper()
		opt, err := redisurl.Parse(raw)
		if err != nil {
			t.Fatalf("Parse(%q) error = %v, want nil", raw, err)
		}
		return opt
	}
	tests := []struct {
		name string
		give rueidis.ClientOption
		want string
	}{
		{name: "single", give: mustParse("redis://" + testUser + ":" + testPass + "@h:6380/1"), want: "h:6380"},
		{name: "default port", give: mustParse("rediss://h"), want: "h:6379"},
		{name: "IPv6", give: mustParse("redis://[::1]:6379"), want: "[::1]:6379"},
		{name: "cluster", give: mustParse("redis://h1:7000?addr=h2:7001&addr=h3:7002"), want: "h1:7000,h2:7001,h3:7002"},
		{name: "sentinel", give: mustParse("redis://s1:26379?addr=s2:26379&master_set=mymaster"), want: "sentinel s1:26379,s2:26379 master mymaster"},
		{name: "unix", give: mustParse("unix://" + testUser + ":" + testPass + "@/tmp/redis.sock"), want: "/tmp/redis.sock"},
		{name: "password without colon", give: mustParse("redis://" + testPass + "@h:6380"), want: "h:6380"},
		{name: "none", give: rueidis.ClientOption{}, want: ""},
		{
			name: "hand-written addresses with user info",
			give: rueidis.ClientOption{InitAddress: []string{
				testUser + ":" + testPass + "@h1:1",
				"redis://" + testUser + ":" + testPass + "@h2:2",
				"redis://" + testUser + ":" + testPass + "%zz@h3:3",
			}},
			want: "h1:1,h2:2,<invalid address>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := redisurl.Addr(tt.give)
			if got != tt.want {
				t.Errorf("Addr() = %q, want %q", got, tt.want)
			}
			if strings.Contains(got, testPass) || strings.Contains(got, testUser) {
				t.Errorf("Addr() = %q, want no user info in it", got)
			}
		})
	}
}

// forms returns s as it may appear in a URL or in an output: as is, decoded
// and encoded, and quoted as %q would, keeping those at least 4 bytes long.
func forms(s string) []string {
	out := []string{s, url.PathEscape(s), url.QueryEscape(s), url.UserPassword("", s).String()[1:]}
	if q := strconv.Quote(s); len(q) >= 2 {
		out = append(out, q[1:len(q)-1])
	}
	if d, err := url.PathUnescape(s); err == nil {
		out = append(out, d, url.PathEscape(d), url.QueryEscape(d))
	}
	if d, err := url.QueryUnescape(s); err == nil {
		out = append(out, d)
	}
	kept := out[:0]
	for _, f := range out {
		if len(f) >= 4 {
			kept = append(kept, f)
		}
	}
	return kept
}

// outputs returns what Redact, Parse and Addr make of raw.
func outputs(raw string) map[string]string {
	out := map[string]string{"Redact": redisurl.Redact(raw)}
	if opt, err := redisurl.Parse(raw); err != nil {
		out["Parse error"] = err.Error()
	} else {
		out["Addr"] = redisurl.Addr(opt)
	}
	return out
}

// innocentTexts returns texts that hold no secret: the given parts of a URL
// outside its user info, and the outputs of clean, URLs written without the
// secrets. A secret found in one of them is found in the outputs by chance
// (a default port after the host, "xxxxx@" before it), not leaked.
func innocentTexts(parts []string, clean ...string) []string {
	texts := append(parts, clean...)
	for _, raw := range clean {
		for _, out := range outputs(raw) {
			texts = append(texts, out)
		}
	}
	return texts
}

// checkNoLeak fails when one of secrets, in any of its forms, appears in
// Redact(raw), in the error of Parse(raw) or in Addr of the options it
// returns. A secret cannot be judged, and is skipped, when it is shorter than
// 4 bytes or found in one of the innocent texts or in source, the package's
// source, whose fixed texts the outputs hold.
func checkNoLeak(t *testing.T, raw string, secrets []string, source string, innocent []string) {
	t.Helper()
	hay := []string{source}
	for _, s := range innocent {
		hay = append(hay, forms(s)...)
		hay = append(hay, s)
	}
	var judged [][]string
	for _, secret := range secrets {
		if len(secret) >= 4 && !foundIn(hay, forms(secret)) {
			judged = append(judged, forms(secret))
		}
	}
	if len(judged) == 0 {
		return
	}
	for what, out := range outputs(raw) {
		for _, secretForms := range judged {
			for _, f := range secretForms {
				if strings.Contains(out, f) {
					t.Fatalf("%s of %q = %q, want no part %q of the user info (form %q) in it", what, raw, out, secretForms[0], f)
				}
			}
		}
	}
}

func foundIn(hay, needles []string) bool {
	for _, n := range needles {
		for _, h := range hay {
			if strings.Contains(h, n) {
				return true
			}
		}
	}
	return false
}

// userinfoOf cuts raw the way a URL parser does and returns, when it has a
// user info, raw without it and the parts of the user info as written: the
// user name and the password, or the whole when it has no ':'. It does not
// need raw to parse: the errors of a URL that does not parse are secret-free
// too.
func userinfoOf(raw string) (rest string, secrets []string, ok bool) {
	i := strings.Index(raw, "://")
	if i < 1 || strings.IndexFunc(raw[:i], func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '+' || r == '-' || r == '.')
	}) >= 0 {
		return "", nil, false
	}
	start := i + 3
	authority := raw[start:]
	if j := strings.IndexAny(authority, "/?#"); j >= 0 {
		authority = authority[:j]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return "", nil, false
	}
	userinfo := authority[:at]
	if user, pass, found := strings.Cut(userinfo, ":"); found {
		secrets = []string{user, pass}
	} else {
		secrets = []string{userinfo}
	}
	return raw[:start] + raw[start+at+1:], secrets, true
}

// FuzzNoSecretLeaks checks that no part of the user info (the user name or
// the password, with or without ':') ever shows in Redact, Addr or an error of
// Parse. Its seeds hold an input for each error text (parseErrorTests), and
// each input is tried as it is and with user info put in after "://", so that
// every error path is tried with secrets in the URL.
func FuzzNoSecretLeaks(f *testing.F) {
	src, err := os.ReadFile("redisurl.go")
	if err != nil {
		f.Fatalf("ReadFile(redisurl.go) error = %v", err)
	}
	source := string(src)
	seeds := []struct{ user, pass, host, q, raw string }{
		{testUser, testPass, "h:6379", "db=1", "redis://" + testUser + ":" + testPass + "@h:6379/0"},
		{"", "p@ss:w/rd%", "h", "", "redis://u:p@ss:w/rd%@h:6379/0"},
		{"u", "%40%3A%2F", "h:1", "addr=h2:2", "rediss://u:%40%3A%2F@h/0?skip_verify=true"},
		{"u", "6379/abcd", "h", "", "redis://u:6379/abcd@h"},
		{"u", "abcd?efgh", "h", "", "redis://u:ab?cd@h"},
		{"u", "abcd#efgh", "h", "", "redis://u:ab#cd@h"},
		{"u", "ab%zzcd", "h", "", "redis://u:ab%zzcd@h"},
		{"u", "ab cd", "h", "", "redis://u:ab cd@h"},
		{"u", "abcd\x00", "h", "", "redis://u:abcd\x00@h"},
		{"u", "abcd", "h:abcd", "", "redis://u:abcd@h:efgh"},
		{"u", "abcd", "[::1]", "", "redis://u:abcd@[::1"},
		{"u", "abcd", "h", "password=abcd", "redis://h?password=abcd"},
		{"u:v", "wxyz", "h@i", "db=wxyz2", "valkeys://u:v:wxyz@h@i/0"},
		{"u", "1234", "h", "addr=:1234", "unix://u:1234@/tmp/s"},
		{"u", "é漢字xy", "h%C3%A9", "client_name=%C3%A9", "redis://u:%C3%A9abc@h"},
		{"u", "pass", "host", "dial_timeout=pass", "redis:u:pass@host"},
		{"u", "1234", "h:6379", "", "u:1234@h:6379"},
		// The user info is secret as a whole, with or without ':'.
		{"alice", "", "h", "", "redis://alice:@h"},
		{"alice", "s3cr3t", "h", "alice=1", "redis://s3cr3t@h?s3cr3t"},
		{"admin", "hunter2", "h:hunter2", "client_name=admin", "redis://hunter2@h/hunter2#admin"},
		{"user", "s3cr3t", "h", "max_retries=user&dial_timeout=s3cr3t", "rediss://s3cr3t@h:s3cr3t"},
	}
	for _, s := range seeds {
		f.Add(s.user, s.pass, s.host, s.q, s.raw)
	}
	for _, tt := range parseErrorTests {
		f.Add(testUser, testPass, "h", "", tt.give)
	}
	f.Fuzz(func(t *testing.T, user, pass, host, q, raw string) {
		for _, scheme := range []string{"redis", "rediss", "unix"} {
			rest := host + "/0?" + q
			parts := []string{scheme + "://", host, q, "/0?" + q, rest}
			clean := []string{scheme + "://" + rest, scheme + "://xxxxx@" + rest}
			innocent := innocentTexts(parts, clean...)
			checkNoLeak(t, scheme+"://"+user+":"+pass+"@"+rest, []string{user, pass}, source, innocent)
			if !strings.Contains(pass, ":") {
				checkNoLeak(t, scheme+"://"+pass+"@"+rest, []string{pass}, source, innocent)
			}
		}

		// The raw string as it is: never panic, and no leak of the user
		// info it holds.
		if rest, secrets, ok := userinfoOf(raw); ok {
			checkNoLeak(t, raw, secrets, source, innocentTexts(nil, rest))
		} else {
			outputs(raw)
		}

		// The raw string with user info put in, so that each of its error
		// paths is tried with secrets in the URL.
		if i := strings.Index(raw, "://"); i >= 0 {
			head, tail := raw[:i+3], raw[i+3:]
			innocent := innocentTexts([]string{raw}, raw, head+"xxxxx@"+tail)
			checkNoLeak(t, head+user+":"+pass+"@"+tail, []string{user, pass}, source, innocent)
			if !strings.Contains(pass, ":") {
				checkNoLeak(t, head+pass+"@"+tail, []string{pass}, source, innocent)
			}
		}
	})
}

// TestParseErrorTextsHaveTests checks that parseErrorTests, and so the
// fuzzer's seeds, reach every error text of Parse: each string literal of an
// errors.New or fmt.Errorf in redisurl.go, and each one that
// describeURLError returns, must be found, its verbs aside, in the error of
// one test, unless it is listed as out of reach.
func TestParseErrorTextsHaveTests(t *testing.T) {
	outOfReach := map[string]string{
		"malformed URL": "describeURLError's fallback for an error url.Parse does not give today",
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "redisurl.go", nil, 0)
	if err != nil {
		t.Fatalf("ParseFile(redisurl.go) error = %v", err)
	}
	var errs []string
	for _, tt := range parseErrorTests {
		if _, err := redisurl.Parse(tt.give); err != nil {
			errs = append(errs, err.Error())
		}
	}
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)
	reached := func(text string) bool {
		pieces := verb.Split(text, -1)
	next:
		for _, e := range errs {
			for _, p := range pieces {
				if !strings.Contains(e, p) {
					continue next
				}
			}
			return true
		}
		return false
	}
	n := 0
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(node ast.Node) bool {
			var texts []ast.Expr
			switch node := node.(type) {
			case *ast.CallExpr:
				if isCall(node, "errors", "New") || isCall(node, "fmt", "Errorf") {
					texts = node.Args[:1]
				}
			case *ast.ReturnStmt:
				if fn.Name.Name == "describeURLError" {
					texts = node.Results
				}
			}
			for _, lit := range stringLits(texts) {
				text, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatalf("%s: Unquote(%s) error = %v", fset.Position(lit.Pos()), lit.Value, err)
				}
				n++
				if _, ok := outOfReach[text]; ok {
					continue
				}
				if !reached(text) {
					t.Errorf("%s: no input in parseErrorTests gives an error with %q", fset.Position(lit.Pos()), text)
				}
			}
			return true
		})
	}
	if n < 40 {
		t.Errorf("found %d error texts in redisurl.go, want at least 40: is the search still finding them?", n)
	}
}

func isCall(call *ast.CallExpr, pkg, name string) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg && len(call.Args) > 0
}

// stringLits returns the string literals of exprs, leaving out the arguments
// of the calls in them (c.show(v), describeURLError(err)).
func stringLits(exprs []ast.Expr) []*ast.BasicLit {
	var lits []*ast.BasicLit
	for _, e := range exprs {
		ast.Inspect(e, func(node ast.Node) bool {
			switch node := node.(type) {
			case *ast.CallExpr:
				return false
			case *ast.BasicLit:
				if node.Kind == token.STRING {
					lits = append(lits, node)
				}
			}
			return true
		})
	}
	return lits
}
