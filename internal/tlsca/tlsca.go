// Package tlsca keeps the local certificate authority of an inetkit user and
// the server certificates it signs, as mkcert does: one CA per user, in the
// user's configuration directory ([UserDir]), which signs the server
// certificate of every inetkit data directory, so that a client of the same
// user on the same machine trusts every inetkit server without flags.
package tlsca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"time"
)

// File names. The CA's files are in the CA directory ([UserDir]); the
// server certificate and its key are in the directory given to [Load].
const (
	// CAFile is the CA certificate, for clients to trust.
	CAFile = "ca.pem"
	// caKeyFile holds the CA's private key and, again, its certificate, so
	// that both appear together, in one atomic step, when the CA is made.
	caKeyFile     = "ca-key.pem"
	ServerFile    = "server.pem"
	serverKeyFile = "server-key.pem"
)

// EnvDir is the environment variable that, when set, names the CA directory
// in place of UserDir's default.
const EnvDir = "INETKIT_CA_DIR"

// UserDir returns the directory of the user's CA: $INETKIT_CA_DIR when set,
// else "inetkit" in os.UserConfigDir ($XDG_CONFIG_HOME or ~/.config on Unix,
// ~/Library/Application Support on macOS, %AppData% on Windows). The path is
// absolute; the directory may not exist yet.
func UserDir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("tlsca: no directory for the user's CA (set %s): %w", EnvDir, err)
	}
	return filepath.Join(d, "inetkit"), nil
}

// A CA is a certificate authority that signs server certificates.
type CA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// Path is the file of Cert, for clients to trust.
	Path string
	key  *ecdsa.PrivateKey
}

// LoadCA returns the CA kept in dir, and makes it first when dir holds none
// (created is then true). The directory is made with mode 0700 and the key
// file with mode 0600. Processes that call LoadCA on one directory at once
// all get the same CA: one makes it, the others load it.
func LoadCA(dir string) (ca *CA, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("tlsca: %w", err)
	}
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	ca, err = readCA(certPath, keyPath)
	if errors.Is(err, os.ErrNotExist) {
		ca, err = newCA()
		if err == nil {
			ca.Path = certPath
			var won bool
			won, err = createExclusive(keyPath, ca.keyPEM())
			switch {
			case err == nil && won:
				created = true
			case err == nil:
				// Another process made the CA first: use that one.
				ca, err = readCA(certPath, keyPath)
			}
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("tlsca: CA in %s: %w", dir, err)
	}
	// The certificate file is a copy of what the key file holds: (re)write
	// it when missing or different.
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	if b, err := os.ReadFile(certPath); err != nil || !bytes.Equal(b, certPEM) {
		if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
			return nil, false, fmt.Errorf("tlsca: %w", err)
		}
	}
	return ca, created, nil
}

// A Result is the outcome of Load.
type Result struct {
	Config  *tls.Config // holds the server certificate
	CAPath  string      // the CA certificate clients should trust
	Created bool        // the CA was made by this call
}

// Load returns a server TLS configuration with a certificate kept in
// directory dir, signed by the CA in caDir (see [LoadCA], which makes the CA
// when caDir holds none). The certificate is made anew when it is missing,
// was signed by another CA, expires within 30 days or does not cover every
// name in hosts (host names or IP addresses; "localhost", 127.0.0.1 and ::1
// are always included).
func Load(dir, caDir string, hosts []string) (*Result, error) {
	ca, created, err := LoadCA(caDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	hosts = append([]string{"localhost", "127.0.0.1", "::1"}, hosts...)
	slices.Sort(hosts)
	hosts = slices.Compact(hosts)

	certPath, keyPath := filepath.Join(dir, ServerFile), filepath.Join(dir, serverKeyFile)
	leaf, key, err := readLeaf(certPath, keyPath)
	if err != nil || !covers(leaf, hosts) || time.Until(leaf.NotAfter) < 30*24*time.Hour || leaf.CheckSignatureFrom(ca.Cert) != nil {
		leaf, key, err = ca.newLeaf(hosts)
		if err == nil {
			err = saveLeaf(certPath, keyPath, leaf, key)
		}
		if err != nil {
			return nil, fmt.Errorf("tlsca: server certificate: %w", err)
		}
	}
	return &Result{
		Config: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}},
			MinVersion:   tls.VersionTLS12,
		},
		CAPath:  ca.Path,
		Created: created,
	}, nil
}

