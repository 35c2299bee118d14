package redistest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ginlimit/ginlimit/internal/redistest"
)

// setGet sets key to value through c and reads it back.
func setGet(t *testing.T, c rueidis.Client, key, value string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Do(ctx, c.B().Set().Key(key).Value(value).Build()).Error(); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}
	got, err := c.Do(ctx, c.B().Get().Key(key).Build()).ToString()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	if got != value {
		t.Fatalf("GET %s = %q, want %q", key, got, value)
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	s, tls := redistest.StartTLS(t)
	if want := "rediss://127.0.0.1:" + strconv.Itoa(tls.Port); tls.URL != want {
		t.Errorf("URL = %q, want %q", tls.URL, want)
	}
	if tls.Port == 0 || strings.HasSuffix(s.Addr(), ":"+strconv.Itoa(tls.Port)) {
		t.Errorf("TLS port %d, plain address %s", tls.Port, s.Addr())
	}
	if got := rawPing(t, s.Addr()); got != "+PONG" {
		t.Errorf("PING on the plain port = %q", got)
	}

	pem, err := os.ReadFile(tls.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", tls.CAFile)
	}
	c, err := newClient(t, tls.URL, func(o *rueidis.ClientOption) {
		o.TLSConfig.RootCAs = pool
		o.DisableCache = false
	})
	if err != nil {
		t.Fatalf("client with the CA: %v", err)
	}
	setGet(t, c, "tls-key", "v")
	c.Close()
	if got := do(t, s, "GET", "tls-key"); got != "v" {
		t.Errorf("GET on the plain port = %q", got)
	}

	// Without the CA the system roots do not trust the certificate.
	c, err = newClient(t, tls.URL, nil)
	if err == nil {
		c.Close()
		t.Fatal("client without the CA connected")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("client without the CA: %v (%T), want an x509.UnknownAuthorityError", err, err)
	}
}

func TestStartSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, master)
	if want := "redis://" + sentinel.Addr() + "?master_set=mymaster"; sentinel.URL() != want {
		t.Errorf("URL = %q, want %q", sentinel.URL(), want)
	}
	if sentinel.Addr() == master.Addr() {
		t.Fatalf("sentinel and master both on %s", master.Addr())
	}

	c, err := newClient(t, sentinel.URL(), func(o *rueidis.ClientOption) { o.DisableCache = false })
	if err != nil {
		t.Fatalf("client from %q: %v", sentinel.URL(), err)
	}
	setGet(t, c, "sentinel-key", "through the sentinel")
	c.Close()
	if got := do(t, master, "GET", "sentinel-key"); got != "through the sentinel" {
		t.Errorf("GET on the master = %q", got)
	}
}

func TestStartSentinelPassword(t *testing.T) {
	t.Parallel()
	const pw = `s3cr"t\ pw`
	master := redistest.Start(t, redistest.Password(pw))
	sentinel := redistest.StartSentinel(t, master)
	c, err := newClient(t, sentinel.URL(), nil)
	if err != nil {
		t.Fatalf("client from the sentinel URL: %v", err)
	}
	setGet(t, c, "k", "v")
	c.Close()
	if got := do(t, master, "GET", "k"); got != "v" {
		t.Errorf("GET on the master = %q", got)
	}
	// The Sentinel authenticates with the master (sentinel auth-pass): only
	// it subscribes there, to __sentinel__:hello, which needs a login.
	deadline := time.Now().Add(5 * time.Second)
	for master.CommandCalls(t)["subscribe"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel never subscribed on the master: %v", master.CommandCalls(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
