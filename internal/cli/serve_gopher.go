package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/upper"
)

// gopherDefaultAddr is where gopher listens unless --gopher-addr says
// otherwise: 70 needs privileges, so 7070.
const gopherDefaultAddr = "127.0.0.1:7070"

// gopherService is Gopher (RFC 1436) over the file tree files/ in --data,
// the one ftp and http serve, with a search item (type 7) that answers with
// the query upper-cased, as the tcp service does. Gopher has no logins, so
// its listener does not take part in the store's login policy.
var gopherService = service{name: "gopher", newConfig: func(f *serveFlags) serviceConfig {
	c := &gopherConfig{mail: mailFlags(f)}
	f.StringVar(&c.addr, "gopher-addr", gopherDefaultAddr, "HOST:PORT of the gopher service")
	f.StringVar(&c.host, "gopher-host", "", "HOST or HOST:PORT that gopher's menus give for its own items, for clients that reach it by another name (default: the host of --gopher-addr, or the address each client connected to when that is 0.0.0.0 or ::)")
	// One request per connection, no commands: no --command-timeout.
	t := timeoutFlags(f)
	t.idle.follow("gopher", &c.idleTimeout, gopher.DefaultRequestTimeout)
	t.write.follow("gopher", &c.writeTimeout, lineproto.DefaultWriteTimeout)
	return c
}}

// gopherConfig is the gopher service as the command line configures it.
type gopherConfig struct {
	mail       *mailOptions // for --data
	addr, host string
	// The request timeout (gopher.Server's IdleTimeout) and the write
	// timeout; 0 is none.
	idleTimeout, writeTimeout time.Duration
}

var _ serviceConfig = (*gopherConfig)(nil)

func (c *gopherConfig) validate() error {
	if err := validAddr("gopher-addr", c.addr); err != nil {
		return err
	}
	if _, _, err := c.announced(0); err != nil {
		return err
	}
	return c.mail.validate()
}

// announced returns the host and port the menus announce for the server
// listening on port: --gopher-host, else the host of --gopher-addr unless
// it is every interface ("": the address each client connected to).
func (c *gopherConfig) announced(port int) (string, int, error) {
	if c.host != "" {
		if h, p, err := net.SplitHostPort(c.host); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return "", 0, usagef("--gopher-host %q: want HOST or HOST:PORT", c.host)
			}
			return h, n, nil
		}
		return c.host, port, nil
	}
	h, _, _ := net.SplitHostPort(c.addr)
	if ip, err := netip.ParseAddr(h); h == "" || (err == nil && ip.IsUnspecified()) {
		return "", port, nil
	}
	return h, port, nil
}

func (c *gopherConfig) start(ctx context.Context, se *serveEnv, log *slog.Logger) (runner, error) {
	root, err := sharedFiles(se, c.mail.data)
	if err != nil {
		return runner{}, fmt.Errorf("gopher: %w", err)
	}
	o := se.opts
	loopback := isLoopback(c.addr)
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(ctx, "tcp", c.addr)
	if err != nil {
		return runner{}, fmt.Errorf("gopher: %w", err)
	}
	host, port, _ := c.announced(l.Addr().(*net.TCPAddr).Port)
	srv := &gopher.Server{
		Handler: gopher.FileServer(root, &gopher.FileServerOptions{
			Search: func(_ context.Context, query string) (string, error) {
				return upper.String(query), nil
			},
			SearchDisplay: "Uppercase (type text: it comes back upper-cased)",
			Description:   "inetkit's gopher service",
			Logger:        log,
		}),
		Host: host,
		Port: port,
		Limits: lineproto.Limits{
			IdleTimeout:  negIfZero(c.idleTimeout),
			WriteTimeout: negIfZero(c.writeTimeout),
			MaxConns:     cond(o.maxConns == 0, -1, o.maxConns),
			// Off loopback, as the mail services.
			MaxConnsPerIP:    o.maxConnsPerIP.or(cond(loopback, 0, 30)),
			MaxConnRatePerIP: cond(loopback, 0.0, 5.0),
		},
		Logger: log,
		Faults: faultSet(se),
	}
	log.Info("serving files", "dir", filesDir(c.mail.data), "search", "/search")
	log.Info("waiting for clients", "addr", l.Addr().String(), "announced", net.JoinHostPort(cond(host == "", "(client's)", host), strconv.Itoa(port)))
	return runner{
		name:  "gopher",
		serve: func() error { return srv.Serve(l) },
		shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			l.Close() // in case Serve never started
			return err
		},
		stats:     func() any { return srv.Stats() },
		listeners: []listenerInfo{{Addr: l.Addr().String(), Kind: "tcp"}},
	}, nil
}
