// Package imaptest provides IMAP servers for tests, as net/http/httptest does
// for HTTP: [NewServer] runs an [imap.Server] on a loopback port, [MemBackend]
// is an in-memory [imap.Backend] built on go-imap's imapmemserver, and
// [TestBackend] is a conformance suite for Backends.
package imaptest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	inimap "github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
)

// A Server is an IMAP server listening on a loopback port, for tests.
type Server struct {
	// Addr is the host:port of the listener, set by Start or StartTLS.
	Addr string
	// Config is the server; it may be changed before Start or StartTLS.
	// NewUnstartedServer sets TLSConfig to the test certificate (so
	// STARTTLS is offered), InsecureAuth (logins work without TLS), and a
	// 10 ms AuthFailureDelay and ErrorDelay.
	Config *inimap.Server
	// TLS reports whether the server was started with StartTLS (implicit
	// TLS).
	TLS bool

	wg      sync.WaitGroup
	started bool
	closed  bool
}

// NewServer starts and returns a new Server for be. The caller should call
// Close when finished, to shut it down.
func NewServer(be inimap.Backend) *Server {
	s := NewUnstartedServer(be)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server for be, not started, so that its
// Config can be changed first.
func NewUnstartedServer(be inimap.Backend) *Server {
	return &Server{Config: &inimap.Server{
		Backend:      be,
		TLSConfig:    testcert.ServerConfig(),
		InsecureAuth: true,
		Limits:       lineproto.Limits{AuthFailureDelay: 10 * time.Millisecond, ErrorDelay: 10 * time.Millisecond},
	}}
}

func (s *Server) listen() net.Listener {
	if s.started {
		panic("imaptest: server already started")
	}
	s.started = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("imaptest: failed to listen: %v", err))
	}
	s.Addr = l.Addr().String()
	return l
}

// Start starts the server (plaintext, with STARTTLS if Config.TLSConfig is
// set).
func (s *Server) Start() {
	l := s.listen()
	s.wg.Go(func() { s.Config.Serve(l) })
}

// StartTLS starts the server with implicit TLS, using the test certificate
// unless Config.TLSConfig is already set.
func (s *Server) StartTLS() {
	if s.Config.TLSConfig == nil {
		s.Config.TLSConfig = testcert.ServerConfig()
	}
	l := s.listen()
	s.TLS = true
	s.wg.Go(func() { s.Config.ServeTLS(l) })
}

// Close shuts the server down, closing every connection, and blocks until
// their sessions are closed.
func (s *Server) Close() {
	if s.closed {
		return
	}
	s.closed = true
	s.Config.Close()
	s.wg.Wait()
}

// Client returns a client connected to the server, greeting received, not
// logged in. It trusts the test certificate: for a server started with
// StartTLS it uses implicit TLS. A nil opts is equivalent to the zero value.
func (s *Server) Client(opts *inimap.ClientOptions) (*imapclient.Client, error) {
	o := inimap.ClientOptions{}
	if opts != nil {
		o = *opts
	}
	if o.TLSConfig == nil {
		o.TLSConfig = testcert.ClientConfig()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.TLS {
		return inimap.DialTLS(ctx, s.Addr, &o)
	}
	return inimap.Dial(ctx, s.Addr, &o)
}

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

var _ inimap.Backend = (*MemBackend)(nil)

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
func (b *MemBackend) NewSession(*imapserver.Conn) (inimap.Session, error) {
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
