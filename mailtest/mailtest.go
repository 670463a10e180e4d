// Package mailtest runs inetkit's three mail servers in process, for tests,
// as net/http/httptest does for HTTP: [NewServer] starts an SMTP server
// (RFC 5321, with STARTTLS, RFC 3207), a POP3 server (RFC 1939, with STLS,
// RFC 2595) and an IMAP server (RFC 9051 and RFC 3501, with STARTTLS and
// IDLE, RFC 2177) on loopback ports, all over one SQLite store in a
// temporary directory. Mail sent over SMTP can be read over POP3 and IMAP,
// and a change made over one protocol is seen by the others at once.
//
// By default every login works with any password and every address is a
// mailbox, as a test mail server should: the store runs with
// [store.Options.AnyLogin]. [Server.WaitForMessage] waits for a message to
// arrive, without polling, and [Server.Send] sends one.
//
// The servers use the test certificate of package internal/testcert (for
// localhost and 127.0.0.1); [Server.TLSConfig] is a client configuration
// that trusts it.
package mailtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3/pop3test"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
	"github.com/inetkit/inetkit/store"
)

// authFailureDelay is the delay of a failed login on the test servers:
// short, so that tests of wrong passwords stay fast.
const authFailureDelay = 10 * time.Millisecond

// Options configures a Server. A nil *Options is equivalent to the zero
// value.
type Options struct {
	// Users, if not empty, maps mail addresses to passwords: only these
	// users exist, logins need the right password, and the SMTP server
	// accepts mail for these addresses only. If empty, any login works
	// with any password and mail is accepted for any address
	// (store.Options.AnyLogin).
	Users map[string]string
	// Logger receives the errors of the servers and the store. Nil means
	// the test's log (t.Log), for warnings and errors.
	Logger *slog.Logger
	// Faults, if not nil, are faults the three servers inject on demand,
	// from the rules for "smtp", "pop3" and "imap" (package fault).
	Faults *fault.Set
}

// A Server is an SMTP, a POP3 and an IMAP server on loopback ports over one
// store. Its methods are safe for concurrent use.
type Server struct {
	// SMTPAddr is the host:port of the SMTP server. It offers STARTTLS
	// and allows AUTH without TLS.
	SMTPAddr string
	// POP3Addr is the host:port of the POP3 server. It offers STLS and
	// allows USER/PASS without TLS.
	POP3Addr string
	// IMAPAddr is the host:port of the IMAP server. It offers STARTTLS
	// and allows LOGIN without TLS.
	IMAPAddr string
	// Store is the store the three servers share. NewServer opens it in
	// a temporary directory (Store.Dir) that is removed when the test
	// ends.
	Store *store.Store

	smtp      *smtptest.Server
	pop3      *pop3test.Server
	imap      *imaptest.Server
	closeOnce sync.Once
	closeErr  error
}

// NewServer starts a Server in which any login works, over a store in
// t.TempDir(), and registers its Close with t.Cleanup. It is
// NewServerWithOptions with nil options.
func NewServer(t testing.TB) *Server {
	t.Helper()
	return NewServerWithOptions(t, nil)
}

// NewServerWithOptions opens a store in t.TempDir() and starts the three
// servers over it, as Start does. It registers Close with t.Cleanup, and
// fails the test if the servers cannot start. A nil opts is equivalent to a
// zero one; a nil opts.Logger means the test's log, for warnings and
// errors.
func NewServerWithOptions(t testing.TB, opts *Options) *Server {
	t.Helper()
	o := Options{}
	if opts != nil {
		o = *opts
	}
	tw := &testWriter{t: t}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s, err := Start(t.TempDir(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		tw.stop()
	})
	return s
}

