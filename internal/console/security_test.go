package console

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/web"
)

// testLogin is a Config.Login with two accounts, counting its calls.
type testLogin struct{ calls atomic.Int32 }

func (l *testLogin) check(ctx context.Context, user, pass string) error {
	l.calls.Add(1)
	user = strings.ToLower(user)
	if (user == "alice@example.org" || user == "bob@example.org") && pass == "secret" {
		return nil
	}
	return web.ErrAuthFailed
}

// withLogin makes a console that asks for a login, as off loopback.
func withLogin(l *testLogin, limiter *lineproto.AuthLimiter) func(*Config) {
	return func(c *Config) {
		c.Login = l.check
		c.AuthLimiter = limiter
	}
}

// H12-style row of the brief: DNS rebinding. A page of another name that
// rebinds its name to the console sends its own name as Host.
func TestProtect_host(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) { c.Hosts = []string{"console.example", "other.example:8443"} })
	port := tc.HTTP.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndexByte(port, ':')+1:]
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:" + port, 200},
		{"localhost:" + port, 200},
		{"LOCALHOST", 200},
		{"[::1]:8025", 200},
		{"console.example", 200},
		{"console.example:9999", 200},
		{"Console.Example.", 200},
		{"other.example:8443", 200},
		{"other.example:8444", 421},
		{"evil.example", 421},
		{"evil.example:" + port, 421},
		{"127.0.0.1.evil.example", 421},
		{"localhost.evil.example", 421},
	}
	for _, tc2 := range tests {
		r := tc.api(t, "GET", "/api/v1/services", nil, "Host", tc2.host)
		if r.Status != tc2.want {
			t.Errorf("Host %q: %v; want %d", tc2.host, r, tc2.want)
		}
	}

	// An HTTP/1.0 request without Host.
	req := httptest.NewRequest("GET", "/api/v1/services", nil)
	req.Host = ""
	rec := httptest.NewRecorder()
	tc.Server.ServeHTTP(rec, req)
	if rec.Code != 421 {
		t.Errorf("no Host: %d; want 421", rec.Code)
	}

	// Off loopback (a login asked): loopback names are refused, the
	// address the request arrived on is still accepted.
	tl := &testLogin{}
	tc = newTestConsole(t, withLogin(tl, nil))
	auth := basic("alice@example.org", "secret")
	if r := tc.api(t, "GET", "/api/v1/services", nil, "Authorization", auth, "Host", "localhost"); r.Status != 421 {
		t.Errorf("off loopback, Host localhost: %v; want 421", r)
	}
	if r := tc.api(t, "GET", "/api/v1/services", nil, "Authorization", auth); r.Status != 200 {
		t.Errorf("off loopback, Host = the address: %v; want 200", r)
	}
	if n := tl.calls.Load(); n != 1 {
		t.Errorf("Login called %d times; want 1 (the refused Host is refused before the login)", n)
	}
}

