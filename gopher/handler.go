package gopher

import (
	"context"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
)

// A Request is a Gopher request as a Server received it.
type Request struct {
	// Selector is the selector the client sent, as sent: at most
	// MaxSelectorBytes octets, without TAB, CR, LF or NUL.
	Selector string
	// Search is the search string of a type 7 request, after the first
	// TAB; "" means none.
	Search string
	// GopherPlus holds the Gopher+ fields after a second TAB ("+", "$",
	// "!"), which a Gopher0 server ignores; "" means none.
	GopherPlus string
	// Host and Port are what the menus of this server announce for its
	// own items: Server.Host and Server.Port, or by default the address
	// the client connected to.
	Host string
	Port int
	// RemoteAddr is the client's address.
	RemoteAddr net.Addr

	ctx context.Context
}

// NewRequest returns a Request for selector, as a Server would make it for
// a client that connected to host:port, for tests of handlers. A TAB in
// selector separates the search string, and a second one the Gopher+
// fields. This function doesn't perform I/O.
func NewRequest(selector, host string, port int) *Request {
	r := &Request{Host: host, Port: port}
	r.Selector, r.Search, _ = strings.Cut(selector, "\t")
	r.Search, r.GopherPlus, _ = strings.Cut(r.Search, "\t")
	return r
}

// Context returns the request's context: cancelled when the connection
// ends or the server is closed. It is never nil.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// WithContext returns a shallow copy of r with its context changed to ctx,
// which must not be nil.
func (r *Request) WithContext(ctx context.Context) *Request {
	r2 := *r
	r2.ctx = ctx
	return &r2
}

// A ResponseWriter sends the answer to a request. The answer is buffered
// and sent when the handler returns, or when the buffer fills or Flush is
// called; every write to the client has a deadline, the server's
// WriteTimeout. The connection is closed when the handler returns (RFC
// 1436 §2: the server closes the connection after its answer).
type ResponseWriter interface {
	io.Writer
	io.StringWriter
	// Flush sends what is buffered.
	Flush() error
}

// A Handler answers a Gopher request. ServeGopher writes the answer to w
// (a menu with a MenuWriter, a file as it is, or an Error) and returns; w
// and r must not be used after that. The connection is closed when it
// returns. A panic is recovered, logged and closes the connection.
type Handler interface {
	ServeGopher(w ResponseWriter, r *Request)
}

// HandlerFunc is an adapter to allow the use of an ordinary function as a
// Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeGopher calls f(w, r).
func (f HandlerFunc) ServeGopher(w ResponseWriter, r *Request) { f(w, r) }

// Error answers a request with an error: a menu of one error item, msg,
// "3msg\t\terror.host\t1", and the "." line that ends a menu. Control
// characters of msg are replaced by spaces.
func Error(w io.Writer, msg string) {
	io.WriteString(w, errorMenu(msg))
}

func errorMenu(msg string) string {
	return "3" + clean(msg) + "\t\terror.host\t1\r\n.\r\n"
}

// NotFound answers a request with the error "Not found".
func NotFound(w ResponseWriter, r *Request) { Error(w, "Not found") }

// NotFoundHandler returns a Handler that answers every request with the
// error "Not found".
func NotFoundHandler() Handler { return HandlerFunc(NotFound) }

// ServeMux routes requests to handlers by selector, longest pattern first.
// A pattern matches a selector equal to it and every selector under it:
// "/docs" matches "/docs", "/docs/" and "/docs/a.txt" but not "/docsx";
// "/" (or "") matches every selector, the empty one included. A selector
// that no pattern matches gets the error "Not found".
//
// Its zero value is ready to use. A ServeMux is safe for concurrent use.
type ServeMux struct {
	mu       sync.RWMutex
	patterns []string // longest first
	handlers map[string]Handler
}

// NewServeMux returns a new, empty ServeMux.
func NewServeMux() *ServeMux { return new(ServeMux) }

// Handle registers h for pattern. It panics if pattern was registered
// before or h is nil.
func (m *ServeMux) Handle(pattern string, h Handler) {
	if h == nil {
		panic("gopher: nil handler")
	}
	if pattern == "/" {
		pattern = ""
	}
	pattern = strings.TrimSuffix(pattern, "/")
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.handlers[pattern]; ok {
		panic("gopher: multiple registrations for " + pattern)
	}
	if m.handlers == nil {
		m.handlers = make(map[string]Handler)
	}
	m.handlers[pattern] = h
	m.patterns = append(m.patterns, pattern)
	sort.SliceStable(m.patterns, func(i, j int) bool { return len(m.patterns[i]) > len(m.patterns[j]) })
}

// HandleFunc registers f for pattern.
func (m *ServeMux) HandleFunc(pattern string, f func(w ResponseWriter, r *Request)) {
	m.Handle(pattern, HandlerFunc(f))
}

// Handler returns the handler for selector and the pattern that matched,
// or NotFoundHandler and "" if none did. This function doesn't perform
// I/O.
func (m *ServeMux) Handler(selector string) (h Handler, pattern string) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, p := range m.patterns {
		if p == "" || selector == p || strings.HasPrefix(selector, p) && selector[len(p)] == '/' {
			if p == "" {
				return m.handlers[p], "/"
			}
			return m.handlers[p], p
		}
	}
	return NotFoundHandler(), ""
}

// ServeGopher answers r with the handler whose pattern matches its
// selector best.
func (m *ServeMux) ServeGopher(w ResponseWriter, r *Request) {
	h, _ := m.Handler(r.Selector)
	h.ServeGopher(w, r)
}
