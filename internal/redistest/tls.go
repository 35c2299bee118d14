package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TLS describes a server's TLS listener.
type TLS struct {
	Port   int
	CAFile string // PEM of the CA that signed the server's certificate
	URL    string // "rediss://127.0.0.1:<Port>"
}

// CommonNameOnly makes StartTLS's server certificate name 127.0.0.1 in its
// Common Name only, without a subject alternative name, as the certificates
// of Google Cloud Memorystore do.
func CommonNameOnly() Option {
	return func(c *config) { c.noSAN = true }
}

// StartTLS starts a server that also listens with TLS on a second free port,
// with a certificate for 127.0.0.1 (IP SAN) signed by a fresh CA; clients are
// not asked for certificates. The plain port (Server.Addr) stays open for the
// helpers' admin commands. The certificates are ECDSA P-256 and valid for a
// day; the files live in a directory from t.TempDir.
func StartTLS(t testing.TB, opts ...Option) (*Server, TLS) {
	t.Helper()
	Require(t)
	dir := t.TempDir()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	files, err := writeTLSFiles(dir, cfg.noSAN)
	if err != nil {
		t.Fatalf("redistest: creating TLS certificates: %v", err)
	}

	// The TLS port is chosen together with the plain one, so that when
	// Start tries again because a port was taken, it tries a new pair.
	var tlsPort int
	withTLS := func(c *config) {
		portArg := len(c.args) + 1
		c.args = append(c.args,
			"--tls-port", "",
			"--tls-cert-file", files.cert,
			"--tls-key-file", files.key,
			"--tls-ca-cert-file", files.ca,
			"--tls-auth-clients", "no",
		)
		pick := c.port
		if pick == nil {
			pick = FreePort
		}
		c.port = func(t testing.TB) int {
			t.Helper()
			port := pick(t)
			tlsPort = FreePort(t)
			for tlsPort == port {
				tlsPort = FreePort(t)
			}
			c.args[portArg] = strconv.Itoa(tlsPort)
			return port
		}
	}
	s := Start(t, append(opts[:len(opts):len(opts)], withTLS)...)
	return s, TLS{
		Port:   tlsPort,
		CAFile: files.ca,
		URL:    "rediss://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort)),
	}
}

type tlsFiles struct {
	ca, cert, key string
}

// writeTLSFiles creates a CA and a server certificate for 127.0.0.1 signed
// by it, and writes ca.pem, server.pem and server-key.pem into dir.
func writeTLSFiles(dir string, noSAN bool) (tlsFiles, error) {
	files := tlsFiles{
		ca:   filepath.Join(dir, "ca.pem"),
		cert: filepath.Join(dir, "server.pem"),
		key:  filepath.Join(dir, "server-key.pem"),
	}
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return files, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return files, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return files, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return files, err
	}
	template := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if noSAN {
		template.IPAddresses = nil
	}
	der, err := x509.CreateCertificate(rand.Reader, template, caCert, &key.PublicKey, caKey)
	if err != nil {
		return files, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return files, err
	}

	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{files.ca, "CERTIFICATE", caDER, 0o644},
		{files.cert, "CERTIFICATE", der, 0o644},
		{files.key, "PRIVATE KEY", keyDER, 0o600},
	} {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(f.path, data, f.mode); err != nil {
			return files, fmt.Errorf("writing %s: %w", filepath.Base(f.path), err)
		}
	}
	return files, nil
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(err)
	}
	return n
}
