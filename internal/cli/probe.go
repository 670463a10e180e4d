package cli

// The mail clients explain a failure to connect in the user's terms:
//
//   - a refused connection to a loopback address names the address inetkit
//     serve listens on;
//   - a certificate from an unknown authority names the CA files trusted
//     and the flags that add one;
//   - a server that does not speak the URL's protocol, or not with the URL's
//     TLS, is named by what it says (its greeting, a TLS handshake, an HTTP
//     reply), with the scheme that fits it.
//
// The greeting comes from the client itself (dialWatch is its DebugWriter)
// or, when the client got none, from a probe: a second connection that
// listens for a greeting and then tries a TLS handshake.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// serveAddrs are the addresses inetkit serve's mail services listen on
// unless --NAME-addr says otherwise (serve_smtp.go, serve_pop3.go,
// serve_imap.go). The implicit-TLS listeners have no default.
var serveAddrs = map[string]string{"smtp": "127.0.0.1:2525", "pop3": "127.0.0.1:1110", "imap": "127.0.0.1:1143", "nntp": nntpDefaultAddr}

// protoNames are the names of the protocols a probe recognises.
var protoNames = map[string]string{"smtp": "SMTP", "pop3": "POP3", "imap": "IMAP", "http": "HTTP", "nntp": "NNTP", "ssh": "SSH"}

const (
	// greetingWait is how long a client waits for the server's first
	// octets before it probes the port on a second connection, to recognise
	// a TLS server waiting for a ClientHello the client will never send.
	greetingWait = 1500 * time.Millisecond
	// probeStep bounds each step of a probe: the connection, the wait for a
	// greeting, the TLS handshake, and the wait for a greeting after it.
	probeStep = time.Second
	// maxSaid is how much of what a server says is kept.
	maxSaid = 256
)

// A finding is what a server said when connected to.
type finding struct {
	proto  string // a key of protoNames, or "" when not recognised
	tls    bool   // the port starts with a TLS handshake (implicit TLS)
	said   []byte // its first line (after the TLS handshake when tls)
	silent bool   // it said nothing (after the TLS handshake when tls)
}

// classify returns the protocol whose greeting (or, for HTTP, reply to a
// TLS ClientHello) starts with b, or "".
func classify(b []byte) string {
	s := string(b)
	has := func(prefixes ...string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
	}
	switch {
	case has("+OK", "-ERR"):
		return "pop3"
	case has("* OK", "* PREAUTH", "* BYE"):
		return "imap"
	case has("220 ", "220-", "421 ", "421-", "554 ", "554-"):
		return "smtp"
	case has("200 ", "201 "):
		return "nntp"
	case has("HTTP/"), hasFold(s, "<!DOCTYPE HTML"), hasFold(s, "<HTML"):
		// The second and third: an error page without a status line, which
		// some servers answer HTTP/0.9 requests with.
		return "http"
	case has("SSH-"):
		return "ssh"
	}
	return ""
}

func hasFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// matches reports whether f is what m asks for: its protocol, with or
// without implicit TLS as its scheme says.
func (f *finding) matches(m *mailURL) bool {
	return f.proto == m.proto() && f.tls == m.implicitTLS
}

// proves reports whether f shows that a client of m cannot work there: a
// plaintext client at a TLS port, or another protocol recognised. A silent
// server proves nothing: some greet late on purpose (Postfix's greet pause).
func (f *finding) proves(m *mailURL) bool {
	return (f.tls && !m.implicitTLS) || (f.proto != "" && f.proto != m.proto())
}

// probe connects to addr and returns what the server says: a greeting, if
// listen is set and one comes within probeStep; else what it does with a TLS
// ClientHello; else, if it says nothing to that either, what it answers to
// an HTTP request on a new connection. It returns nil when that tells
// nothing, as when the connection fails or is closed without a word.
func probe(ctx context.Context, addr, host string, listen bool) *finding {
	f, silent := probeTLS(ctx, addr, host, listen)
	if f != nil || !silent {
		return f
	}
	return probeHTTP(ctx, addr, host)
}