// Start opens (creating if needed) a store in directory dir and starts the
// three servers over it, on loopback ports. The caller must call Close when
// finished; dir is left as it is. Tests should prefer NewServer, which
// cleans up by itself; Start is for examples and programs. A nil opts is equivalent to a zero one; a nil
// opts.Logger means slog.Default().
func Start(dir string, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	st, err := store.Open(dir, &store.Options{
		AnyLogin:     len(opts.Users) == 0,
		PasswordCost: 4, // bcrypt.MinCost: a test has no use for slow hashes
		Logger:       logger,
	})
	if err != nil {
		return nil, fmt.Errorf("mailtest: %w", err)
	}
	// Sorted, so that a failure names the same user every run.
	users := make([]string, 0, len(opts.Users))
	for u := range opts.Users {
		users = append(users, u)
	}
	sort.Strings(users)
	for _, u := range users {
		err := st.AddUser(context.Background(), u, opts.Users[u])
		if errors.Is(err, store.ErrExists) { // a store opened again
			err = st.SetPassword(context.Background(), u, opts.Users[u])
		}
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("mailtest: add user %q: %w", u, err)
		}
	}

	s := &Server{Store: st}

	s.smtp = smtptest.NewUnstartedServer(st.SMTPBackend())
	s.smtp.Config.Logger = logger
	s.smtp.Config.Faults = opts.Faults
	s.smtp.Config.AuthFailureDelay = authFailureDelay
	s.smtp.StartSTARTTLS() // STARTTLS with the test certificate
	s.SMTPAddr = s.smtp.Addr

	s.pop3 = pop3test.NewUnstartedServer(st.POP3Backend())
	s.pop3.Config.TLSConfig = testcert.ServerConfig() // STLS
	s.pop3.Config.Logger = logger
	s.pop3.Config.Faults = opts.Faults
	s.pop3.Start()
	s.POP3Addr = s.pop3.Addr

	s.imap = imaptest.NewUnstartedServer(st.IMAPBackend()) // STARTTLS with the test certificate
	s.imap.Config.Logger = logger
	s.imap.Config.Faults = opts.Faults
	s.imap.StartSTARTTLS()
	s.IMAPAddr = s.imap.Addr
	return s, nil
}

// Close shuts the three servers down, closing every connection, and then
// closes the store; the data directory stays (until the test ends, for
// NewServer). The cleanup that NewServer registers calls Close; calling it
// earlier (to reopen the store, say) is allowed, and later calls return the
// first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.smtp.Close()
		s.pop3.Close()
		s.imap.Close()
		if err := s.Store.Close(); err != nil {
			s.closeErr = fmt.Errorf("mailtest: close store: %w", err)
		}
	})
	return s.closeErr
}

// TLSConfig returns a new client TLS configuration that trusts the
// servers' certificate, for STARTTLS (SMTP, IMAP) and STLS (POP3).
func (s *Server) TLSConfig() *tls.Config { return testcert.ClientConfig() }

// Send sends msg from from to the recipients to over SMTP, with STARTTLS,
// using package smtp's client. Bare LFs in msg are sent as CRLF. It returns
// nil only if every recipient was accepted and the server acknowledged the
// message (250), which it does once the message is durable in the store.
// If some recipients were refused the message went to the others, and the
// error says which were refused.
func (s *Server) Send(ctx context.Context, from string, to []string, msg string) error {
	res, err := smtp.SendMail(ctx, s.SMTPAddr, &smtp.ClientOptions{
		TLSConfig: s.TLSConfig(),
		TLSPolicy: smtp.TLSPolicyStartTLS,
	}, from, to, strings.NewReader(msg))
	if err != nil {
		return fmt.Errorf("mailtest: send: %w", err)
	}
	if len(res.Refused) > 0 {
		var errs []error
		for _, rcpt := range to {
			if e, ok := res.Refused[rcpt]; ok {
				errs = append(errs, fmt.Errorf("%s: %w", rcpt, e))
			}
		}
		return fmt.Errorf("mailtest: send: recipients refused: %w", errors.Join(errs...))
	}
	return nil
}

// WaitForMessage waits until the INBOX of address holds a message for which
// match returns true, and returns that message (the oldest one if several
// match) as stored: with the Return-Path and Received header fields the
// SMTP server prepends, and CRLF line endings. A nil match matches any
// message. It returns ctx's error if ctx ends first, and an error if the
// store fails.
//
// WaitForMessage does not poll: it checks the store, and waits for the next
// commit that adds or removes messages (store.Store.Changed) before
// checking again. match is called again on every message at each check, so
// it should be cheap and have no side effects. The address need not exist
// yet: with AnyLogin, the first delivery makes it.
func (s *Server) WaitForMessage(ctx context.Context, address string, match func(msg []byte) bool) ([]byte, error) {
	for {
		// Take the channel before reading, so that a commit between the
		// read and the wait still wakes us.
		changed := s.Store.Changed()
		msgs, err := s.Store.Messages(ctx, address, "INBOX")
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("mailtest: wait for message to %q: %w", address, err)
		}
		for _, m := range msgs {
			if match == nil || match(m.Body) {
				return m.Body, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// testWriter writes log output to a test's log, until the test ends.
type testWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// stop makes w discard what it is given from now on.
func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

var _ io.Writer = (*testWriter)(nil)
