package tlsca_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/inetkit/inetkit/internal/tlsca"
)

func certPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	pemCA, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCA) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return pool
}

func verify(r *tlsca.Result, pool *x509.CertPool, name string) error {
	leaf := r.Config.Certificates[0].Leaf
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name})
	return err
}

func TestLoad(t *testing.T) {
	dir, caDir := t.TempDir(), t.TempDir()
	r1, err := tlsca.Load(dir, caDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Created {
		t.Error("first Load: Created = false")
	}
	if want := filepath.Join(caDir, tlsca.CAFile); r1.CAPath != want {
		t.Errorf("CAPath = %q; want %q", r1.CAPath, want)
	}
	if runtime.GOOS != "windows" {
		for _, f := range []string{filepath.Join(caDir, "ca-key.pem"), filepath.Join(dir, "server-key.pem")} {
			if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, mode %v; want 0600", f, err, fi.Mode())
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ca-key.pem")); err == nil {
		t.Error("the CA key is in the server's directory")
	}
	pool := certPool(t, r1.CAPath)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if err := verify(r1, pool, name); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if err := verify(r1, pool, "mail.example.org"); err == nil {
		t.Error("certificate valid for a name it was not asked for")
	}

	// Second load: same CA, and a new leaf covering a new host.
	r2, err := tlsca.Load(dir, caDir, []string{"mail.example.org", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Created {
		t.Error("second Load made a new CA")
	}
	for _, name := range []string{"mail.example.org", "192.0.2.7", "localhost"} {
		if err := verify(r2, pool, name); err != nil {
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

// Two data directories share the CA of one CA directory, as every `serve
// --data X` of a user shares the user's.
func TestLoad_sharedCA(t *testing.T) {
	caDir := t.TempDir()
	a, err := tlsca.Load(t.TempDir(), caDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tlsca.Load(t.TempDir(), caDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Created || b.Created {
		t.Errorf("Created = %v, %v; want true, then false", a.Created, b.Created)
	}
	pool := certPool(t, a.CAPath)
	for i, r := range []*tlsca.Result{a, b} {
		if err := verify(r, pool, "localhost"); err != nil {
			t.Errorf("data directory %d: %v", i, err)
		}
	}
}

// A server certificate signed by another CA (the data directory's own, made
// by an older inetkit, or a CA since replaced) is made anew.
func TestLoad_otherCAReplaced(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsca.Load(dir, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	r, err := tlsca.Load(dir, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(r, certPool(t, r.CAPath), "localhost"); err != nil {
		t.Errorf("certificate after a change of CA: %v", err)
	}
}

// Processes that start at once on a new CA directory agree on one CA.
func TestLoadCA_concurrent(t *testing.T) {
	caDir := filepath.Join(t.TempDir(), "ca")
	const n = 8
	cas := make([]*tlsca.CA, n)
	var made int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ca, created, err := tlsca.LoadCA(caDir)
			if err != nil {
				t.Error(err)
				return
			}
			cas[i] = ca
			if created {
				mu.Lock()
				made++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if made != 1 {
		t.Errorf("%d calls made the CA; want 1", made)
	}
	for i, ca := range cas {
		if !ca.Cert.Equal(cas[0].Cert) {
			t.Errorf("call %d got another CA", i)
		}
	}
	b, err := os.ReadFile(filepath.Join(caDir, tlsca.CAFile))
	if err != nil || !bytes.Contains(b, []byte("CERTIFICATE")) {
		t.Fatalf("ca.pem: %v, %q", err, b)
	}
	if !certPool(t, filepath.Join(caDir, tlsca.CAFile)).Equal(func() *x509.CertPool {
		p := x509.NewCertPool()
		p.AddCert(cas[0].Cert)
		return p
	}()) {
		t.Error("ca.pem is not the CA the calls returned")
	}
}

// A CA directory in the layout of an older inetkit (the key alone in
// ca-key.pem, the certificate in ca.pem) is used as it is.
func TestLoadCA_keyOnlyFile(t *testing.T) {
	old := t.TempDir()
	first, _, err := tlsca.LoadCA(old)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := os.ReadFile(filepath.Join(old, "ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// Keep only the key block.
	end := bytes.Index(kb, []byte("-----END EC PRIVATE KEY-----\n"))
	if end < 0 {
		t.Fatalf("no EC key in %q", kb)
	}
	os.WriteFile(filepath.Join(old, "ca-key.pem"), kb[:end+len("-----END EC PRIVATE KEY-----\n")], 0o600)
	again, created, err := tlsca.LoadCA(old)
	if err != nil {
		t.Fatal(err)
	}
	if created || !again.Cert.Equal(first.Cert) {
		t.Errorf("LoadCA of a key-only file: created %v, same CA %v; want false, true", created, again.Cert.Equal(first.Cert))
	}
}

// A removed ca.pem is written again from the key file.
func TestLoadCA_certFileRestored(t *testing.T) {
	dir := t.TempDir()
	ca, _, err := tlsca.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(ca.Path)
	again, created, err := tlsca.LoadCA(dir)
	if err != nil || created || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("LoadCA after removing ca.pem = %v, created %v", err, created)
	}
	if _, err := os.Stat(ca.Path); err != nil {
		t.Errorf("ca.pem not restored: %v", err)
	}
}

func TestUserDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(tlsca.EnvDir, dir)
	if got, err := tlsca.UserDir(); err != nil || got != dir {
		t.Errorf("UserDir() with %s=%s = %q, %v", tlsca.EnvDir, dir, got, err)
	}
	t.Setenv(tlsca.EnvDir, "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // where Linux and the BSDs look first
	cfg, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tlsca.UserDir(); err != nil || got != filepath.Join(cfg, "inetkit") {
		t.Errorf("UserDir() = %q, %v; want %q", got, err, filepath.Join(cfg, "inetkit"))
	}
}

func TestLoadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlsca.Load(dir, t.TempDir(), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsca.LoadFiles(filepath.Join(dir, tlsca.ServerFile), filepath.Join(dir, "server-key.pem")); err != nil {
		t.Errorf("LoadFiles: %v", err)
	}
	if _, err := tlsca.LoadFiles(filepath.Join(dir, "missing.pem"), filepath.Join(dir, "server-key.pem")); err == nil {
		t.Error("LoadFiles of a missing file succeeded")
	}
}
