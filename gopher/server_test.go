package gopher_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/internal/prototest"
)

func TestServer_rootMenu(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	p := port(t, s.Addr)
	// The empty selector, "/" and a bare LF all ask for the root menu.
	for _, req := range []string{"\r\n", "/\r\n", "\n"} {
		c := dial(t, s.Addr)
		prototest.Client(t, c, fmt.Sprintf(`
C: %s
S: 1docs	/docs	127.0.0.1	%[2]d
S: 1mapped	/mapped	127.0.0.1	%[2]d
S: 0hello.txt	/hello.txt	127.0.0.1	%[2]d
S: 0inside.txt	/inside.txt	127.0.0.1	%[2]d
S: .
`, strings.TrimRight(req, "\r\n"), p))
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Errorf("after the menu: %q, %v; want EOF", b, err)
		}
	}
}

func TestServer_itemTypes(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	p := port(t, s.Addr)
	got := menuLines(t, exchange(t, s.Addr, "/docs\r\n"))
	var want []string
	for _, it := range []struct {
		typ  byte
		name string
	}{
		{'1', "sub"}, {'0', "a.txt"}, {'5', "arch.tar.gz"}, {'9', "data"}, {'4', "mac.hqx"},
		{'0', "notes"}, {'h', "page.html"}, {'I', "photo.jpg"}, {'g', "pic.gif"}, {'g', "sniffed"},
		{'s', "tune.mp3"},
	} {
		want = append(want, fmt.Sprintf("%c%s\t/docs/%[2]s\t127.0.0.1\t%d", it.typ, it.name, p))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("menu of /docs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A folder's selector with a trailing slash, or without the leading
	// one, is the same folder.
	for _, sel := range []string{"/docs/", "docs"} {
		if got2 := menuLines(t, exchange(t, s.Addr, sel+"\r\n")); strings.Join(got2, "\n") != strings.Join(want, "\n") {
			t.Errorf("menu of %q differs from that of /docs: %q", sel, got2)
		}
	}
}

func TestServer_files(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	for _, tc := range []struct{ sel, want string }{
		{"/hello.txt", helloText}, // as it is: no dot-stuffing, no "." line
		{"hello.txt", helloText},
		{"/docs/data", "\x00\x01\x02"},
		{"/docs/sub/deep.txt", "deep\n"},
		{"/inside.txt", "a\n"}, // a symbolic link inside the root
	} {
		if got := exchange(t, s.Addr, tc.sel+"\r\n"); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.sel, got, tc.want)
		}
	}
}

func TestServer_gophermap(t *testing.T) {
	root := newTree(t)
	writeFile(t, root, "mapped/gophermap", strings.Join([]string{
		"!Mapped folder",
		"# a comment",
		"Plain info line",
		"",
		"1Relative\tsub",
		"0Absolute\t/hello.txt",
		"1External\t/\tgopher.floodgap.com\t70",
		"1External, no port\t/x\texample.org",
		"1External, relative\tsub/\texample.org\t7070",
		"hWeb\tURL:https://example.org/",
		"0one.txt\t",
		"iInfo with\ttab",
		"3An error\tx",
		"0Bad\x00selector\ta\x00b",
		"\tno type",
		"-hidden.txt",
		":png=g",
		"=/usr/bin/uptime",
		"~",
		"*",
		"0After the star\tnever",
	}, "\r\n"))
	s := newServer(t, gopher.FileServer(root, nil))
	p := port(t, s.Addr)
	want := strings.ReplaceAll(`iMapped folder		HOST
iPlain info line		HOST
i		HOST
1Relative	/mapped/sub	HOST
0Absolute	/hello.txt	HOST
1External	/	gopher.floodgap.com	70
1External, no port	/x	example.org	70
1External, relative	sub/	example.org	7070
hWeb	URL:https://example.org/	HOST
0one.txt	/mapped/one.txt	HOST
iInfo with		HOST
3An error		error.host	1
0one.txt	/mapped/one.txt	HOST
0two.txt	/mapped/two.txt	HOST`, "HOST", fmt.Sprintf("127.0.0.1\t%d", p))
	got := strings.Join(menuLines(t, exchange(t, s.Addr, "/mapped\r\n")), "\n")
	if got != want {
		t.Errorf("menu from the gophermap:\n%s\nwant:\n%s", got, want)
	}

	// "." ends the map; an empty map is an empty menu.
	writeFile(t, root, "mapped/gophermap", "One\r\n.\r\nTwo\r\n")
	if got := exchange(t, s.Addr, "/mapped\r\n"); got != fmt.Sprintf("iOne\t\t127.0.0.1\t%d\r\n.\r\n", p) {
		t.Errorf("map ended by \".\": %q", got)
	}
	writeFile(t, root, "mapped/gophermap", "")
	if got := exchange(t, s.Addr, "/mapped\r\n"); got != ".\r\n" {
		t.Errorf("empty map: %q", got)
	}
	// The gophermap itself is not served.
	if got := exchange(t, s.Addr, "/mapped/gophermap\r\n"); !isErrorItem(got) {
		t.Errorf("/mapped/gophermap: %q, want an error item", got)
	}
}

