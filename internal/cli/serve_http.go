package cli

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/store"
	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/web"
	"github.com/inetkit/inetkit/xmlrpc"
)

// httpDefaultAddr is where http listens unless --http-addr says otherwise:
// 80 needs privileges, so 8080, as Python's http.server picks 8000.
const httpDefaultAddr = "127.0.0.1:8080"

// xmlrpcPath is where the XML-RPC server answers: Python's ServerProxy and
// SimpleXMLRPCServer use /RPC2 when a URL names no path.
const xmlrpcPath = "/RPC2"

// httpService is HTTP over the file tree files/ in --data, with the
// XML-RPC server at /RPC2. It is a service of the store (storeService) for
// its logins, its TLS and its login policy, as ftp is: PUT and DELETE need
// Basic authentication with a login of the store, which on loopback is any
// name and password, and off loopback an account, over HTTPS.
//
// The shared timeouts map onto web.Limits: --idle-timeout is IdleTimeout
// (a keep-alive connection waiting for its next request, and every read),
// --command-timeout is ReadHeaderTimeout (a request's header, once begun;
// and the TLS handshake), --write-timeout is WriteTimeout (a write that
// makes no progress). A PUT body has the file server's own bounds (a read
// that waits a minute, an average under 500 bytes/s).
var httpService = service{name: "http", newConfig: func(f *serveFlags) serviceConfig {
	o := &httpOptions{}
	f.BoolVar(&o.h2c, "h2c", false, "http: also speak HTTP/2 with prior knowledge over plain connections (h2c, RFC 9113 §3.3); HTTPS always offers HTTP/2")
	return storeService(storeServiceSpec{
		name: "http", defaultAddr: httpDefaultAddr,
		idleTimeout: web.DefaultIdleTimeout, idleWhy: "how long a keep-alive connection waits for its next request, 1 minute unless given",
		commandTimeout: web.DefaultReadHeaderTimeout, writeTimeout: web.DefaultWriteTimeout,
		newServer: o.newServer,
	}).newConfig(f)
}}

// httpOptions are the flags of the http service of its own.
type httpOptions struct {
	h2c bool
}

// newServer makes the HTTP server: the file server at / and XML-RPC at
// /RPC2, on one mux.
func (o *httpOptions) newServer(c *mailServerConfig) (mailServer, error) {
	root, err := sharedFiles(c.se, c.opts.data)
	if err != nil {
		return nil, err
	}
	auth := &httpAuth{store: c.store, anyLogin: c.anyLogin, limiter: c.authLimiter}
	fileServer := &web.FileServer{FS: root, Auth: auth.login, Logger: c.log}
	var files http.Handler = fileServer
	if !c.insecure {
		files = tlsForLogins(files)
	}
	rpc := xmlrpc.NewServer()
	rpc.Logger = c.log
	if err := rpc.Register("upper", upper.String, "upper(text) returns text upper-cased as Python's str.upper() does: 'straße' gives 'STRASSE'."); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	// Files, below, names every path that is not files'.
	mux.Handle("/", files)
	mux.Handle(xmlrpcPath, rpc)
	writes := "any login (loopback)"
	if !c.anyLogin {
		writes = "accounts" + cond(c.insecure, "", ", over HTTPS only")
	}
	c.log.Info("serving files", "dir", filesDir(c.opts.data), "xmlrpc", xmlrpcPath, "writes", writes)
	l := c.limits
	return &web.Server{
		Handler:   mux,
		TLSConfig: c.tls,
		H2C:       o.h2c,
		// Every path but /RPC2 is the file server's, and tlsForLogins
		// passes a GET or HEAD without credentials to it unchanged.
		Files: func(p string) *web.FileServer {
			if p == xmlrpcPath {
				return nil
			}
			return fileServer
		},
		Limits: web.Limits{
			ReadHeaderTimeout: l.CommandTimeout,
			WriteTimeout:      l.WriteTimeout,
			IdleTimeout:       l.IdleTimeout,
			MaxConns:          l.MaxConns,
			MaxConnsPerIP:     l.MaxConnsPerIP,
			MaxConnRatePerIP:  l.MaxConnRatePerIP,
		},
		Logger: c.log,
		Faults: c.faults,
	}, nil
}

// httpAuth checks the Basic authentication of PUT and DELETE against the
// store: under the any-login policy (every listener on loopback) any name
// and password may write, and no mail user is made for it, as for ftp.
// Otherwise failures count in the AuthLimiter the store's other services
// share, so that guessing over HTTP slows logins everywhere and the
// reverse.
type httpAuth struct {
	store    *store.Store
	anyLogin bool
	limiter  *lineproto.AuthLimiter
}

func (a *httpAuth) login(ctx context.Context, user, pass string) (bool, error) {
	if a.anyLogin {
		return true, nil
	}
	var remote net.Addr
	if ap, ok := web.ClientAddr(ctx); ok {
		remote = net.TCPAddrFromAddrPort(ap)
	}
	if a.limiter != nil {
		if err := a.limiter.Wait(ctx, remote, user); err != nil {
			return false, err
		}
	}
	if _, err := a.store.Authenticate(ctx, user, pass); err != nil {
		if errors.Is(err, store.ErrAuthFailed) {
			if a.limiter != nil {
				a.limiter.Failed(remote, user)
			}
			return false, web.ErrAuthFailed
		}
		return false, err
	}
	if a.limiter != nil {
		a.limiter.Succeeded(remote, user)
	}
	return true, nil
}

// tlsForLogins refuses, with 403 and the reason, a request over plain HTTP
// that carries credentials or writes: off loopback, passwords travel only
// over TLS, as the mail services take them only after STARTTLS.
func tlsForLogins(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil && (r.Header.Get("Authorization") != "" || r.Method == http.MethodPut || r.Method == http.MethodDelete) {
			http.Error(w, "off loopback, logins, PUT and DELETE need HTTPS (inetkit serve --https-addr)", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
