package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/internal/tlsca"
)

// tlsOptions are the TLS flags of the mail clients.
type tlsOptions struct {
	mode     string // auto, require or none: STARTTLS when offered, always, never
	cacert   string
	data     string
	insecure bool
}

func (o *tlsOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.mode, "tls", "auto", "STARTTLS: auto (when the server offers it), require, or none (smtps://, pop3s://, imaps:// always use TLS)")
	f.StringVar(&o.cacert, "cacert", "", "PEM file of certificate authorities to trust, besides the system's")
	f.StringVar(&o.data, "data", defaultDataDir, "data directory whose local CA (made by inetkit serve) is trusted too")
	f.BoolVarP(&o.insecure, "insecure", "k", false, "do not verify the server's certificate")
}

func (o *tlsOptions) validate() error {
	switch o.mode {
	case "auto", "require", "none":
		return nil
	}
	return usagef("--tls must be auto, require or none, not %q", o.mode)
}

// config returns the client TLS configuration for host: the system's roots,
// the local CA of --data if there is one, and --cacert.
func (o *tlsOptions) config(host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if o.insecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	files := []string{filepath.Join(o.data, "tls", tlsca.CAFile)}
	if o.cacert != "" {
		files = append(files, o.cacert)
	}
	for i, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			if i == 0 && errors.Is(err, os.ErrNotExist) {
				continue // no local CA: nothing to add
			}
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f)
		}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// mailURL is the part of a pop3://, imap:// or smtp:// URL every client
// needs.
type mailURL struct {
	scheme      string
	implicitTLS bool
	addr        string // host:port
	host        string
	user, pass  string
	hasUser     bool
}

var defaultPorts = map[string]int{"smtp": 25, "smtps": 465, "pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993}

func parseMailURL(raw string, schemes ...string) (*mailURL, *url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, usagef("bad URL %q: %v", raw, err)
	}
	ok := false
	for _, s := range schemes {
		if u.Scheme == s || u.Scheme == s+"s" {
			ok = true
		}
	}
	if !ok {
		return nil, nil, usagef("URL %q: want a %s URL", raw, schemeList(schemes))
	}
	if u.Hostname() == "" {
		return nil, nil, usagef("URL %q has no host", raw)
	}
	m := &mailURL{scheme: u.Scheme, implicitTLS: u.Scheme[len(u.Scheme)-1] == 's', host: u.Hostname()}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(defaultPorts[u.Scheme])
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		m.hasUser = true
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	return m, u, nil
}

func schemeList(schemes []string) string {
	s := ""
	for i, sc := range schemes {
		if i > 0 {
			s += ", "
		}
		s += sc + ":// or " + sc + "s://"
	}
	return s
}
