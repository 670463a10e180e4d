package cli

import (
	"context"
	"io"
	"net/http"
	"os"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/internal/console"
	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/web"
)

// webDefaultAddr is where the console listens unless --web-addr says
// otherwise: 8025, the port of the web consoles of test mail servers
// (MailHog, Mailpit), which their users know.
const webDefaultAddr = "127.0.0.1:8025"

// webService is the console: a web UI and a REST API (/api/v1) over what
// the store and the file tree hold, the running services and a live feed of
// their events. It is a service of the store (storeService) for its logins,
// its TLS and its login policy: on loopback it asks no login and shows
// everything; elsewhere a user logs in with an account (Basic auth, over
// HTTPS: --webs-addr) and sees only their own mail.
var webService = service{name: "web", newConfig: func(f *serveFlags) serviceConfig {
	o := &webOptions{}
	f.StringArrayVar(&o.webhooks, "webhook", nil, "web: a URL to POST each delivered message to, as JSON (repeatable; none by default)")
	f.StringArrayVar(&o.hosts, "web-host", nil, "web: a host name the console answers to besides its listening address, for a proxy or a DNS name (repeatable)")
	return storeService(storeServiceSpec{
		name: "web", defaultAddr: webDefaultAddr,
		idleTimeout: web.DefaultIdleTimeout, idleWhy: "how long a keep-alive connection waits for its next request, 1 minute unless given",
		commandTimeout: web.DefaultReadHeaderTimeout, writeTimeout: web.DefaultWriteTimeout,
		newServer: o.newServer,
	}).newConfig(f)
}}

// webOptions are the flags of the web service of its own.
type webOptions struct {
	webhooks []string
	hosts    []string
}

// newServer makes the console's server.
func (o *webOptions) newServer(c *mailServerConfig) (mailServer, error) {
	files, err := sharedFiles(c.se, c.opts.data)
	if err != nil {
		return nil, err
	}
	cfg := console.Config{
		Store:           c.store,
		Files:           files,
		Events:          c.events,
		Services:        c.se.consoleServices,
		AuthLimiter:     c.authLimiter,
		Faults:          faultSet(c.se),
		FaultCheck:      consoleFaultCheck(c.se),
		Hosts:           o.hosts,
		Webhooks:        o.webhooks,
		MaxMessageBytes: c.opts.maxMessageBytes,
		Logger:          c.log,
	}
	if c.caPath != "" {
		if cfg.CACert, err = os.ReadFile(c.caPath); err != nil {
			return nil, err
		}
	}
	if !c.anyLogin {
		// Only the check: the console applies the AuthLimiter around it.
		cfg.Login = func(ctx context.Context, user, pass string) error {
			_, err := c.store.Authenticate(ctx, user, pass)
			return err
		}
	}
	cfg.Loopback = c.insecure
	l := c.limits
	c.log.Info("console", "logins", cond(c.anyLogin, "none (loopback)", "accounts"+cond(c.insecure, "", ", over HTTPS only")), "webhooks", len(o.webhooks))
	cs := console.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		cs.Run(ctx)
	}()
	var h http.Handler = cs
	if !c.insecure {
		// Every request off loopback carries a password.
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil {
				http.Error(w, "off loopback, the console is served over HTTPS only (inetkit serve --webs-addr)", http.StatusForbidden)
				return
			}
			cs.ServeHTTP(w, r)
		})
	}
	return &consoleServer{console: cs, stopHooks: func() { cancel(); <-hooksDone }, Server: &web.Server{
		Handler:   h,
		TLSConfig: c.tls,
		Limits: web.Limits{
			ReadHeaderTimeout: l.CommandTimeout,
			WriteTimeout:      l.WriteTimeout,
			IdleTimeout:       l.IdleTimeout,
			MaxConns:          l.MaxConns,
			MaxConnsPerIP:     l.MaxConnsPerIP,
			MaxConnRatePerIP:  l.MaxConnRatePerIP,
		},
		Logger: c.log,
	}}, nil
}

// consoleServer is the console's web.Server, which ends the console's long
// requests (event streams, waits) when it shuts down, and its webhooks once
// it has.
type consoleServer struct {
	*web.Server
	console   *console.Server
	stopHooks func()
}

func (s *consoleServer) Shutdown(ctx context.Context) error {
	s.console.Close()
	err := s.Server.Shutdown(ctx)
	s.stopHooks()
	return err
}

// serveEvents returns the feed of events of the serve command, made by the
// first service that asks for it.
func serveEvents(se *serveEnv) *events.Hub {
	hub, _ := sharedState(se, func() (*events.Hub, error) { return new(events.Hub), nil })
	return hub
}

// eventFiles is the file tree of the serve command, which reports every
// upload (ftp STOR, http PUT, the console's) to the feed of events.
type eventFiles struct {
	*fileroot.Root
	hub *events.Hub
}

func (f *eventFiles) Create(name string) (fileroot.Upload, error) {
	u, err := f.Root.Create(name)
	if err != nil {
		return nil, err
	}
	return &eventUpload{Upload: u, name: name, hub: f.hub}, nil
}

// eventUpload publishes an Upload event when its Close succeeds.
type eventUpload struct {
	fileroot.Upload
	name string
	hub  *events.Hub
	n    int64
}

func (u *eventUpload) Write(p []byte) (int, error) {
	n, err := u.Upload.Write(p)
	u.n += int64(n)
	return n, err
}

// ReadFrom keeps the Upload's own ReadFrom (sendfile and splice paths) when
// it has one.
func (u *eventUpload) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	var err error
	if rf, ok := u.Upload.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(u.Upload, r)
	}
	u.n += n
	return n, err
}

func (u *eventUpload) Close() error {
	err := u.Upload.Close()
	if err == nil {
		u.hub.Publish(events.Event{Kind: events.Upload, Path: "/" + u.name, Size: u.n})
	}
	return err
}

// consoleServices lists the running services for the console's Server
// page: one row per listener.
func (se *serveEnv) consoleServices() []console.Service {
	var list []console.Service
	for _, r := range se.runners {
		stats := runnerStats(r)
		for _, l := range r.listeners {
			tls := ""
			switch l.Kind {
			case "STARTTLS":
				tls = "starttls"
			case "implicit TLS":
				tls = "implicit"
			}
			list = append(list, console.Service{Name: r.name, Addr: l.Addr, TLS: tls, Stats: stats})
		}
	}
	return list
}

// runnerStats returns r's counters as sockserver.Stats: a datagram
// service's packets count as its connections.
func runnerStats(r runner) func() sockserver.Stats {
	if r.stats == nil {
		return nil
	}
	return func() sockserver.Stats {
		switch st := r.stats().(type) {
		case sockserver.Stats:
			return st
		case mailStats:
			return st.Stats
		case sockserver.PacketStats:
			return sockserver.Stats{Accepted: st.Packets, BytesRead: st.BytesRead, BytesWritten: st.BytesWritten, Errors: st.Errors, Panics: st.Panics}
		}
		return sockserver.Stats{}
	}
}
