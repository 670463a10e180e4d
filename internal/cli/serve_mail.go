package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/internal/tlsca"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/store"
)

// mailServices are the services that share the store.
var mailServices = []string{"smtp", "pop3", "imap"}

// mailOptions are the flags of the mail services.
type mailOptions struct {
	data            string
	addr            map[string]*string // service → HOST:PORT (plain listener, STARTTLS)
	tlsAddr         map[string]*string // service → HOST:PORT of the implicit-TLS listener, "" for none
	tlsCert, tlsKey string
	auth            string // auto, any or accounts
	hostname        string
	maxMessageBytes int64
}

var defaultMailAddr = map[string]string{
	"smtp": "127.0.0.1:2525",
	"pop3": "127.0.0.1:1110",
	"imap": "127.0.0.1:1143",
}

func (o *mailOptions) validate() error {
	for _, m := range []map[string]*string{o.addr, o.tlsAddr} {
		for name, a := range m {
			if *a == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(*a); err != nil {
				return usagef("--%s-addr %q: want HOST:PORT", name, *a)
			}
		}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	switch o.auth {
	case "auto", "any", "accounts":
	default:
		return usagef("--auth must be auto, any or accounts, not %q", o.auth)
	}
	return nil
}

// mailEnv is what the mail services of one `inetkit serve` share.
type mailEnv struct {
	store *store.Store
	tls   *tls.Config
}

// listenAddrs returns the addresses the named mail services listen on.
func (o *serveOptions) mailListenAddrs() []string {
	var addrs []string
	for _, name := range o.services {
		if a, ok := o.mail.addr[name]; ok {
			addrs = append(addrs, *a)
			if t := *o.mail.tlsAddr[name]; t != "" {
				addrs = append(addrs, t)
			}
		}
	}
	return addrs
}

// openMail opens the store and the TLS configuration, and decides the login
// policy: any login when every mail listener is on loopback (unless --auth
// accounts), real accounts otherwise.
func (o *serveOptions) openMail(ctx context.Context, log *slog.Logger) (*mailEnv, error) {
	addrs := o.mailListenAddrs()
	allLoopback := true
	var hosts []string
	for _, a := range addrs {
		if !isLoopback(a) {
			allLoopback = false
		}
		if h, _, _ := net.SplitHostPort(a); h != "" && h != "0.0.0.0" && h != "::" {
			hosts = append(hosts, h)
		}
	}
	if !allLoopback {
		if h, err := os.Hostname(); err == nil {
			hosts = append(hosts, h)
		}
	}
	anyLogin := o.mail.auth == "any" || (o.mail.auth == "auto" && allLoopback)
	if anyLogin && !allLoopback {
		return nil, usagef("--auth any is allowed only when every mail listener is on a loopback address")
	}
	st, err := store.Open(o.mail.data, &store.Options{
		Exclusive:    true,
		AnyLogin:     anyLogin,
		MinFreeBytes: o.mail.maxMessageBytes * 3 / 2, // HARDENING C15
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	if !anyLogin {
		ok, err := st.HasAccounts(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("mail listeners on a non-loopback address need accounts: add one with 'inetkit user add --data %s ADDRESS'", o.mail.data)
		}
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	me := &mailEnv{store: st}
	if o.mail.tlsCert != "" {
		me.tls, err = tlsca.LoadFiles(o.mail.tlsCert, o.mail.tlsKey)
	} else {
		var res *tlsca.Result
		res, err = tlsca.Load(filepath.Join(o.mail.data, "tls"), hosts)
		if err == nil {
			me.tls = res.Config
			abs, _ := filepath.Abs(res.CAPath)
			if res.Created {
				log.Info("made a local certificate authority; trust it to verify inetkit's TLS", "ca", abs)
			} else {
				log.Info("TLS certificate from the local certificate authority", "ca", abs)
			}
		}
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	log.Info("mail store", "data", o.mail.data, "logins", map[bool]string{true: "any (loopback only)", false: "accounts"}[anyLogin])
	return me, nil
}

// mailServer is what the three mail servers have in common.
type mailServer interface {
	Serve(net.Listener) error
	ServeTLS(net.Listener) error
	Shutdown(context.Context) error
}

// newMailRunner makes the runner of one mail service: its plain listener
// and, when asked for, its implicit-TLS one.
func (o *serveOptions) newMailRunner(ctx context.Context, name string, me *mailEnv, log *slog.Logger) (runner, error) {
	addr := *o.mail.addr[name]
	tlsAddr := *o.mail.tlsAddr[name]
	insecure := isLoopback(addr) && (tlsAddr == "" || isLoopback(tlsAddr))
	perIP := o.maxConnsPerIP.or(cond(insecure, 0, 30)) // HARDENING C2
	maxConns := cond(o.maxConns == 0, -1, o.maxConns)
	rate := cond(insecure, 0.0, 5.0) // 300 a minute per address: HARDENING C3
	limits := lineproto.Limits{MaxConns: maxConns, MaxConnsPerIP: perIP, MaxConnRatePerIP: rate}
	var srv mailServer
	switch name {
	case "smtp":
		var backend smtp.Backend = me.store.SMTPBackend()
		if n, err := strconv.Atoi(os.Getenv(killAfterDeliveryEnv)); err == nil && n > 0 {
			log.Warn("test hook: the process kills itself after a delivery, before its 250", killAfterDeliveryEnv, n)
			kb := &killAfterDelivery{Backend: backend}
			kb.left.Store(int64(n))
			backend = kb
		}
		srv = &smtp.Server{
			Domain: o.mail.hostname, Backend: backend, TLSConfig: me.tls,
			InsecureAuth: insecure, MaxMessageBytes: o.mail.maxMessageBytes,
			// Off loopback a bare CR or LF in DATA refuses the message
			// (HARDENING S1's recommendation (a)); on loopback it is kept,
			// as sent, for tests of odd clients.
			StrictLineEndings: !insecure,
			Limits:            limits, Logger: log,
		}
	case "pop3":
		srv = &pop3.Server{
			Backend: me.store.POP3Backend(), TLSConfig: me.tls, InsecureAuth: insecure,
			Limits: limits, Logger: log,
		}
	case "imap":
		srv = &imap.Server{
			Backend: me.store.IMAPBackend(), TLSConfig: me.tls, InsecureAuth: insecure,
			Limits: limits, Logger: log,
		}
	}
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return runner{}, fmt.Errorf("%s: %w", name, err)
	}
	ls = append(ls, l)
	log.Info("waiting for clients", "addr", l.Addr().String(), "tls", "starttls")
	if tlsAddr != "" {
		tl, err := lc.Listen(ctx, "tcp", tlsAddr)
		if err != nil {
			closeAll()
			return runner{}, fmt.Errorf("%ss: %w", name, err)
		}
		ls = append(ls, tl)
		log.Info("waiting for clients", "addr", tl.Addr().String(), "tls", "implicit")
	}
	r := runner{
		name: name,
		shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			closeAll()
			return err
		},
	}
	r.serve = func() error {
		errc := make(chan error, len(ls))
		for i, l := range ls {
			go func() {
				if i == 0 {
					errc <- srv.Serve(l)
				} else {
					errc <- srv.ServeTLS(l)
				}
			}()
		}
		var first error
		for range ls {
			if err := <-errc; err != nil && first == nil && !isServerClosed(err) {
				first = err
			}
		}
		return first
	}
	if s, ok := srv.(interface{ Stats() sockserver.Stats }); ok {
		r.stats = func() any { return s.Stats() }
	}
	return r, nil
}

func isServerClosed(err error) bool {
	return errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, pop3.ErrServerClosed) ||
		errors.Is(err, imap.ErrServerClosed) || errors.Is(err, sockserver.ErrServerClosed)
}

// killAfterDeliveryEnv names the test hook of HARDENING X1: set to N, it
// makes the process kill itself (SIGKILL) right after the Nth message is
// durable and before the client is told 250. Only tests set it.
const killAfterDeliveryEnv = "INETKIT_TEST_KILL_AFTER_DELIVERY"

// killAfterDelivery is the smtp.Backend of that hook.
type killAfterDelivery struct {
	smtp.Backend
	left atomic.Int64
}

func (b *killAfterDelivery) Deliver(ctx context.Context, env *smtp.Envelope, msg io.Reader) error {
	err := b.Backend.Deliver(ctx, env, msg)
	if err == nil && b.left.Add(-1) == 0 {
		if p, ferr := os.FindProcess(os.Getpid()); ferr == nil {
			p.Kill()
		}
		select {} // the 250 must not go out before the signal lands
	}
	return err
}
