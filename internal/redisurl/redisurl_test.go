package redisurl_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

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
			give: "redis://h?protocol=3&client_cache=1&max_retries=3",
			want: view{Addrs: []string{"h:6379"}},
		},
		{
			name: "secret-looking unknown parameter is ignored",
			give: "redis://h?password=" + testPass,
			want: view{Addrs: []string{"h:6379"}},
		},
		{name: "fragment ignored", give: "redis://h/1#x", want: view{Addrs: []string{"h:6379"}, DB: 1}},
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

func TestParseErrors(t *testing.T) {
	cred := testUser + ":" + testPass + "@"
	tests := []struct {
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
		{name: "several hosts", give: "redis://h1:1,h2:2", want: "one host only"},
		{name: "bad db in path", give: "redis://" + cred + "h/x", want: `invalid database number "x" in the path`},
		{name: "negative db", give: "redis://h/-1", want: "database number -1 in the path out of range"},
		{name: "huge db", give: "redis://h?db=4294967296", want: "out of range"},
		{name: "bad db in query", give: "redis://h?db=one", want: `invalid database number "one" in db=`},
		{name: "db twice", give: "redis://h/1?db=2", want: "database number given twice"},
		{name: "path too deep", give: "redis://h/1/2", want: `invalid path "/1/2"`},
		{name: "bad dial_timeout", give: "redis://h?dial_timeout=abc", want: `invalid dial_timeout "abc"`},
		{name: "negative write_timeout", give: "redis://h?write_timeout=-1s", want: `invalid write_timeout "-1s"`},
		{name: "skip_verify without TLS", give: "redis://h?skip_verify=true", want: "skip_verify needs TLS"},
		{name: "bad skip_verify", give: "rediss://h?skip_verify=maybe", want: `invalid skip_verify "maybe"`},
		{name: "bad protocol", give: "redis://h?protocol=4", want: `invalid protocol "4"`},
		{name: "bad client_cache", give: "redis://h?client_cache=false", want: `invalid client_cache "false"`},
		{name: "bad max_retries", give: "redis://h?max_retries=many", want: `invalid max_retries "many"`},
		{name: "empty master_set", give: "redis://h?master_set=", want: "empty master_set"},
		{name: "repeated db", give: "redis://h?db=1&db=2", want: "db given 2 times"},
		{name: "seed without port", give: "redis://h?addr=h2", want: `invalid addr "h2"`},
		{name: "seed with bad port", give: "redis://h?addr=h2:99999", want: `invalid port in addr "h2:99999"`},
		{name: "bad query escape", give: "redis://" + cred + "h?a=%zz", want: "invalid percent-encoding"},
		{name: "semicolon in query", give: "redis://h?a=1;b=2", want: "';' is not a separator"},
		{name: "unix without path", give: "unix://", want: "missing socket path"},
		{name: "unix with host", give: "unix://tmp/redis.sock", want: "unix:// URL has no host"},
		{name: "unix with seeds", give: "unix:///tmp/redis.sock?addr=h:1", want: "addr= is not supported with unix://"},
		{name: "IPv6 without bracket", give: "redis://[::1:6379", want: "missing ']' in host"},
		{name: "IPv4 in brackets", give: "redis://[127.0.0.1]:6379", want: "invalid IPv6 address"},
		{name: "bad host character", give: "redis://h^x:6379", want: "invalid character in host name"},
		{name: "bad host escape", give: "redis://h%zz", want: "invalid percent-encoding"},
		// Passwords with reserved characters written as they are.
		{name: "slash in password", give: "redis://" + testUser + ":s3c/r3t@h:6379/0", want: "unescaped '@' after the host"},
		{name: "digits then slash in password", give: "redis://" + testUser + ":6379/" + testPass + "@h/0", want: "unescaped '@' after the host"},
		{name: "question mark in password", give: "redis://" + testUser + ":s3c?r3t@h", want: "unescaped '@' after the host"},
		{name: "hash in password", give: "redis://" + testUser + ":s3c#r3t@h", want: "unescaped '@' after the host"},
		{name: "percent in password", give: "redis://" + testUser + ":s3%cr3t@h", want: "invalid percent-encoding"},
		{name: "space in password", give: "redis://" + testUser + ":s3c r3t@h", want: "invalid character in user info"},
		{name: "newline in password", give: "redis://" + testUser + ":s3c\nr3t@h", want: "invalid control character"},
		{name: "password reused as port", give: "redis://" + testUser + ":" + testPass + "@h:" + testPass, want: "invalid port after host"},
	}
	for _, tt := range tests {
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
		{name: "user and password", give: "redis://" + testUser + ":" + testPass + "@h:6379/0", want: "redis://" + testUser + ":xxxxx@h:6379/0"},
		{name: "password only", give: "rediss://:" + testPass + "@h:6380", want: "rediss://:xxxxx@h:6380"},
		{name: "encoded reserved characters", give: "redis://" + testUser + ":p%40ss%3Aw%2Frd%25@h:6379/0", want: "redis://" + testUser + ":xxxxx@h:6379/0"},
		{name: "only encoded characters", give: "redis://" + testUser + ":%40%3A%2F@h/0", want: "redis://" + testUser + ":xxxxx@h/0"},
		{name: "unescaped @ in password", give: "redis://" + testUser + ":p@ss@h:6379/0", want: "redis://" + testUser + ":xxxxx@h:6379/0"},
		{name: "unescaped @ and : in password", give: "redis://" + testUser + ":p@ss:w@h:6379/0", want: "redis://" + testUser + ":xxxxx@h:6379/0"},
		{name: "unescaped p@ss:w/rd%", give: "redis://" + testUser + ":p@ss:w/rd%@h:6379/0", want: "<unparsable redis:// URL>"},
		{name: "unescaped slash", give: "redis://" + testUser + ":6379/" + testPass + "@h/0", want: "<unparsable redis:// URL>"},
		{name: "unescaped question mark", give: "rediss://" + testUser + ":s3c?r3t@h", want: "<unparsable rediss:// URL>"},
		{name: "unescaped hash", give: "redis://" + testUser + ":s3c#r3t@h", want: "<unparsable redis:// URL>"},
		{name: "unescaped percent", give: "redis://" + testUser + ":s3%cr3t@h", want: "<unparsable redis:// URL>"},
		{name: "space", give: "redis://" + testUser + ":s3c r3t@h", want: "<unparsable redis:// URL>"},
		{name: "user only", give: "redis://" + testUser + "@h:6379", want: "redis://" + testUser + "@h:6379"},
		{name: "empty password", give: "redis://" + testUser + ":@h", want: "redis://" + testUser + ":@h"},
		{name: "user with reserved characters", give: "redis://a%40b:" + testPass + "@h", want: "redis://a%40b:xxxxx@h"},
		{name: "no user info", give: "redis://h:6379/0?db=1&addr=h2:1", want: "redis://h:6379/0?db=1&addr=h2:1"},
		{name: "unix", give: "unix://" + testUser + ":" + testPass + "@/tmp/redis.sock?db=1", want: "unix://" + testUser + ":xxxxx@/tmp/redis.sock?db=1"},
		{
			name: "secret query values",
			give: "redis://h?password=" + testPass + "&db=1&Auth_Token=" + testPass + "&client_name=app&PWD=" + testPass + "&sentinel_pass=" + testPass + "&apiKey=" + testPass + "&my%53ecret=" + testPass,
			want: "redis://h?password=xxxxx&db=1&Auth_Token=xxxxx&client_name=app&PWD=xxxxx&sentinel_pass=xxxxx&apiKey=xxxxx&my%53ecret=xxxxx",
		},
		{name: "semicolon separator", give: "redis://h?x=1;token=" + testPass, want: "redis://h?x=1;token=xxxxx"},
		{name: "undecodable name", give: "redis://h?a%zz=" + testPass + "&db=1", want: "redis://h?a%zz=xxxxx&db=1"},
		{name: "other scheme", give: "http://" + testUser + ":" + testPass + "@h", want: "http://" + testUser + ":xxxxx@h"},
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
			for _, secret := range []string{testPass, "s3c", "r3t", "p@ss", "%40%3A%2F", "p%40ss"} {
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

// writeCA writes a self-signed CA certificate as PEM to a file in dir and
// returns the path and the certificate.
func writeCA(t *testing.T, dir string) (string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey() error = %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ginlimit test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("CreateCertificate() error = %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("ParseCertificate() error = %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey() error = %v", err)
	}
	// A key block before the certificate: LoadCA skips it.
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("WriteFile() error = %v", err)
	}
	return path, cert
}

func TestLoadCA(t *testing.T) {
	path, cert := writeCA(t, t.TempDir())
	pool, err := redisurl.LoadCA(path)
	if err != nil {
		t.Fatalf("LoadCA(%q) error = %v, want nil", path, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the CA does not verify against the pool LoadCA returned: %v", err)
	}
}

func TestLoadCAErrors(t *testing.T) {
	dir := t.TempDir()
	const secretContent = "not a certificate " + testPass
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatalf("WriteFile() error = %v", err)
		}
		return p
	}
	badCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte(secretContent)})
	keyOnly := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte(secretContent)})
	tests := []struct {
		name     string
		give     string
		want     string
		notExist bool
	}{
		{name: "missing file", give: filepath.Join(dir, "missing.pem"), want: "cannot read CA file", notExist: true},
		{name: "directory", give: dir, want: "cannot read CA file"},
		{name: "not PEM", give: write("plain.txt", secretContent), want: "holds no PEM certificate"},
		{name: "empty", give: write("empty.pem", ""), want: "holds no PEM certificate"},
		{name: "key only", give: write("key.pem", string(keyOnly)), want: "holds no PEM certificate"},
		{name: "broken certificate", give: write("broken.pem", string(badCert)), want: "PEM block 1 is not a valid certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, err := redisurl.LoadCA(tt.give)
			if err == nil {
				t.Fatalf("LoadCA(%q) = %v, nil, want an error containing %q", tt.give, pool, tt.want)
			}
			got := err.Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("LoadCA(%q) error = %q, want it to contain %q", tt.give, got, tt.want)
			}
			if !strings.Contains(got, strconv.Quote(tt.give)) {
				t.Errorf("LoadCA(%q) error = %q, want it to name the file", tt.give, got)
			}
			if strings.Contains(got, testPass) || strings.Contains(got, "not a certificate") {
				t.Errorf("LoadCA(%q) error = %q, want none of the file's contents in it", tt.give, got)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(LoadCA(%q) error, fs.ErrNotExist) = %v, want %v", tt.give, got, tt.notExist)
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

// checkNoLeak fails when pass, in any of its forms, appears in Redact(raw),
// in the error of Parse(raw) or in Addr of the options it returns, unless it
// is also in one of the innocent texts (the rest of the URL, without the user
// info, in any of its forms) or in source, the package's source, whose fixed
// texts the outputs hold.
func checkNoLeak(t *testing.T, raw, pass, source string, innocent []string) {
	t.Helper()
	if len(pass) < 4 {
		return
	}
	passForms := forms(pass)
	hay := []string{source}
	for _, s := range innocent {
		hay = append(hay, forms(s)...)
		hay = append(hay, s)
	}
	for _, pf := range passForms {
		for _, h := range hay {
			if strings.Contains(h, pf) {
				return
			}
		}
	}
	outputs := map[string]string{"Redact": redisurl.Redact(raw)}
	if opt, err := redisurl.Parse(raw); err != nil {
		outputs["Parse error"] = err.Error()
	} else {
		outputs["Addr"] = redisurl.Addr(opt)
	}
	for what, out := range outputs {
		for _, pf := range passForms {
			if strings.Contains(out, pf) {
				t.Fatalf("%s of %q = %q, want no password %q (form %q) in it", what, raw, out, pass, pf)
			}
		}
	}
}

// userinfoOf returns raw without its password, and the raw password, when
// url.Parse finds a password in raw.
func userinfoOf(raw string) (rest, pass string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return "", "", false
	}
	if _, ok := u.User.Password(); !ok {
		return "", "", false
	}
	start := 0
	if u.Scheme != "" {
		start = len(u.Scheme) + 1
	}
	if !strings.HasPrefix(raw[start:], "//") {
		return "", "", false
	}
	start += 2
	authority := raw[start:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return "", "", false
	}
	user, pass, _ := strings.Cut(authority[:at], ":")
	// The user name stays: Redact keeps it.
	return raw[:start] + user + ":" + raw[start+at:], pass, true
}

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
	}
	for _, s := range seeds {
		f.Add(s.user, s.pass, s.host, s.q, s.raw)
	}
	f.Fuzz(func(t *testing.T, user, pass, host, q, raw string) {
		built := "redis://" + user + ":" + pass + "@" + host + "/0?" + q
		innocent := []string{
			"redis://", user, host, q, "/0?" + q,
			"redis://" + user + ":@" + host + "/0?" + q,
			user + host, host + "/0?" + q, user + ":" + "@" + host,
		}
		checkNoLeak(t, built, pass, source, innocent)
		for _, scheme := range []string{"rediss", "unix"} {
			b := scheme + "://" + user + ":" + pass + "@" + host + "/0?" + q
			in := append([]string{scheme + "://" + user + ":@" + host + "/0?" + q}, innocent...)
			checkNoLeak(t, b, pass, source, in)
		}

		// The raw string as it is: never panic, and no leak of the
		// password url.Parse finds in it.
		_ = redisurl.Redact(raw)
		if opt, err := redisurl.Parse(raw); err == nil {
			_ = redisurl.Addr(opt)
		}
		if rest, rawPass, ok := userinfoOf(raw); ok {
			checkNoLeak(t, raw, rawPass, source, []string{rest})
		}
	})
}
