package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/inetkit/inetkit/store"
	"github.com/inetkit/inetkit/web"
)

// Caps of request bodies (the routes of larger ones are in bodyLimit).
const (
	// maxJSONBytes caps a request body that is not a message, an article
	// or an upload: JSON requests, forms.
	maxJSONBytes = 1 << 20
	// defaultMaxUploadBytes is Config.MaxUploadBytes when it is zero, the
	// http service's cap of a PUT.
	defaultMaxUploadBytes = web.DefaultMaxUploadBytes
)

// loginCacheTTL is how long a successful login is remembered (per user,
// password and client address), so that the requests of one visit check
// the password once and make one login event, not one per request.
const loginCacheTTL = 2 * time.Minute

// loginCacheMax caps the logins remembered.
const loginCacheMax = 1024

// defaultCSP is the Content-Security-Policy of every response whose
// handler sets none: nothing runs, nothing loads, nothing frames it.
const defaultCSP = "default-src 'none'; frame-ancestors 'none'; sandbox"

// protect wraps h in the console's guards, in this order:
//
//  1. Security headers on every response: X-Content-Type-Options nosniff,
//     Referrer-Policy no-referrer, X-Frame-Options DENY and defaultCSP. They
//     are set before h runs, so a handler that sets its own (a page's CSP,
//     the message frame's) replaces them; X-Frame-Options is dropped from a
//     response whose CSP lets someone frame it (frame-ancestors other than
//     'none').
//  2. The Host check (DNS rebinding): the Host header must be one of
//     Config.Hosts (a name with or without a port: without, any port
//     matches), or the IP address the request arrived on, or, when the
//     console listens on loopback (Config.Loopback, or no Login), localhost,
//     127.0.0.1 or [::1] with any port. A page of another name that has
//     rebound its name to the console's address sends its own name, and is
//     refused: 421 Misdirected Request, and a log line.
//  3. The cross-origin check (CSRF): a request other than GET, HEAD and
//     OPTIONS passes when its Sec-Fetch-Site is same-origin or none; without
//     Sec-Fetch-Site, when its Origin's host is the Host, or when it has no
//     Origin (not a browser: curl, scripts). Anything else (a form or fetch
//     from another site, Origin "null") gets 403 and a log line. This is
//     net/http's CrossOriginProtection. Browsers send Sec-Fetch-Site or
//     Origin with every such request; a script cannot forge either. The
//     event stream (GET /api/v1/events) is held to the same rule although
//     it is a GET: a page of another origin may not open it (WebSocket and
//     event-stream origin check).
//  4. The login, when Config.Login is set: HTTP Basic authentication
//     (realm "inetkit") on every request, failures counted in
//     Config.AuthLimiter (its wait comes before the check). The user's
//     address is put in the request's context for userOf.
//  5. A cap on the request body (http.MaxBytesReader; a Content-Length
//     over it gets 413 at once): see bodyLimit.
func (s *Server) protect(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", defaultCSP)
		w = &headerWriter{ResponseWriter: w}

		if !s.hostAllowed(r) {
			s.log.Warn("console: request for an unknown host refused (DNS rebinding?)", "host", r.Host, "path", r.URL.Path, "remote", r.RemoteAddr)
			s.refuse(w, r, http.StatusMisdirectedRequest, "unknown host name: the console answers to its own names only")
			return
		}
		if cop.Check(r) != nil || (r.Method == http.MethodGet && r.URL.Path == "/api/v1/events" && !sameOrigin(r)) {
			s.log.Warn("console: cross-origin request refused", "method", r.Method, "path", r.URL.Path,
				"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "remote", r.RemoteAddr)
			s.refuse(w, r, http.StatusForbidden, "cross-origin request refused")
			return
		}
		if s.cfg.Login != nil {
			user, ok := s.authenticate(w, r)
			if !ok {
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, user))
		}
		limit := s.bodyLimit(r)
		if r.ContentLength > limit {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		h.ServeHTTP(w, r)
	})
}

// bodyLimit returns the cap of r's body: Config.MaxMessageBytes for a
// message sent or an article posted (POST /api/v1/send, POST
// /api/v1/articles), Config.MaxUploadBytes for a file uploaded (PUT
// /api/v1/files/..., and the Files page's form, POST /files/...),
// maxJSONBytes for anything else.
func (s *Server) bodyLimit(r *http.Request) int64 {
	p := r.URL.Path
	switch r.Method {
	case http.MethodPost:
		if p == "/api/v1/send" || p == "/api/v1/articles" {
			return s.cfg.MaxMessageBytes
		}
		if p == "/files" || strings.HasPrefix(p, "/files/") {
			return s.cfg.MaxUploadBytes
		}
	case http.MethodPut:
		if strings.HasPrefix(p, "/api/v1/files/") {
			return s.cfg.MaxUploadBytes
		}
	}
	return maxJSONBytes
}

// refuse answers a request the guards stop: JSON ({"error": msg}) under
// /api/, plain text elsewhere.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeError(w, status, msg)
		return
	}
	http.Error(w, msg, status)
}

// hostAllowed applies the Host check (see protect).
func (s *Server) hostAllowed(r *http.Request) bool {
	host, port := splitHost(r.Host)
	if host == "" {
		return false
	}
	for _, h := range s.cfg.Hosts {
		hh, hp := splitHost(h)
		if hh == host && (hp == "" || hp == port) {
			return true
		}
	}
	if s.cfg.Loopback && (host == "localhost" || host == "127.0.0.1" || host == "::1") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			if ap, err := netip.ParseAddrPort(la.String()); err == nil && ap.Addr().Unmap() == ip.Unmap() {
				return true
			}
		}
	}
	return false
}

