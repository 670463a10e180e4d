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
	// Login checks a user's password. Nil means no login is asked (the
	// console is on loopback): everyone sees everything.
	Login func(ctx context.Context, user, pass string) error
	// AuthLimiter slows down password guessing, shared with the other
	// services of the store. Nil means a limiter of the console's own.
	AuthLimiter *lineproto.AuthLimiter
	// Hosts are the names and addresses the console answers to, with or
	// without a port; a request whose Host is not one of them is refused
	// (DNS rebinding). Loopback names and addresses are always accepted
	// when the console listens on loopback.
	Hosts []string
	// Webhooks are the URLs POSTed to at every delivery; none by default.
	Webhooks []string
	// MaxMessageBytes caps a message injected with POST /api/v1/send and an
	// article posted; 0 means 25 MiB.
	MaxMessageBytes int64
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

// A Server is the console's HTTP handler.
type Server struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the console for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.cfg.MaxMessageBytes == 0 {
		s.cfg.MaxMessageBytes = 25 << 20
	}
	if s.cfg.AuthLimiter == nil {
		s.cfg.AuthLimiter = lineproto.NewAuthLimiter(0)
	}
	s.apiRoutes(s.mux)
	s.uiRoutes(s.mux)
	return s
}

// ServeHTTP serves the console: every request passes the guards of
// security.go (Host, login, CSRF, body caps) before it reaches a handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.protect(s.mux).ServeHTTP(w, r)
}