func TestServer_caps(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), &gopher.FileServerOptions{Description: "test\tserver", Admin: "root@localhost"}))
	for _, sel := range []string{"caps.txt", "/caps.txt"} {
		got := exchange(t, s.Addr, sel+"\r\n")
		for _, want := range []string{"CAPS\r\n", "CapsVersion=1\r\n", "PathDelimeter=/\r\n", "ServerDescription=test server\r\n", "ServerAdmin=root@localhost\r\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("%s lacks %q:\n%s", sel, want, got)
			}
		}
		if !strings.HasPrefix(got, "CAPS") {
			t.Errorf("%s does not start with CAPS: %q", sel, got)
		}
	}
}

func TestServer_search(t *testing.T) {
	upper := func(_ context.Context, q string) (string, error) {
		if q == "fail" {
			return "", errors.New("backend down")
		}
		return strings.ReplaceAll(strings.ToUpper(q), "ß", "SS") + "\nsecond line", nil
	}
	s := newServer(t, gopher.FileServer(newTree(t), &gopher.FileServerOptions{Search: upper}))
	p := port(t, s.Addr)
	root := menuLines(t, exchange(t, s.Addr, "\r\n"))
	if want := fmt.Sprintf("7Search\t/search\t127.0.0.1\t%d", p); root[0] != want {
		t.Errorf("first item of the root menu: %q, want %q", root[0], want)
	}
	c := dial(t, s.Addr)
	prototest.Client(t, c, fmt.Sprintf(`
C: /search	straße
S: iSTRASSE		127.0.0.1	%[1]d
S: isecond line		127.0.0.1	%[1]d
S: .
`, p))
	for _, req := range []string{"/search\r\n", "/search\tfail\r\n"} {
		if got := exchange(t, s.Addr, req); !isErrorItem(got) {
			t.Errorf("%q: %q, want an error item", req, got)
		}
	}
	// Without the option there is no search item and /search is a file name.
	s2 := newServer(t, gopher.FileServer(newTree(t), nil))
	if got := exchange(t, s2.Addr, "/search\tx\r\n"); !isErrorItem(got) {
		t.Errorf("/search without the option: %q, want not found", got)
	}
}

func TestServer_webLink(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	got := exchange(t, s.Addr, "URL:https://example.org/?a=1&b=\"<x>\"\r\n")
	if !strings.Contains(got, `<a href="https://example.org/?a=1&amp;b=&#34;&lt;x&gt;&#34;">`) || strings.Contains(got, "<x>") {
		t.Errorf("web link page not escaped as expected:\n%s", got)
	}
	if got := exchange(t, s.Addr, "URL:javascript:alert(1)\r\n"); !isErrorItem(got) {
		t.Errorf("URL:javascript: %q, want an error item", got)
	}
}