// LoadFiles returns a server TLS configuration from a certificate and key
// in PEM files (--tls-cert, --tls-key).
func LoadFiles(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsca: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

// owner names the user and machine a CA belongs to, as mkcert does:
// "alice@laptop".
func owner() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}

func newCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Organization:       []string{"inetkit local CA"},
			OrganizationalUnit: []string{owner()},
			CommonName:         "inetkit local CA " + owner(),
		},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: c, key: key}, nil
}

func (ca *CA) newLeaf(hosts []string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"inetkit"}, CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(0, 0, 397), // the longest browsers accept
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// keyPEM returns the contents of the CA's key file: the key, then the
// certificate.
func (ca *CA) keyPEM() []byte {
	kb, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		panic(err) // a P-256 key from ecdsa.GenerateKey always marshals
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})...)
}

// readCA reads the CA from its key file. A key file without the
// certificate (an older inetkit's) is completed by the certificate file.
func readCA(certPath, keyPath string) (*CA, error) {
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	key, cert, err := parsePEM(kb)
	if err == nil && key == nil {
		err = fmt.Errorf("%s holds no EC private key", keyPath)
	}
	if err != nil {
		return nil, err
	}
	if cert == nil {
		cb, err := os.ReadFile(certPath)
		if err != nil {
			return nil, fmt.Errorf("%s holds no certificate, and %w", keyPath, err)
		}
		if _, cert, err = parsePEM(cb); err == nil && cert == nil {
			err = fmt.Errorf("%s holds no certificate", certPath)
		}
		if err != nil {
			return nil, err
		}
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("the key in %s is not the key of its certificate", keyPath)
	}
	return &CA{Cert: cert, Path: certPath, key: key}, nil
}

// parsePEM returns the first EC private key and the first certificate in b,
// either of which may be nil.
func parsePEM(b []byte) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	var (
		key  *ecdsa.PrivateKey
		cert *x509.Certificate
	)
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return key, cert, nil
		}
		var err error
		switch {
		case blk.Type == "EC PRIVATE KEY" && key == nil:
			key, err = x509.ParseECPrivateKey(blk.Bytes)
		case blk.Type == "CERTIFICATE" && cert == nil:
			cert, err = x509.ParseCertificate(blk.Bytes)
		}
		if err != nil {
			return nil, nil, err
		}
	}
}

func readLeaf(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	_, cert, err := parsePEM(cb)
	if err != nil {
		return nil, nil, err
	}
	key, _, err := parsePEM(kb)
	if err != nil {
		return nil, nil, err
	}
	if cert == nil || key == nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("%s and %s are not a certificate and its key", certPath, keyPath)
	}
	return cert, key, nil
}

func saveLeaf(certPath, keyPath string, c *x509.Certificate, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
}

// writeTemp writes data to a new file in the directory of path, with mode
// perm, and returns its name.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// writeFileAtomic replaces path with data: a reader sees the old file or
// the new one, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// createExclusive makes path with data, whole, unless it exists; it reports
// whether it made it. On a file system without hard links it replaces path
// instead, which only a race of two first starts can tell.
func createExclusive(path string, data []byte) (bool, error) {
	tmp, err := writeTemp(path, data, 0o600)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, os.ErrExist):
		return false, nil
	}
	if _, serr := os.Stat(path); serr == nil {
		return false, nil
	}
	return true, os.Rename(tmp, path)
}
