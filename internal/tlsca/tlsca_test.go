package tlsca_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/inetkit/inetkit/internal/tlsca"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	r1, err := tlsca.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Created {
		t.Error("first Load: Created = false")
	}
	if fi, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key: %v, mode %v; want 0600", err, fi.Mode())
	}
	pemCA, err := os.ReadFile(r1.CAPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		t.Fatal("CA file holds no certificate")
	}
	verify := func(r *tlsca.Result, name string) error {
		leaf := r.Config.Certificates[0].Leaf
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name})
		return err
	}
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(r1, name); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if err := verify(r1, "mail.example.org"); err == nil {
		t.Error("certificate valid for a name it was not asked for")
	}

	// Second load: same CA, and a new leaf covering a new host.
	r2, err := tlsca.Load(dir, []string{"mail.example.org", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Created {
		t.Error("second Load made a new CA")
	}
	for _, name := range []string{"mail.example.org", "192.0.2.7", "localhost"} {
		if err := verify(r2, name); err != nil {
			t.Errorf("verify %s after adding hosts: %v", name, err)
		}
	}

	// A real handshake with a client that trusts only the CA file.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r2.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake trusting the CA file: %v", err)
	}
	c.Close()
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsca.Load(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsca.LoadFiles(filepath.Join(dir, tlsca.ServerFile), filepath.Join(dir, "server-key.pem")); err != nil {
		t.Errorf("LoadFiles: %v", err)
	}
	if _, err := tlsca.LoadFiles(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "server-key.pem")); err == nil {
		t.Error("LoadFiles of a missing file succeeded")
	}
}