// TestServer_hardening covers HARDENING B9 O1, O2, O4, O6 and O7.
func TestServer_hardening(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	for _, tc := range []struct {
		name, req string
	}{
		{"O1 relative traversal", "../../etc/passwd\r\n"},
		{"O1 absolute traversal", "/../../etc/passwd\r\n"},
		{"O1 backslashes", "..\\..\\etc\\passwd\r\n"},
		{"O1 percent-encoded, taken literally", "%2e%2e/etc/passwd\r\n"},
		{"O1 dot element", "/docs/./a.txt\r\n"},
		{"O1 traversal to the outside file", "/../secret.txt\r\n"},
		{"O2 symlink out of the root", "/escape.txt\r\n"},
		{"O2 symlinked folder out of the root", "/escapedir/secret.txt\r\n"},
		{"O4 256-octet selector", "/" + strings.Repeat("a", 255) + "\r\n"},
		{"O4 10 KB selector", strings.Repeat("a", 10<<10) + "\r\n"},
		{"O7 NUL", "a\x00b\r\n"},
		{"O7 NUL in a file name", "/hello.txt\x00.gif\r\n"},
		{"CR inside the selector", "/hello.txt\rx\r\n"},
		{"dotfile", "/.hidden\r\n"},
		{"dotfile in a folder", "/docs/.secret\r\n"},
		{"not found", "/nope\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := exchange(t, s.Addr, tc.req)
			if !isErrorItem(got) {
				t.Errorf("%q: %q, want one error item", tc.req, got)
			}
			if strings.Contains(got, marker) || strings.Contains(got, "root:") {
				t.Errorf("%q: content from outside the root: %q", tc.req, got)
			}
		})
	}
	// A 255-octet selector is allowed (and not found).
	if got := exchange(t, s.Addr, "/"+strings.Repeat("a", 254)+"\r\n"); !strings.HasPrefix(got, "3Not found") {
		t.Errorf("255-octet selector: %q, want not found", got)
	}
	// O6: Gopher+ fields and a search string on an item that is not a
	// search are ignored.
	for _, req := range []string{"/docs\t$\r\n", "/docs\t+\r\n", "/docs\tquery\r\n", "/docs\tquery\t+\r\n"} {
		got := exchange(t, s.Addr, req)
		if !strings.HasPrefix(got, "1sub\t/docs/sub\t") {
			t.Errorf("%q: %q, want the menu of /docs", req, got)
		}
	}
	if got := exchange(t, s.Addr, "/hello.txt\tquery\r\n"); got != helloText {
		t.Errorf("file with a search string: %q", got)
	}
}

// TestServer_menuInjection covers HARDENING B9 O3: file names holding TAB,
// CR, LF or escape sequences never make menu lines of their own.
func TestServer_menuInjection(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	p := port(t, s.Addr)
	for _, sel := range []string{"", "/docs", "/docs/sub", "/mapped"} {
		menu := exchange(t, s.Addr, sel+"\r\n")
		for _, l := range menuLines(t, menu) {
			f := strings.Split(l, "\t")
			if len(f) != 4 {
				t.Errorf("%q: menu line with %d fields: %q", sel, len(f), l)
				continue
			}
			if f[2] != "127.0.0.1" || f[3] != fmt.Sprint(p) {
				t.Errorf("%q: menu line for another server: %q", sel, l)
			}
			if strings.Contains(l, "evil") || strings.Contains(l, "\x1b") {
				t.Errorf("%q: menu line from a hostile name: %q", sel, l)
			}
		}
		items, err := gopher.ParseMenu(strings.NewReader(menu))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if it.Host != "127.0.0.1" {
				t.Errorf("%q: item for host %q", sel, it.Host)
			}
		}
	}
}

// TestServer_http covers HARDENING G6: an HTTP request is closed without
// an answer, its text never echoed.
func TestServer_http(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST / HTTP/1.1\r\n",
		"CONNECT x:25 HTTP/1.1\r\n",
	} {
		start := time.Now()
		if got := exchange(t, s.Addr, req); got != "" {
			t.Errorf("%q: answered %q", req, got)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("%q: closed after %v", req, d)
		}
	}
}

// TestServer_requestTimeout covers HARDENING B9 O5 and B0 G2/G3: a request
// that does not arrive whole within the request timeout, however its octets
// are paced, is closed.
func TestServer_requestTimeout(t *testing.T) {
	const timeout = 500 * time.Millisecond
	s := newServer(t, gopher.FileServer(newTree(t), nil), func(s *gopher.Server) { s.IdleTimeout = timeout })
	for _, tc := range []struct {
		name string
		send func(c net.Conn)
	}{
		{"silent", func(net.Conn) {}},
		{"no CRLF", func(c net.Conn) { io.WriteString(c, "abc") }},
		{"one octet at a time", func(c net.Conn) {
			for i := 0; i < 20; i++ {
				if _, err := io.WriteString(c, "a"); err != nil {
					return
				}
				time.Sleep(timeout / 5)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.Addr)
			start := time.Now()
			go tc.send(c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c)
			d := time.Since(start)
			if len(b) != 0 || err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				t.Errorf("got %q, %v; want EOF", b, err)
			}
			if d < timeout-50*time.Millisecond || d > timeout+time.Second {
				t.Errorf("closed after %v; want about %v", d, timeout)
			}
		})
	}
}

