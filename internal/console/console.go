// Package console is inetkit's web console and its REST API (/api/v1): what
// the servers captured (mail, news, files), the servers themselves, and a
// live feed of what they do, for people in a browser and for test scripts.
//
// The console has its own listener (inetkit serve --web-addr). Its pages are
// rendered on the server with html/template from embedded templates and
// assets, with a little plain JavaScript; nothing is fetched from anywhere but
// the console itself.
package console

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/store"
)

// Config is what a console shows and how it guards it.
type Config struct {
	Store *store.Store
	// Files is the file root; nil hides the Files page and API.
	Files fileroot.FS
	// Events is the feed of the servers' events, for the live stream, the
	// webhooks and new mail appearing without a reload.
	Events *events.Hub
	// Services lists the running services for the Server page.
	Services func() []Service
	// CACert is the local certificate authority's certificate (PEM), offered
	// for download; nil hides the link.
	CACert []byte
	// Faults are the fault rules the servers consult (package fault),
	// which the Faults page and /api/v1/faults list, with their counters,
	// and change while the servers run. Nil hides the page and the API
	// answers 404 ("faults are off"). Every user sees the rules; only a
	// console that asks no login, and a client on loopback, may change
	// them, since a rule reaches every client of every service.
	Faults *fault.Set
	// FaultCheck, if not nil, is called with each rule before it is
	// added to Faults; an error refuses the rule (400), with the error's
	// text: a service that does not consult Faults, say.
	FaultCheck func(fault.Rule) error
	// Login checks a user's password: nil if it is right, an error
	// wrapping store.ErrAuthFailed or web.ErrAuthFailed if it is wrong; any
	// other error makes the request fail with 503. Nil means no login is
	// asked (the console is on loopback): everyone sees everything. Login
	// only checks: the console applies AuthLimiter around it (the wait
	// before, Failed or Succeeded after), and remembers a success for a
	// little while (the same user, password and client address).
	Login func(ctx context.Context, user, pass string) error
	// AuthLimiter slows down password guessing, shared with the other
	// services of the store. Nil means a limiter of the console's own.
	AuthLimiter *lineproto.AuthLimiter
	// Loopback says that the console listens on loopback addresses only:
	// requests for "localhost", "127.0.0.1" and "[::1]", with any port,
	// are then accepted besides Hosts. New sets it when Login is nil (a
	// console without a login is one on loopback).
	Loopback bool
	// Hosts are the names and addresses the console answers to, with or
	// without a port (without, any port matches); a request whose Host is
	// not one of them is refused with 421 (DNS rebinding). The IP address
	// a request arrived on is always accepted as its Host, and the
	// loopback names when Loopback is set.
	Hosts []string
	// Webhooks are the URLs POSTed to at every delivery; none by default.
	Webhooks []string
	// MaxMessageBytes caps a message injected with POST /api/v1/send and an
	// article posted; 0 means 25 MiB.
	MaxMessageBytes int64
	// MaxUploadBytes caps a file uploaded (PUT /api/v1/files/..., the Files
	// page's form); 0 means 10 GiB, as the http service's PUT. Every other
	// request body is capped at 1 MiB.
	MaxUploadBytes int64
	// Logger receives the console's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// A Service is one running server, as the Server page shows it.
type Service struct {
	Name string `json:"name"` // "smtp", "imap", ...
	Addr string `json:"addr"`
	// TLS is "" (none), "starttls" or "implicit".
	TLS   string                  `json:"tls,omitempty"`
	Stats func() sockserver.Stats `json:"-"`
}

// A Server is the console's HTTP handler. Its long requests (the event
// stream, waits) end with their clients or at Close; its webhooks are sent
// while Run runs.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler // mux behind protect
	logins  *loginCache

	mu       sync.Mutex
	isClosed bool
	closed   chan struct{} // closed by Close
	streams  sync.WaitGroup

	// webhookBackoff is the wait before the first retry of a webhook,
	// doubled for each further one; tests shorten it.
	webhookBackoff time.Duration
	// webhookTimeout bounds one attempt of a webhook.
	webhookTimeout time.Duration
	// waitHook, if not nil, is called by a wait with "block" each time it
	// starts waiting for a change and "end" when it returns: tests
	// synchronise on it.
	waitHook func(event string)
	// runHook, if not nil, is called by Run once it hears events.
	runHook func()
}

// New returns the console for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), logins: newLoginCache(),
		closed: make(chan struct{}), webhookBackoff: time.Second, webhookTimeout: webhookTimeout}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.cfg.MaxMessageBytes == 0 {
		s.cfg.MaxMessageBytes = 25 << 20
	}
	if s.cfg.MaxUploadBytes == 0 {
		s.cfg.MaxUploadBytes = defaultMaxUploadBytes
	}
	if s.cfg.AuthLimiter == nil {
		s.cfg.AuthLimiter = lineproto.NewAuthLimiter(0)
	}
	if s.cfg.Login == nil {
		s.cfg.Loopback = true
	}
	s.apiRoutes(s.mux)
	s.uiRoutes(s.mux)
	s.handler = s.protect(s.mux)
	return s
}

// ServeHTTP serves the console: every request passes the guards of
// security.go (Host, login, CSRF, body caps) before it reaches a handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Close ends the console's long requests (event streams, waits for a
// message) and waits for them; an http.Server's Shutdown would otherwise
// wait for their clients (call Close from its RegisterOnShutdown). Long
// requests that arrive later get 503 at once; the others are served as
// usual. Close does not stop Run.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.isClosed {
		s.isClosed = true
		close(s.closed)
	}
	s.mu.Unlock()
	s.streams.Wait()
	return nil
}

// beginLong registers a long request, which must call done when it ends
// and end when s.closed is closed; it returns false once Close is called.
func (s *Server) beginLong() (done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed {
		return nil, false
	}
	s.streams.Add(1)
	return s.streams.Done, true
}