// probeTLS is probe without the HTTP request; silent reports that the
// server sent nothing at all. The handshake does not verify the
// certificate: nothing is sent over it.
func probeTLS(ctx context.Context, addr, host string, listen bool) (f *finding, silent bool) {
	d := net.Dialer{Timeout: probeStep}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false
	}
	defer raw.Close()
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	if listen {
		raw.SetReadDeadline(time.Now().Add(probeStep))
		b, err := readSaid(raw)
		if len(b) > 0 {
			return &finding{proto: classify(b), said: b}, false
		}
		if !isTimeout(err) {
			return nil, false
		}
	}
	rec := &recordConn{Conn: raw}
	tc := tls.Client(rec, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	raw.SetDeadline(time.Now().Add(probeStep))
	err = tc.Handshake()
	var rhe tls.RecordHeaderError
	switch {
	case err == nil:
		raw.SetDeadline(time.Now().Add(probeStep))
		b, _ := readSaid(tc)
		return &finding{proto: classify(b), tls: true, said: b, silent: len(b) == 0}, false
	case errors.As(err, &rhe):
		// Not TLS: what it sent instead (an HTTP server's 400 reply, or a
		// greeting that came late).
		b := rec.said()
		if len(b) == 0 {
			b = rhe.RecordHeader[:]
		}
		return &finding{proto: classify(b), said: b}, false
	case bytes.HasPrefix(rec.said(), []byte{0x15, 0x03}):
		// A TLS alert: a TLS server that refused this ClientHello.
		return &finding{tls: true, silent: true}, false
	}
	return nil, len(rec.said()) == 0 && isTimeout(err)
}

// probeHTTP sends an HTTP HEAD request to addr and returns a finding if
// the answer is HTTP's.
func probeHTTP(ctx context.Context, addr, host string) *finding {
	d := net.Dialer{Timeout: probeStep}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	conn.SetDeadline(time.Now().Add(probeStep))
	if _, err := fmt.Fprintf(conn, "HEAD / HTTP/1.0\r\nHost: %s\r\n\r\n", host); err != nil {
		return nil
	}
	if b, _ := readSaid(conn); classify(b) == "http" {
		return &finding{proto: "http", said: b}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readSaid reads from r until a line ends, maxSaid octets came, or the read
// fails.
func readSaid(r io.Reader) ([]byte, error) {
	buf := make([]byte, 0, maxSaid)
	for len(buf) < maxSaid && bytes.IndexByte(buf, '\n') < 0 {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// recordConn keeps the first octets read from its Conn.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if k := min(n, maxSaid-len(c.buf)); k > 0 {
		c.buf = append(c.buf, p[:k]...)
	}
	c.mu.Unlock()
	return n, err
}

func (c *recordConn) said() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf
}

// A dialWatch follows a mail client while it connects. As the client's
// DebugWriter it keeps the first line the server sends; when the server
// has sent nothing after greetingWait, it probes the port.
type dialWatch struct {
	m     *mailURL
	heard chan struct{} // closed when the server's first octets arrive

	mu     sync.Mutex
	line   []byte   // the server's first line, or its start
	done   bool     // line is complete, or no longer kept
	probed *finding // the probe's, if one ran
}

func newDialWatch(m *mailURL) *dialWatch {
	return &dialWatch{m: m, heard: make(chan struct{})}
}

// Write receives the client's traffic, both ways, for as long as the client
// lives; only the server's first line is kept.
func (w *dialWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || len(p) == 0 {
		return len(p), nil
	}
	if len(w.line) == 0 && isStartTLSCommand(p) {
		// go-imap's NewStartTLS sends STARTTLS before it reads the
		// greeting (pipelined); that is the client's, not the server's.
		return len(p), nil
	}
	if len(w.line) == 0 {
		close(w.heard)
	}
	w.line = append(w.line, p[:min(len(p), maxSaid-len(w.line))]...)
	w.done = len(w.line) == maxSaid || bytes.IndexByte(w.line, '\n') >= 0
	return len(p), nil
}

func isStartTLSCommand(p []byte) bool {
	tag, rest, ok := bytes.Cut(p, []byte(" "))
	return ok && len(tag) > 0 && string(rest) == "STARTTLS\r\n"
}

// watch waits for the server's first octets; if none come within
// greetingWait, it probes the port, and cancels the client with a
// *portError as the cause when the probe proves the client cannot work
// there. It returns when ctx ends or the probe is done.
func (w *dialWatch) watch(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTimer(greetingWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-w.heard:
		return
	case <-t.C:
	}
	f := probe(ctx, w.m.addr, w.m.host, false)
	if f == nil {
		return
	}
	w.mu.Lock()
	w.probed = f
	w.mu.Unlock()
	select {
	case <-w.heard:
		// The greeting came while the probe ran: the client decides.
	default:
		if f.proves(w.m) {
			cancel(&portError{m: w.m, f: f})
		}
	}
}

// finding returns what the server said to the client, or to the probe.
func (w *dialWatch) finding() *finding {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		b := bytes.Clone(w.line)
		return &finding{proto: classify(b), tls: w.m.implicitTLS, said: b}
	}
	return w.probed
}