// TestServer_connLimits covers HARDENING B0 G10: past MaxConnsPerIP, a
// connection gets an error item and is closed; the server goes on.
func TestServer_connLimits(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil), func(s *gopher.Server) { s.MaxConnsPerIP = 2 })
	var held []net.Conn
	for range 2 {
		c := dial(t, s.Addr)
		held = append(held, c)
	}
	// Wait until the server holds both: the next one is refused.
	deadline := time.Now().Add(5 * time.Second)
	for s.Config.Stats().Active < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	// The server closes at once, with the request unread: the answer may
	// come with a reset.
	c := dial(t, s.Addr)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "/hello.txt\r\n")
	b, _ := io.ReadAll(c)
	if got := string(b); !isErrorItem(got) || !strings.Contains(got, "Too many connections") {
		t.Errorf("third connection: %q, want a busy error item", got)
	}
	for _, c := range held {
		c.Close()
	}
	for s.Config.Stats().Active > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := exchange(t, s.Addr, "/hello.txt\r\n"); got != helloText {
		t.Errorf("after the others closed: %q", got)
	}
}

// TestServer_many serves many clients at once, each one request.
func TestServer_many(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			c, err := net.Dial("tcp", s.Addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "/hello.txt\r\n")
			b, err := io.ReadAll(c)
			if err != nil || string(b) != helloText {
				errs <- fmt.Errorf("got %q, %v", b, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestServer_Shutdown(t *testing.T) {
	s := newServer(t, gopher.HandlerFunc(func(w gopher.ResponseWriter, r *gopher.Request) {
		io.WriteString(w, "answer")
	}))
	idle := dial(t, s.Addr)
	deadline := time.Now().Add(5 * time.Second)
	for s.Config.Stats().Active < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Config.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(idle); len(b) != 0 || err != nil {
		t.Errorf("idle connection after Shutdown: %q, %v; want EOF", b, err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		t.Error("the listener still accepts after Shutdown")
	}
}

func TestServer_panic(t *testing.T) {
	var log prototest.Buffer
	s := newServer(t, gopher.HandlerFunc(func(w gopher.ResponseWriter, r *gopher.Request) {
		if r.Selector == "panic" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	}), func(s *gopher.Server) { s.Logger = slogTo(&log) })
	if got := exchange(t, s.Addr, "panic\r\n"); got != "" {
		t.Errorf("panicking handler: %q", got)
	}
	if got := exchange(t, s.Addr, "other\r\n"); got != "ok" {
		t.Errorf("after a panic: %q", got)
	}
	if !strings.Contains(log.String(), "boom") {
		t.Errorf("panic not logged: %s", log.String())
	}
}

// TestServer_request checks what a handler is given.
func TestServer_request(t *testing.T) {
	got := make(chan *gopher.Request, 1)
	s := newServer(t, gopher.HandlerFunc(func(w gopher.ResponseWriter, r *gopher.Request) {
		got <- r
		if r.Context().Err() != nil {
			t.Error("request context cancelled during the request")
		}
		gopher.Error(w, "no\tthing")
	}), func(s *gopher.Server) { s.Host, s.Port = "gopher.example", 7070 })
	if a := exchange(t, s.Addr, "sel\tsearch\t+plus\r\n"); a != "3no thing\t\terror.host\t1\r\n.\r\n" {
		t.Errorf("answer %q", a)
	}
	r := <-got
	if r.Selector != "sel" || r.Search != "search" || r.GopherPlus != "+plus" || r.Host != "gopher.example" || r.Port != 7070 || r.RemoteAddr == nil {
		t.Errorf("request %+v", r)
	}
}

func TestServeConn_pipe(t *testing.T) {
	srv := &gopher.Server{Handler: gopher.FileServer(newTree(t), nil)}
	c1, c2 := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), c2) }()
	c1.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c1, "/hello.txt\r\n")
	b, err := io.ReadAll(bufio.NewReader(c1))
	if err != nil || string(b) != helloText {
		t.Errorf("over a pipe: %q, %v", b, err)
	}
	if err := <-done; err != nil {
		t.Errorf("ServeConn: %v", err)
	}
}
