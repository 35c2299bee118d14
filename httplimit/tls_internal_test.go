package httplimit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testPass stands for a secret that must never show in an error.
const testPass = "s3cr3t"

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
	// A key block before the certificate: loadCA skips it.
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
	pool, err := loadCA(path)
	if err != nil {
		t.Fatalf("loadCA(%q) error = %v, want nil", path, err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the CA does not verify against the pool loadCA returned: %v", err)
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
			pool, err := loadCA(tt.give)
			if err == nil {
				t.Fatalf("loadCA(%q) = %v, nil, want an error containing %q", tt.give, pool, tt.want)
			}
			got := err.Error()
			if !strings.Contains(got, tt.want) {
				t.Errorf("loadCA(%q) error = %q, want it to contain %q", tt.give, got, tt.want)
			}
			if !strings.Contains(got, strconv.Quote(tt.give)) {
				t.Errorf("loadCA(%q) error = %q, want it to name the file", tt.give, got)
			}
			if strings.Contains(got, testPass) || strings.Contains(got, "not a certificate") {
				t.Errorf("loadCA(%q) error = %q, want none of the file's contents in it", tt.give, got)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExist {
				t.Errorf("errors.Is(loadCA(%q) error, fs.ErrNotExist) = %v, want %v", tt.give, got, tt.notExist)
			}
		})
	}
}