// CSRF: a request that changes state from another site is refused; one
// from the console's own pages, and one from no browser (curl), pass.
func TestProtect_crossOrigin(t *testing.T) {
	tc := newTestConsole(t, nil)
	own := tc.HTTP.URL
	tests := []struct {
		name   string
		header []string
		want   int
	}{
		{"curl: no Origin, no Sec-Fetch-Site", nil, 201},
		{"same origin", []string{"Origin", own}, 201},
		{"same origin, fetch metadata", []string{"Origin", own, "Sec-Fetch-Site", "same-origin"}, 201},
		{"Origin null, same-origin (Referrer-Policy no-referrer)", []string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, 201},
		{"typed in the address bar", []string{"Sec-Fetch-Site", "none"}, 201},
		{"cross-site form", []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site, old browser", []string{"Origin", "http://evil.example"}, 403},
		{"same site, other port", []string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site"}, 403},
		{"Origin null", []string{"Origin", "null"}, 403},
		{"sandboxed frame", []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}, 403},
	}
	for _, tt := range tests {
		r := tc.api(t, "PUT", "/api/v1/files/csrf.txt", "x", tt.header...)
		if r.Status != tt.want {
			t.Errorf("%s: PUT = %v; want %d", tt.name, r, tt.want)
		}
	}
	// A cross-site GET is no change: it passes (and cannot read the reply:
	// no CORS).
	if r := tc.api(t, "GET", "/api/v1/files/csrf.txt", nil, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.Status != 200 {
		t.Errorf("cross-site GET: %v; want 200", r)
	}
	// A cross-site form post to a page of the UI is refused too.
	req := tc.apiRequest(t, "POST", "/mail/delete", "all=1", "Origin", "http://evil.example", "Content-Type", "application/x-www-form-urlencoded")
	if r := tc.apiDo(t, req); r.Status != 403 {
		t.Errorf("cross-site form POST /mail/delete: %v; want 403", r)
	}
}

// H11: the event stream checks its origin although it is a GET.
func TestProtect_eventsOrigin(t *testing.T) {
	tc := newTestConsole(t, nil)
	for _, h := range [][]string{
		{"Origin", "http://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "null"},
	} {
		if r := tc.api(t, "GET", "/api/v1/events", nil, h...); r.Status != 403 {
			t.Errorf("GET /api/v1/events with %q: %v; want 403", h, r)
		}
	}
	req := tc.apiRequest(t, "GET", "/api/v1/events", nil, "Origin", tc.HTTP.URL, "Sec-Fetch-Site", "same-origin")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := tc.HTTP.Client().Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("same-origin GET /api/v1/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "retry:") {
		t.Errorf("first line %q, %v", line, err)
	}
}

func TestProtect_login(t *testing.T) {
	tl := &testLogin{}
	limiter := &lineproto.AuthLimiter{Base: 20 * time.Millisecond, Max: 20 * time.Millisecond, FreeFailures: 2}
	var observed atomic.Int32
	limiter.Observe = func(_ net.Addr, _ string, _ bool) { observed.Add(1) }
	tc := newTestConsole(t, withLogin(tl, limiter))

	r := tc.api(t, "GET", "/api/v1/services", nil)
	if r.Status != 401 || r.Header.Get("WWW-Authenticate") != `Basic realm="inetkit", charset="UTF-8"` {
		t.Errorf("no credentials: %v, WWW-Authenticate %q; want 401 and the challenge", r, r.Header.Get("WWW-Authenticate"))
	}
	for range 3 {
		if r := tc.api(t, "GET", "/api/v1/services", nil, "Authorization", basic("alice@example.org", "wrong")); r.Status != 401 {
			t.Errorf("wrong password: %v; want 401", r)
		}
	}
	if d := limiter.Delay(nil, "alice@example.org"); d == 0 {
		t.Error("after 3 failures, the limiter asks no wait; the failures were not counted")
	}
	start := time.Now()
	r = tc.api(t, "GET", "/api/v1/services", nil, "Authorization", basic("Alice@Example.org", "secret"))
	if r.Status != 200 {
		t.Fatalf("right password: %v; want 200", r)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Error("the right password after failures did not wait for the limiter")
	}
	if d := limiter.Delay(nil, "alice@example.org"); d != 0 {
		t.Errorf("after a success, Delay = %v; want 0", d)
	}
	calls := tl.calls.Load()
	for range 3 {
		tc.apiOK(t, 200, "GET", "/api/v1/services", nil, nil, "Authorization", basic("alice@example.org", "secret"))
	}
	if n := tl.calls.Load() - calls; n != 0 {
		t.Errorf("3 more requests with the same login called Login %d times; want 0 (remembered)", n)
	}
	if n := observed.Load(); n != 4 {
		t.Errorf("limiter observed %d outcomes; want 4 (3 failures, 1 success)", n)
	}
	// Another user is checked.
	if r := tc.api(t, "GET", "/api/v1/services", nil, "Authorization", basic("bob@example.org", "secret")); r.Status != 200 || tl.calls.Load()-calls != 1 {
		t.Errorf("bob: %v, Login called %d times; want 200, once", r, tl.calls.Load()-calls)
	}
}

// H8: every route, with a 16 MB body, gets 413.
func TestProtect_bodyCaps(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) { c.MaxMessageBytes = 1 << 20; c.MaxUploadBytes = 2 << 20 })
	big := strings.Repeat("a", 16<<20)
	for _, rt := range apiRouteTable {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{id}", "1", "{part...}", "1", "{path...}", "f.txt").Replace(path)
		if r := tc.api(t, method, path, big); r.Status != 413 {
			t.Errorf("%s %s with 16 MB: %v; want 413", method, path, r)
		}
		if r := tc.api(t, "POST", path, big); r.Status != 413 {
			t.Errorf("POST %s with 16 MB: %v; want 413", path, r)
		}
	}
	for _, path := range []string{"/mail", "/mail/delete", "/files", "/news", "/"} {
		if r := tc.api(t, "POST", path, big); r.Status != 413 {
			t.Errorf("POST %s with 16 MB: %v; want 413", path, r)
		}
	}
	// A body without Content-Length is cut where it passes the cap.
	chunked := func(n int) *http.Request {
		req := tc.apiRequest(t, "PUT", "/api/v1/files/big.bin", nil)
		req.Body = http.NoBody
		req.Body = &slowBody{n: n}
		req.ContentLength = -1
		return req
	}
	if r := tc.apiDo(t, chunked(3<<20)); r.Status != 413 {
		t.Errorf("chunked PUT of 3 MiB, cap 2 MiB: %v; want 413", r)
	}
	if r := tc.apiDo(t, chunked(1<<20)); r.Status != 201 {
		t.Errorf("chunked PUT of 1 MiB, cap 2 MiB: %v; want 201", r)
	}
	if _, err := tc.Files.Stat("big.bin"); err != nil {
		t.Errorf("the upload under the cap: %v", err)
	}
	req := tc.apiRequest(t, "PUT", "/api/v1/messages/read", nil, "Content-Type", "application/json")
	req.Body, req.ContentLength = &slowBody{n: 2 << 20, fill: ' '}, -1
	if r := tc.apiDo(t, req); r.Status != 413 {
		t.Errorf("chunked JSON of 2 MiB: %v; want 413", r)
	}
}

// slowBody is n bytes of fill ('a' if zero) without a known length.
type slowBody struct {
	n    int
	fill byte
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.n)
	c := b.fill
	if c == 0 {
		c = 'a'
	}
	for i := range p[:n] {
		p[i] = c
	}
	b.n -= n
	return n, nil
}

func (b *slowBody) Close() error { return nil }

func TestProtect_headers(t *testing.T) {
	tc := newTestConsole(t, nil)
	r := tc.api(t, "GET", "/api/v1/services", nil)
	for k, v := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": defaultCSP,
	} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s = %q; want %q", k, got, v)
		}
	}
	// A handler's own CSP stays; one that lets the console frame the
	// response (the message frame) drops X-Frame-Options.
	h := tc.Server.protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
		w.Header().Set("Referrer-Policy", "same-origin")
		w.Write([]byte("<p>frame</p>"))
	}))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://127.0.0.1/mail/1/html", nil)
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'self'" {
		t.Errorf("handler's CSP replaced: %q", got)
	}
	if got := rec.Header().Get("X-Frame-Options"); got != "" {
		t.Errorf("X-Frame-Options = %q beside frame-ancestors 'self'; want none", got)
	}
	if got := rec.Header().Get("Referrer-Policy"); got != "same-origin" {
		t.Errorf("handler's Referrer-Policy replaced: %q", got)
	}
}
