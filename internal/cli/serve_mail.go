package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/internal/tlsca"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/store"
)

// mailOptions are the flags that the mail services share: the store, TLS,
// the login policy.
type mailOptions struct {
	data            string
	tlsCert, tlsKey string
	auth            string // auto, any or accounts
	hostname        string
	// maxMessageBytes is the one size limit of a message, SMTP's (SIZE)
	// and IMAP APPEND's (APPENDLIMIT), and sizes the free space the store
	// keeps.
	maxMessageBytes int64

	// services are the services over the store (the mail services and
	// ftp), selected or not, whose listeners decide the login policy.
	services []*mailConfig
}

func mailFlags(f *serveFlags) *mailOptions {
	return sharedFlags(f, func(fs *pflag.FlagSet) *mailOptions {
		o := new(mailOptions)
		fs.StringVar(&o.data, "data", defaultDataDir, "data directory: the mail store (whose accounts are the logins of every service), the TLS files, and files/, the file tree of ftp, http and gopher")
		fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate chain for TLS (default: signed by the user's local CA)")
		fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
		fs.StringVar(&o.auth, "auth", "auto", "mail, ftp, http, nntp and telnet logins: any (loopback only), accounts, or auto (any when every mail, ftp, http, nntp and telnet listener is on loopback)")
		fs.StringVar(&o.hostname, "hostname", "localhost", "the host name the mail servers greet with")
		fs.Int64Var(&o.maxMessageBytes, "max-message-bytes", smtp.DefaultMaxMessageBytes, "largest message SMTP and IMAP APPEND take (advertised as SMTP SIZE and IMAP APPENDLIMIT)")
		return o
	})
}

func (o *mailOptions) validate() error {
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	switch o.auth {
	case "auto", "any", "accounts":
	default:
		return usagef("--auth must be auto, any or accounts, not %q", o.auth)
	}
	// IMAP's APPENDLIMIT is a number (RFC 7889), 32 bits (RFC 3501 §9).
	if o.maxMessageBytes < 1 || o.maxMessageBytes > math.MaxUint32 {
		return usagef("--max-message-bytes must be between 1 and %d", uint32(math.MaxUint32))
	}
	return nil
}

// listenAddrs returns the addresses that the selected mail services listen
// on.
func (o *mailOptions) listenAddrs(selected func(name string) bool) []string {
	var addrs []string
	for _, c := range o.services {
		if selected(c.name) {
			addrs = append(addrs, c.addr)
			if c.tlsAddr != "" {
				addrs = append(addrs, c.tlsAddr)
			}
		}
	}
	return addrs
}

// offLoopback names the selected services with a listener off loopback:
// "mail" when they are all mail services, else their names ("ftp",
// "smtp and ftp").
func (o *mailOptions) offLoopback(selected func(name string) bool) string {
	var names []string
	mail := true
	for _, c := range o.services {
		if selected(c.name) && !c.loopback() {
			names = append(names, c.name)
			mail = mail && !slices.Contains(fileServices, c.name)
		}
	}
	if mail || len(names) == 0 {
		return "mail"
	}
	return strings.Join(names, " and ")
}

// fileServices are the services of the store's logins that serve
// something other than mail: the file tree, the newsgroups.
var fileServices = []string{"ftp", "http", "nntp", "telnet"}

// mailEnv is what the mail services of one `inetkit serve` share.
type mailEnv struct {
	store *store.Store
	tls   *tls.Config
	// authLimiter counts failed logins across the mail servers, so that
	// failures over SMTP AUTH slow down POP3 and IMAP logins too.
	authLimiter *lineproto.AuthLimiter
	// anyLogin is the login policy: any login with any password, when
	// every listener of the store's services is on loopback.
	anyLogin bool
	// caPath is the local CA's certificate, "" with --tls-cert.
	caPath string
	// events is the feed of what the services did, for the console.
	events *events.Hub
}

// openMail opens the store and the TLS configuration, and decides the login
// policy: any login when every mail listener is on loopback (unless --auth
// accounts), real accounts otherwise. The store is closed once every
// service has stopped.
func (o *mailOptions) openMail(ctx context.Context, se *serveEnv) (*mailEnv, error) {
	log := se.log
	addrs := o.listenAddrs(se.selected)
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
	anyLogin := o.auth == "any" || (o.auth == "auto" && allLoopback)
	if anyLogin && !allLoopback {
		return nil, usagef("--auth any is allowed only when every mail, ftp, http, nntp and telnet listener is on a loopback address")
	}
	hub := serveEvents(se)
	st, err := store.Open(o.data, &store.Options{
		Events:    hub,
		Exclusive: true,
		AnyLogin:  anyLogin,
		// Room for a message of the largest size, with its indexes.
		MinFreeBytes: o.maxMessageBytes * 3 / 2,
		Logger:       log,
	})
	if err != nil {
		return nil, err
	}
	if !anyLogin {
		ok, err := st.HasAccounts(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("%s listeners on a non-loopback address need accounts: add one with 'inetkit user add --data %s ADDRESS'", o.offLoopback(se.selected), o.data)
		}
		if err != nil {
			st.Close()
			return nil, err
		}
	}
	me := &mailEnv{store: st, authLimiter: lineproto.NewAuthLimiter(time.Second), anyLogin: anyLogin, events: hub}
	me.authLimiter.Observe = func(remote net.Addr, user string, ok bool) {
		e := events.Event{Kind: events.Login, Address: user, OK: &ok}
		if remote != nil {
			e.Remote = remote.String()
		}
		hub.Publish(e)
	}
	if o.tlsCert != "" {
		me.tls, err = tlsca.LoadFiles(o.tlsCert, o.tlsKey)
	} else {
		var res *tlsca.Result
		// The user's CA; for a user with no home directory (a system
		// service), the data directory's own, which clients trust with
		// --data.
		caDir, derr := tlsca.UserDir()
		if derr != nil {
			caDir = filepath.Join(o.data, "tls")
		}
		res, err = tlsca.Load(filepath.Join(o.data, "tls"), caDir, hosts)
		if err == nil {
			me.tls = res.Config
			abs, _ := filepath.Abs(res.CAPath)
			me.caPath = abs
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
	log.Info("mail store", "data", o.data, "logins", map[bool]string{true: "any (loopback only)", false: "accounts"}[anyLogin])
	se.afterStop(func() { st.Close() }) // after every server that uses it
	return me, nil
}

// mailServer is what the mail servers have in common.
type mailServer interface {
	Serve(net.Listener) error
	ServeTLS(net.Listener) error
	Shutdown(context.Context) error
	Stats() sockserver.Stats
}

// mailServerConfig is what a mail service builds its server from.
type mailServerConfig struct {
	*mailEnv
	opts *mailOptions
	// insecure is set when every listener of the service is on loopback:
	// logins without TLS are allowed, and the per-address limits are off.
	insecure bool
	limits   lineproto.Limits
	log      *slog.Logger
	// se is the serve command, for what a service shares beyond the store
	// (ftp's file tree).
	se *serveEnv
	// faults are the fault rules the service consults (faultsFor), nil
	// for none.
	faults *fault.Set
}

// mailService returns the service of a mail server over the shared store:
// it listens on --NAME-addr, defaultAddr unless given, with STARTTLS, and on
// --NAMEs-addr with implicit TLS (RFC 8314) when given. Its idle timeout is
// --NAME-idle-timeout, else --idle-timeout, else idleTimeout, the
// protocol's own, which idleWhy explains in the help. newServer makes the
// server.
func mailService(name, defaultAddr string, idleTimeout time.Duration, idleWhy string, newServer func(*mailServerConfig) (mailServer, error)) service {
	return storeService(storeServiceSpec{
		name: name, defaultAddr: defaultAddr, starttls: true,
		idleTimeout: idleTimeout, idleWhy: idleWhy,
		commandTimeout: lineproto.DefaultCommandTimeout, writeTimeout: lineproto.DefaultWriteTimeout,
		newServer: newServer,
	})
}

// storeServiceSpec describes a service of the store's logins (the mail
// services, ftp and http) for storeService.
type storeServiceSpec struct {
	name, defaultAddr string
	// starttls is set when the plain listener offers STARTTLS (or AUTH
	// TLS); http's offers nothing.
	starttls bool
	// The defaults of the shared timeouts, and why the idle one is so.
	idleTimeout, commandTimeout, writeTimeout time.Duration
	idleWhy                                   string
	newServer                                 func(*mailServerConfig) (mailServer, error)
}

// storeService returns the service that spec describes: mailService's, with
// the kind of plain listener and the timeout defaults of spec.
func storeService(spec storeServiceSpec) service {
	name := spec.name
	return service{name: name, newConfig: func(f *serveFlags) serviceConfig {
		c := &mailConfig{name: name, mail: mailFlags(f), newServer: spec.newServer, plainKind: cond(spec.starttls, "STARTTLS", "plain")}
		c.mail.services = append(c.mail.services, c)
		f.StringVar(&c.addr, name+"-addr", spec.defaultAddr, "HOST:PORT of the "+name+" service"+cond(spec.starttls, " (STARTTLS)", ""))
		f.StringVar(&c.tlsAddr, name+"s-addr", "", "HOST:PORT of an implicit-TLS "+name+"s listener (none when empty)")
		t := timeoutFlags(f)
		idle := t.idle.follow(name, &c.idleTimeout, spec.idleTimeout)
		t.command.follow(name, &c.commandTimeout, spec.commandTimeout)
		t.write.follow(name, &c.writeTimeout, spec.writeTimeout)
		override(f.FlagSet, name+"-idle-timeout", idle, name+"'s idle timeout, over --idle-timeout: "+spec.idleWhy+"; 0: never")
		return c
	}}
}

// mailConfig is a mail service as the command line configures it.
type mailConfig struct {
	name      string
	mail      *mailOptions
	addr      string // plain listener, STARTTLS
	tlsAddr   string // implicit-TLS listener, "" for none
	newServer func(*mailServerConfig) (mailServer, error)
	// plainKind names the plain listener: "STARTTLS", or "plain" for a
	// service without it (http).
	plainKind string
	// The timeouts of lineproto.Limits; 0 is none.
	idleTimeout, commandTimeout, writeTimeout time.Duration
}

var _ serviceConfig = (*mailConfig)(nil)

func (c *mailConfig) validate() error {
	if err := validAddr(c.name+"-addr", c.addr); err != nil {
		return err
	}
	if err := validAddr(c.name+"s-addr", c.tlsAddr); err != nil {
		return err
	}
	return c.mail.validate()
}

// loopback reports whether every listener of the service is on loopback.
func (c *mailConfig) loopback() bool {
	return isLoopback(c.addr) && (c.tlsAddr == "" || isLoopback(c.tlsAddr))
}

// start makes the runner of one mail service: its plain listener and, when
// asked for, its implicit-TLS one.
func (c *mailConfig) start(ctx context.Context, se *serveEnv, log *slog.Logger) (runner, error) {
	me, err := sharedState(se, func() (*mailEnv, error) { return c.mail.openMail(ctx, se) })
	if err != nil {
		return runner{}, err
	}
	o := se.opts
	insecure := c.loopback()
	srv, err := c.newServer(&mailServerConfig{
		mailEnv:  me,
		opts:     c.mail,
		insecure: insecure,
		limits: lineproto.Limits{
			IdleTimeout:    negIfZero(c.idleTimeout),
			CommandTimeout: negIfZero(c.commandTimeout),
			WriteTimeout:   negIfZero(c.writeTimeout),
			MaxConns:       cond(o.maxConns == 0, -1, o.maxConns),
			// Off loopback, 30 connections at once from one address and
			// 300 new ones a minute, as mox allows.
			MaxConnsPerIP:    o.maxConnsPerIP.or(cond(insecure, 0, 30)),
			MaxConnRatePerIP: cond(insecure, 0.0, 5.0),
		},
		log:    log,
		se:     se,
		faults: faultsFor(se, c.name),
	})
	if err != nil {
		return runner{}, fmt.Errorf("%s: %w", c.name, err)
	}
	var ls []*countingListener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	lc := net.ListenConfig{KeepAlive: -1}
	l, err := lc.Listen(ctx, "tcp", c.addr)
	if err != nil {
		return runner{}, fmt.Errorf("%s: %w", c.name, err)
	}
	ls = append(ls, &countingListener{Listener: l, kind: c.plainKind})
	log.Info("waiting for clients", "addr", l.Addr().String(), "tls", cond(c.plainKind == "STARTTLS", "starttls", "none"))
	if c.tlsAddr != "" {
		tl, err := lc.Listen(ctx, "tcp", c.tlsAddr)
		if err != nil {
			closeAll()
			return runner{}, fmt.Errorf("%ss: %w", c.name, err)
		}
		ls = append(ls, &countingListener{Listener: tl, kind: "implicit TLS"})
		log.Info("waiting for clients", "addr", tl.Addr().String(), "tls", "implicit")
	}
	r := runner{
		name: c.name,
		shutdown: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			closeAll()
			return err
		},
		stats: func() any {
			st := mailStats{Stats: srv.Stats()}
			for _, l := range ls {
				st.Listeners = append(st.Listeners, listenerStats{Addr: l.Addr().String(), TLS: l.kind, Accepted: l.accepted.Load()})
			}
			return st
		},
	}
	for _, l := range ls {
		r.listeners = append(r.listeners, listenerInfo{Addr: l.Addr().String(), Kind: l.kind})
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
			if err := <-errc; err != nil && first == nil && !errors.Is(err, sockserver.ErrServerClosed) {
				first = err
			}
		}
		return first
	}
	return r, nil
}

// mailStats are the counters of a mail service at /debug/vars: those of
// its server, which serves its STARTTLS and implicit-TLS listeners alike,
// and the connections each listener accepted.
type mailStats struct {
	sockserver.Stats
	Listeners []listenerStats
}

type listenerStats struct {
	Addr     string
	TLS      string // "STARTTLS" or "implicit TLS"
	Accepted int64
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	kind     string
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}
