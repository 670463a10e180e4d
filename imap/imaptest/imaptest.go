// Package imaptest runs an IMAP server in process, for tests, as
// net/http/httptest does for HTTP: [NewServer] serves an [inetimap.Backend]
// on a loopback port. It also holds [MemBackend], an in-memory Backend built
// on go-imap's imapmemserver, and [TestBackend], a conformance suite that
// every Backend should pass.
package imaptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	inetimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/lineproto"
)

// A Server is an IMAP server listening on a loopback port, for tests. Close
// may be called from any goroutine, but not while a Start method runs.
type Server struct {
	// Addr is the host:port of the listener. The Start methods set it.
	Addr string
	// Config is the server. It may be changed before a Start method is
	// called.
	Config *inetimap.Server

	run testserver.Run
}

// NewServer starts and returns a new Server serving be, in plaintext. The
// caller should call Close when finished, to shut it down.
func NewServer(be inetimap.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving be but doesn't start it.
// Its Config has InsecureAuth set (the listener is on loopback), an
// AuthFailureDelay and an ErrorDelay of 10 ms so that tests of failed logins
// and errors stay fast, and a Logger that writes errors only, to stderr. It
// has no TLSConfig: StartTLS and StartSTARTTLS set the test certificate's.
//
// After changing its configuration, the caller should call Start, StartTLS
// or StartSTARTTLS. The caller should call Close when finished, to shut it
// down.
func NewUnstartedServer(be inetimap.Backend) *Server {
	return &Server{Config: &inetimap.Server{
		Backend:      be,
		InsecureAuth: true,
		Limits:       lineproto.Limits{AuthFailureDelay: 10 * time.Millisecond, ErrorDelay: 10 * time.Millisecond},
		Logger:       testserver.Logger(),
	}}
}

// Start starts a server from NewUnstartedServer, serving plain IMAP, with
// STARTTLS if Config.TLSConfig is set. It panics if the server cannot
// listen, or was started or closed before.
func (s *Server) Start() { s.start(testserver.Plain) }

// StartTLS starts a server from NewUnstartedServer serving IMAP over
// implicit TLS (IMAPS, RFC 8314), with Config.TLSConfig, which defaults to a
// certificate for localhost and 127.0.0.1 that Client trusts. It panics as
// Start does.
func (s *Server) StartTLS() { s.start(testserver.ImplicitTLS) }

// StartSTARTTLS starts a server from NewUnstartedServer serving plain IMAP
// with STARTTLS (RFC 3501 §6.2.1), with Config.TLSConfig, which defaults to
// the certificate of StartTLS. It panics as Start does.
func (s *Server) StartSTARTTLS() { s.start(testserver.STARTTLS) }

func (s *Server) start(mode testserver.Mode) {
	s.run.Start("imaptest", s.Config, mode, &s.Config.TLSConfig)
	s.Addr = s.run.Addr
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but inetimap.ErrServerClosed: the server stopped by itself.
// Closing a server that was closed, or never started, does nothing.
func (s *Server) Close() {
	s.run.Close(s.Config)
}

// Client returns a client connected to the server, its greeting received,
// not logged in: over implicit TLS for a server started with StartTLS, with
// STARTTLS for one started with StartSTARTTLS, and in plaintext otherwise. A
// nil opts, or one without TLSConfig, trusts the certificate of StartTLS
// and StartSTARTTLS.
func (s *Server) Client(opts *inetimap.ClientOptions) (*imapclient.Client, error) {
	var o inetimap.ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = s.ClientTLSConfig()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch s.run.Mode {
	case testserver.ImplicitTLS:
		return inetimap.DialTLS(ctx, s.Addr, &o)
	case testserver.STARTTLS:
		return inetimap.DialStartTLS(ctx, s.Addr, &o)
	}
	return inetimap.Dial(ctx, s.Addr, &o)
}

// ClientTLSConfig returns a new client TLS configuration that trusts the
// certificate of StartTLS and StartSTARTTLS, for a client of the test's own.
func (s *Server) ClientTLSConfig() *tls.Config { return testserver.ClientTLSConfig() }

// MemBackend is an in-memory Backend with user accounts, built on go-imap's
// imapmemserver. Each user has an INBOX. It is safe for concurrent use.
//
// Its sessions idle without imapmemserver's Idle (go-imap's
// SessionTracker.Idle, which misses an update queued just before it
// starts): every change of a mailbox is made by a session of the
// MemBackend, or by Deliver, so after each one the MemBackend wakes all its
// idling sessions, which then poll their own mailbox.
type MemBackend struct {
	mu     sync.Mutex
	users  map[string]*imapmemserver.User
	idlers map[chan struct{}]struct{}
}

var _ inetimap.Backend = (*MemBackend)(nil)

// NewMemBackend returns a MemBackend with no users.
func NewMemBackend() *MemBackend {
	return &MemBackend{users: make(map[string]*imapmemserver.User), idlers: make(map[chan struct{}]struct{})}
}

// AddUser adds a user with an empty INBOX, or replaces its password.
func (b *MemBackend) AddUser(user, pass string) {
	u := imapmemserver.NewUser(user, pass)
	if err := u.Create("INBOX", nil); err != nil {
		panic(err) // unreachable: the user is new
	}
	b.mu.Lock()
	b.users[user] = u
	b.mu.Unlock()
}

func (b *MemBackend) user(name string) *imapmemserver.User {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.users[name]
}

// Deliver appends msg to user's INBOX, as a mail delivery does: sessions
// that have INBOX selected see it (in IDLE at once, otherwise at their next
// command).
func (b *MemBackend) Deliver(user string, msg []byte) error {
	u := b.user(user)
	if u == nil {
		return fmt.Errorf("imaptest: no user %q", user)
	}
	_, err := u.Append("INBOX", bytes.NewReader(msg), &imap.AppendOptions{Time: time.Now()})
	b.wake()
	return err
}

// NewSession returns a new session, not logged in.
func (b *MemBackend) NewSession(*imapserver.Conn) (inetimap.Session, error) {
	return &memSession{b: b}, nil
}

// wake signals every idling session after a change.
func (b *MemBackend) wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.idlers {
		select {
		case ch <- struct{}{}:
		default: // a signal is pending already
		}
	}
}

// watch returns a channel that receives a value after each change from now
// on, and a function that stops it.
func (b *MemBackend) watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	b.idlers[ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.idlers, ch)
		b.mu.Unlock()
	}
}