// splitHost splits a Host header (or a Config.Hosts entry) into its host,
// lower case, without brackets or a final dot, and its port ("" if none).
func splitHost(hostport string) (host, port string) {
	hostport = strings.ToLower(strings.TrimSpace(hostport))
	host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.TrimSuffix(host, ".")
	return host, port
}

// sameOrigin reports whether a GET comes from the console's own pages, or
// from no browser page at all: Sec-Fetch-Site, when sent, is same-origin or
// none, and Origin, when sent, has the Host as its host.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	_, hostport, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(hostport, r.Host)
}

// authenticate checks the Basic authentication of r and returns the
// user's address, or answers 401 (or 503) and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		s.challenge(w, r, "login required")
		return "", false
	}
	address := normAddress(user)
	remote := remoteAddr(r)
	key := s.logins.key(address, pass, remote)
	if s.logins.ok(key) {
		return address, true
	}
	ctx := r.Context()
	if err := s.cfg.AuthLimiter.Wait(ctx, remote, user); err != nil {
		return "", false // the client is gone
	}
	err := s.cfg.Login(ctx, user, pass)
	switch {
	case err == nil:
		s.cfg.AuthLimiter.Succeeded(remote, user)
		s.logins.add(key)
		return address, true
	case ctx.Err() != nil:
		return "", false
	case errors.Is(err, store.ErrAuthFailed) || errors.Is(err, web.ErrAuthFailed):
		s.cfg.AuthLimiter.Failed(remote, user)
		s.log.Info("console: login failed", "user", user, "remote", r.RemoteAddr)
		s.challenge(w, r, "wrong user name or password")
		return "", false
	default:
		s.log.Error("console: login", "user", user, "err", err)
		s.refuse(w, r, http.StatusServiceUnavailable, "logins are not available now")
		return "", false
	}
}

// challenge answers 401 with the Basic challenge (RFC 7617).
func (s *Server) challenge(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="inetkit", charset="UTF-8"`)
	s.refuse(w, r, http.StatusUnauthorized, msg)
}

// normAddress is a login as the store knows its user: without surrounding
// spaces, lower case.
func normAddress(user string) string {
	user = strings.TrimSpace(user)
	if !utf8.ValidString(user) {
		return user
	}
	return strings.ToLower(user)
}

// remoteAddr returns r's client address for the AuthLimiter.
func remoteAddr(r *http.Request) net.Addr {
	if ap, ok := web.ClientAddr(r.Context()); ok {
		return net.TCPAddrFromAddrPort(ap)
	}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}

// A loginCache remembers recent successful logins by a keyed hash of
// (address, password, client address); it never holds a password.
type loginCache struct {
	mu     sync.Mutex
	secret [32]byte
	until  map[[32]byte]time.Time
}

func newLoginCache() *loginCache {
	c := &loginCache{until: make(map[[32]byte]time.Time)}
	rand.Read(c.secret[:])
	return c
}

func (c *loginCache) key(address, pass string, remote net.Addr) [32]byte {
	m := hmac.New(sha256.New, c.secret[:])
	ip := ""
	if remote != nil {
		ip, _, _ = net.SplitHostPort(remote.String())
	}
	for _, s := range []string{address, pass, ip} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	var k [32]byte
	copy(k[:], m.Sum(nil))
	return k
}

func (c *loginCache) ok(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.until[k]
	if ok && time.Now().After(t) {
		delete(c.until, k)
		return false
	}
	return ok
}

func (c *loginCache) add(k [32]byte) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.until) >= loginCacheMax {
		for k, t := range c.until {
			if now.After(t) || len(c.until) >= loginCacheMax {
				delete(c.until, k)
			}
		}
	}
	c.until[k] = now.Add(loginCacheTTL)
}

type userKey struct{}

// userOf returns the logged-in user of ctx (their address, lower case)
// and whether the user may see every address's mail (true when the console
// asks no login).
func userOf(ctx context.Context) (address string, all bool) {
	a, _ := ctx.Value(userKey{}).(string)
	return a, a == ""
}

// mayAccess reports whether the user of ctx may see and change the mail of
// address.
func mayAccess(ctx context.Context, address string) bool {
	user, all := userOf(ctx)
	return all || strings.EqualFold(user, address)
}

// isAdmin reports whether the user of ctx may change what every user
// shares (delete news articles, every user's mail): only on a console
// without a login.
func isAdmin(ctx context.Context) bool {
	_, all := userOf(ctx)
	return all
}

// A headerWriter is the ResponseWriter of a protected handler: when the
// header is written it drops X-Frame-Options if the handler's CSP lets the
// response be framed (the message frame), as browsers would ignore it.
type headerWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *headerWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		h := w.ResponseWriter.Header()
		if csp := h.Get("Content-Security-Policy"); strings.Contains(csp, "frame-ancestors") && !strings.Contains(csp, "frame-ancestors 'none'") {
			h.Del("X-Frame-Options")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *headerWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what is buffered (Server-Sent Events).
func (w *headerWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// ReadFrom keeps the connection's ReadFrom (sendfile) for io.Copy.
func (w *headerWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
}

// Unwrap lets http.ResponseController (deadlines, web.KeepOpen) reach the
// connection's ResponseWriter.
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
