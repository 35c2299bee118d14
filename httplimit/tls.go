package httplimit

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// The TLS set-up of a Redis connection with a CA of its own
// (WithRedisCAFile): the CA file is read when the Limiter is built, and the
// server's certificate is checked the way managed services need.

// loadCA reads a PEM file of CA certificates and returns a pool holding them.
// Blocks of other types (a private key, say) are skipped. The errors name the
// file and say whether it could not be read (wrapping the cause, so that
// errors.Is(err, fs.ErrNotExist) works), held a CERTIFICATE block that does not
// parse, or held no certificate; they never quote the file's contents.
func loadCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("cannot read CA file %q: %w", path, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for i := 1; ; i++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			// The x509 error is left out: some of its texts quote fields
			// of the certificate.
			return nil, fmt.Errorf("CA file %q: PEM block %d is not a valid certificate", path, i)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("CA file %q holds no PEM certificate", path)
	}
	return pool, nil
}

// verifyPrivateCA checks a server's certificate against the CA of a
// WithRedisCAFile: its chain must lead to pool, and it must name host in a
// subject alternative name or, for a host given as an IP address, in its
// Common Name. Managed services such as Memorystore sign each instance's
// certificate with a CA of that instance, and put the instance's IP address
// in the Common Name only, which Go's own check refuses.
func verifyPrivateCA(pool *x509.CertPool, host string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("redis: the server sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		opts := x509.VerifyOptions{Roots: pool, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := leaf.Verify(opts); err != nil {
			return err
		}
		err := leaf.VerifyHostname(host)
		if err != nil && net.ParseIP(host) != nil && leaf.Subject.CommonName == host {
			return nil
		}
		return err
	}
}