// memSession is imapmemserver's UserSession (nil until login), waking the
// MemBackend's idling sessions after each command that can queue a mailbox
// update, and idling on that signal.
type memSession struct {
	*imapmemserver.UserSession
	b *MemBackend
}

var _ imapserver.SessionIMAP4rev2 = (*memSession)(nil)

func (s *memSession) Login(username, password string) error {
	u := s.b.user(username)
	if u == nil {
		return imapserver.ErrAuthFailed
	}
	if err := u.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(u)
	return nil
}

func (s *memSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	defer s.b.wake()
	return s.UserSession.Append(mailbox, r, options)
}

func (s *memSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	defer s.b.wake()
	return s.UserSession.Copy(numSet, dest)
}

func (s *memSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	defer s.b.wake()
	return s.UserSession.Move(w, numSet, dest)
}

func (s *memSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	defer s.b.wake()
	return s.UserSession.Expunge(w, uids)
}

// Fetch may set \Seen.
func (s *memSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	defer s.b.wake()
	return s.UserSession.Fetch(w, numSet, options)
}

func (s *memSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	defer s.b.wake()
	return s.UserSession.Store(w, numSet, flags, options)
}

// Idle installs its wake-up channel before it first polls, so that no update
// is left for DONE.
func (s *memSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	wake, unwatch := s.b.watch()
	defer unwatch()
	for {
		if err := s.UserSession.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-wake:
		case <-stop:
			return nil
		}
	}
}
