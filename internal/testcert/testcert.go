// Package testcert provides a certificate for loopback TLS in tests: a
// throw-away CA and a server certificate for "localhost", 127.0.0.1 and ::1,
// generated once per process.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

var (
	once sync.Once
	cert tls.Certificate
	pool *x509.CertPool
)

func generate() {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "inetkit test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		panic(err)
	}
	cert = tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
}

// ServerConfig returns a new server TLS configuration holding the test
// certificate.
func ServerConfig() *tls.Config {
	once.Do(generate)
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// ClientConfig returns a new client TLS configuration that trusts the test CA
// and expects the name "localhost" (which the certificate also holds as
// 127.0.0.1 and ::1).
func ClientConfig() *tls.Config {
	once.Do(generate)
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

// CertPool returns a pool holding the test CA.
func CertPool() *x509.CertPool {
	once.Do(generate)
	return pool
}

// WriteFiles writes the test certificate chain, its key and the CA
// certificate as PEM files in dir, for peers in other processes (Python's
// ssl module, curl, Dovecot), and returns their paths.
func WriteFiles(dir string) (certFile, keyFile, caFile string, err error) {
	once.Do(generate)
	var chain []byte
	for _, der := range cert.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return "", "", "", err
	}
	certFile = filepath.Join(dir, "testcert.pem")
	keyFile = filepath.Join(dir, "testcert-key.pem")
	caFile = filepath.Join(dir, "testcert-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[1]})
	for _, f := range []struct {
		name string
		data []byte
	}{{certFile, chain}, {keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})}, {caFile, ca}} {
		if err := os.WriteFile(f.name, f.data, 0o644); err != nil {
			return "", "", "", err
		}
	}
	return certFile, keyFile, caFile, nil
}
