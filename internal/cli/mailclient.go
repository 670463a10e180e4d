package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/spf13/cobra"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/tlsca"
	"github.com/inetkit/inetkit/pop3"
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
	f.StringVar(&o.cacert, "cacert", "", "PEM file of certificate authorities to trust, besides the system's and inetkit's own")
	f.StringVar(&o.data, "data", defaultDataDir, "data directory whose CA, DIR/tls/ca.pem, is trusted too (an older inetkit serve, or one with no home directory, made it there)")
	f.BoolVarP(&o.insecure, "insecure", "k", false, "do not verify the server's certificate")
}

func (o *tlsOptions) validate() error {
	switch o.mode {
	case "auto", "require", "none":
		return nil
	}
	return usagef("--tls must be auto, require or none, not %q", o.mode)
}

// A caFile is a file of certificate authorities a client trusts.
type caFile struct {
	path     string
	optional bool // a missing file is skipped
	user     bool // the user's CA
}

// caFiles returns the CA files a client trusts besides the system's roots:
// the user's CA, which every inetkit serve of this user signs with (see
// tlsca.UserDir); the CA in --data, which an older inetkit serve made there,
// or one run with no home directory; and --cacert.
func (o *tlsOptions) caFiles() []caFile {
	var files []caFile
	if dir, err := tlsca.UserDir(); err == nil {
		files = append(files, caFile{path: filepath.Join(dir, tlsca.CAFile), optional: true, user: true})
	}
	files = append(files, caFile{path: filepath.Join(o.data, "tls", tlsca.CAFile), optional: true})
	if o.cacert != "" {
		files = append(files, caFile{path: o.cacert})
	}
	return files
}

// config returns the client TLS configuration for host: the system's roots
// and the CA files of caFiles.
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
	for _, f := range o.caFiles() {
		pem, err := os.ReadFile(f.path)
		if err != nil {
			if f.optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f.path)
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
	portGiven   bool // the URL has a port; else addr has the scheme's standard one
	user, pass  string
	hasUser     bool
	// protos are the protocols the command takes ("pop3", "imap"), each
	// with its implicit-TLS scheme.
	protos []string
}

// proto returns the protocol of the URL: its scheme without the "s" of
// implicit TLS.
func (m *mailURL) proto() string {
	if m.implicitTLS {
		return m.scheme[:len(m.scheme)-1]
	}
	return m.scheme
}

var defaultPorts = map[string]int{"smtp": 25, "smtps": 465, "pop3": 110, "pop3s": 995, "imap": 143, "imaps": 993, "nntp": 119, "nntps": 563}

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
	m := &mailURL{scheme: u.Scheme, implicitTLS: u.Scheme[len(u.Scheme)-1] == 's', host: u.Hostname(), protos: schemes}
	port := u.Port()
	m.portGiven = port != ""
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

// dialPOP3 connects as the URL says, with STLS as --tls asks; the caller
// logs in. Its errors are explained as explain does.
func dialPOP3(ctx context.Context, m *mailURL, t *tlsOptions, timeout time.Duration) (*pop3.Client, error) {
	cfg, err := t.config(m.host)
	if err != nil {
		return nil, err
	}
	var c *pop3.Client
	err = dialExplained(ctx, m, t, func(ctx context.Context, debug io.Writer) error {
		var err error
		c, err = startPOP3(ctx, m, t, &pop3.ClientOptions{TLSConfig: cfg, Timeout: timeout, DebugWriter: debug})
		return err
	})
	return c, err
}

// startPOP3 is dialPOP3 without the explanations. The connection is closed
// if ctx ends before the greeting.
func startPOP3(ctx context.Context, m *mailURL, t *tlsOptions, opts *pop3.ClientOptions) (*pop3.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	if m.implicitTLS {
		tc := tls.Client(conn, opts.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			conn.Close()
			return nil, err
		}
		conn = tc
	}
	c, err := pop3.NewClient(conn, opts)
	if !stop() {
		if err == nil {
			c.Close()
		}
		return nil, context.Cause(ctx)
	}
	if err != nil || m.implicitTLS || t.mode == "none" {
		return c, err
	}
	caps, err := c.Capabilities()
	if err != nil {
		c.Close()
		return nil, err
	}
	if _, ok := caps["STLS"]; !ok {
		if t.mode == "require" {
			c.Close()
			return nil, errors.New("the server does not offer STLS (--tls require)")
		}
		return c, nil
	}
	if err := c.StartTLS(opts.TLSConfig); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialIMAP connects and logs in as the URL says. Its errors are explained as
// explain does.
func dialIMAP(ctx context.Context, m *mailURL, t *tlsOptions, opts *inetimap.ClientOptions) (*imapclient.Client, error) {
	cfg, err := t.config(m.host)
	if err != nil {
		return nil, err
	}
	var o inetimap.ClientOptions
	if opts != nil {
		o = *opts
	}
	o.TLSConfig = cfg
	var c *imapclient.Client
	err = dialExplained(ctx, m, t, func(ctx context.Context, debug io.Writer) error {
		o := o
		if o.DebugWriter != nil {
			debug = io.MultiWriter(o.DebugWriter, debug)
		}
		o.DebugWriter = debug
		var err error
		switch {
		case m.implicitTLS:
			c, err = inetimap.DialTLS(ctx, m.addr, &o)
		case t.mode == "none":
			c, err = inetimap.Dial(ctx, m.addr, &o)
		default:
			c, err = inetimap.DialStartTLS(ctx, m.addr, &o)
			var ie *imap.Error
			if t.mode == "auto" && errors.As(err, &ie) {
				// The server refused STARTTLS (it offers none): plaintext, as
				// --tls auto allows. A failed handshake is never retried.
				c, err = inetimap.Dial(ctx, m.addr, &o)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	// A server that greets and then never answers LOGIN must not outlast
	// ctx (--timeout, a signal).
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err = c.Login(m.user, m.pass).Wait()
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