// dialExplained runs dial, which connects to m's server with a client whose
// DebugWriter is debug and which gives up when its context ends, and
// returns its error explained (see explain).
func dialExplained(ctx context.Context, m *mailURL, t *tlsOptions, dial func(ctx context.Context, debug io.Writer) error) error {
	w := newDialWatch(m)
	dctx, cancel := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { w.watch(dctx, cancel) })
	err := dial(dctx, w)
	cancel(nil)
	wg.Wait()
	if err == nil {
		return nil
	}
	var pe *portError
	if errors.As(context.Cause(dctx), &pe) {
		return pe
	}
	return explain(ctx, m, t, w, err)
}

// explain returns err, the error of a client of m that w watched, with what
// the user can do about it: the refused, unknown-CA and wrong-port cases
// above. Other errors are returned as they are.
func explain(ctx context.Context, m *mailURL, t *tlsOptions, w *dialWatch, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return err // interrupted
	}
	if isRefused(err) {
		if isLoopback(m.addr) {
			return &refusedError{m: m, err: err}
		}
		return err
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) {
		return &unknownCAError{err: err, files: t.caFiles()}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return err
	}
	f := w.finding()
	if f == nil && ctx.Err() == nil {
		// Once the command's own time is up (--timeout), no more probing:
		// what the dial's watch found is all there is to say.
		pctx, cancel := context.WithTimeout(ctx, 6*probeStep)
		f = probe(pctx, m.addr, m.host, true)
		cancel()
	}
	var rhe tls.RecordHeaderError
	if f == nil && errors.As(err, &rhe) {
		f = &finding{proto: classify(rhe.RecordHeader[:]), said: rhe.RecordHeader[:]}
	}
	if f == nil || f.matches(m) || (f.proto == "" && !f.tls && len(f.said) == 0) {
		return err
	}
	return &portError{m: m, f: f, err: err}
}

// isRefused reports whether err is a refused connection.
func isRefused(err error) bool {
	// 10061 is WSAECONNREFUSED, which Windows returns in place of
	// ECONNREFUSED.
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.Errno(10061))
}

// A portError says that the server at a URL's port does not speak the
// URL's protocol, or not with its TLS, and what to use instead.
type portError struct {
	m   *mailURL
	f   *finding
	err error // the client's own, if it got one
}

func (e *portError) Unwrap() error { return e.err }

func (e *portError) Error() string {
	m, f := e.m, e.f
	want := protoNames[m.proto()]
	if m.implicitTLS {
		want += " over implicit TLS"
	}
	var b strings.Builder
	b.WriteString("that port ")
	switch {
	case f.proto == "" && f.tls && f.silent:
		b.WriteString("expects TLS from its first octet (implicit TLS), and then sent no greeting")
		if !m.implicitTLS {
			fmt.Fprintf(&b, ": if it serves %s over TLS, use %ss://%s", protoNames[m.proto()], m.proto(), m.addr)
		}
		return b.String()
	case f.proto == "" && f.tls:
		fmt.Fprintf(&b, "expects TLS from its first octet (implicit TLS), and then sent %s, not a greeting of %s", quoteSaid(f.said), want)
		return b.String()
	case f.proto == "":
		fmt.Fprintf(&b, "does not speak %s: it sent %s", want, quoteSaid(f.said))
		if isLoopback(m.addr) {
			b.WriteString("; " + serveHint(m))
		}
		return b.String()
	}
	name := protoNames[f.proto]
	verb := "greeted"
	if f.proto == "http" {
		verb = "answered"
	}
	switch {
	case f.tls:
		fmt.Fprintf(&b, "speaks %s over implicit TLS (it %s %s)", name, verb, quoteSaid(f.said))
	case m.implicitTLS && serveAddrs[f.proto] != "":
		fmt.Fprintf(&b, "speaks %s without implicit TLS (it %s %s)", name, verb, quoteSaid(f.said))
	default:
		fmt.Fprintf(&b, "speaks %s (it %s %s)", name, verb, quoteSaid(f.said))
	}
	if slices.Contains(m.protos, f.proto) {
		scheme := f.proto
		if f.tls {
			scheme += "s"
		}
		fmt.Fprintf(&b, ": use %s://%s", scheme, m.addr)
		if !f.tls && m.implicitTLS {
			b.WriteString(", with STARTTLS when the server offers it")
		}
		return b.String()
	}
	fmt.Fprintf(&b, ", not %s", want)
	if isLoopback(m.addr) {
		b.WriteString(": " + serveHint(m))
	}
	return b.String()
}

// quoteSaid quotes the first line of what a server said, shortened.
func quoteSaid(b []byte) string {
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	const maxLen = 48
	s := string(b)
	if len(s) > maxLen {
		s = s[:maxLen]
		for len(s) > maxLen-utf8.UTFMax && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return strconv.Quote(s)
}

// serveHint says where inetkit serve listens for m's protocol.
func serveHint(m *mailURL) string {
	p := m.proto()
	name := protoNames[p]
	if m.implicitTLS {
		return fmt.Sprintf("inetkit serve listens for %sS only where --%ss-addr says (it has no default), and for %s with STARTTLS on %s",
			name, p, name, serveAddrs[p])
	}
	return fmt.Sprintf("inetkit serve listens for %s on %s unless --%s-addr says otherwise", name, serveAddrs[p], p)
}

// A refusedError is a refused connection to a loopback address.
type refusedError struct {
	m   *mailURL
	err error
}

func (e *refusedError) Unwrap() error { return e.err }

func (e *refusedError) Error() string {
	m := e.m
	p := m.proto()
	name := protoNames[p]
	serveAddr := serveAddrs[p]
	// A suggestion that works with serve's default address.
	host := "127.0.0.1"
	if m.host == "localhost" {
		host = m.host
	}
	_, servePort, _ := net.SplitHostPort(serveAddr)
	use := fmt.Sprintf("%s://%s", p, net.JoinHostPort(host, servePort))

	var b strings.Builder
	fmt.Fprintf(&b, "connection refused: nothing listens on %s", m.addr)
	_, port, _ := net.SplitHostPort(m.addr)
	switch {
	case !m.portGiven:
		std := name
		if m.implicitTLS {
			std += "S"
		}
		fmt.Fprintf(&b, ", the standard %s port; %s: use %s", std, serveHint(m), use)
	case port == servePort && !m.implicitTLS:
		fmt.Fprintf(&b, ": is inetkit serve running? (it listens for %s there unless --%s-addr says otherwise)", name, p)
	default:
		b.WriteString("; " + serveHint(m))
	}
	return b.String()
}

// An unknownCAError is a server certificate that no trusted authority
// signed.
type unknownCAError struct {
	err   error
	files []caFile // the CA files the client trusts, besides the system's
}

func (e *unknownCAError) Unwrap() error { return e.err }

func (e *unknownCAError) Error() string {
	var b strings.Builder
	b.WriteString("x509: certificate signed by unknown authority (trusted: the system's roots")
	missing := ""
	for _, f := range e.files {
		if _, err := os.Stat(f.path); err == nil {
			b.WriteString(" and " + f.path)
		} else if f.user {
			missing = f.path
		}
	}
	if missing != "" {
		fmt.Fprintf(&b, "; no inetkit CA at %s, where inetkit serve run by this user keeps it", missing)
	}
	b.WriteString("): give the server's CA with --cacert FILE (inetkit serve logs its path), " +
		"or --data DIR to trust DIR/tls/ca.pem, or skip verification with -k")
	return b.String()
}
