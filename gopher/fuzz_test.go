package gopher_test

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/gopher/gophertest"
)

// FuzzParseMenu checks that ParseMenu never panics and that every item it
// returns whose fields are clean survives a round trip through Item.String.
func FuzzParseMenu(f *testing.F) {
	for _, s := range []string{
		"0About\t/about.txt\tgopher.example\t70\r\n1Docs\t/docs\tgopher.example\t70\r\n.\r\n",
		"iHello\t\tnull.host\t1\nhWeb\tURL:https://example.org/\th\t70",
		"0a\r\n1b\tsel\r\n9c\ts\th\tport\r\n0d\ts\th\t70\t+\r\n\r\n",
		"3Not found\t\terror.host\t1\r\n.\r\n",
		".\r\n0after\r\n", "\t\t\t\n", "\r\r\r\n", "0\x00\t\x00\t\x00\t-1\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		items, err := gopher.ParseMenu(strings.NewReader(in))
		if err != nil {
			t.Fatalf("ParseMenu: %v", err)
		}
		for _, it := range items {
			if it.Port < 0 || it.Port > 65535 {
				t.Errorf("port %d", it.Port)
			}
			if strings.ContainsAny(it.Display+it.Selector+it.Host, "\t\r\n") && strings.ContainsAny(it.Selector+it.Host, "\t\n") {
				t.Errorf("field holds a line or field separator: %+v", it)
			}
			line := it.String()
			if strings.Count(line, "\t") != 3 || strings.ContainsAny(line, "\r\n") {
				t.Errorf("String() = %q: not one line of four fields", line)
			}
			if clean(it) && it.Type > ' ' && it.Type < 0x7f && it.Port > 0 {
				again, err := gopher.ParseMenu(strings.NewReader(line + "\r\n"))
				if err != nil || len(again) != 1 || !cmp.Equal(again[0], it) {
					t.Errorf("round trip of %+v: %+v, %v", it, again, err)
				}
			}
		}
	})
}

// clean reports whether no field of it holds a control character or
// leading or trailing spaces in its host, so String writes it unchanged.
func clean(it gopher.Item) bool {
	for _, s := range []string{it.Display, it.Selector, it.Host} {
		for _, c := range []byte(s) {
			if c < 0x20 || c == 0x7f {
				return false
			}
		}
	}
	return strings.TrimSpace(it.Host) == it.Host
}

// FuzzGophermap checks that whatever a gophermap holds, the menu made from
// it is well formed: lines of four TAB-separated fields ending in CRLF, and
// the "." line at the end, with nothing after it.
func FuzzGophermap(f *testing.F) {
	for _, s := range []string{
		"!Title\r\n# comment\r\nInfo line\r\n\r\n1Relative\tsub\r\n0Absolute\t/a.txt\r\n1External\t/\tgopher.floodgap.com\t70\r\n",
		"hWeb\tURL:https://example.org/\r\n0a.txt\t\r\niInfo\ttab\r\n3Error\tx\r\n-a.txt\r\n:png=g\r\n=/bin/sh\r\n~\r\n%\r\n*\r\n",
		"One\n.\nTwo\n", "\tno type\n", "0a\x00b\ta\x00b\n", "1\t\t\t\t\t\n", "0x\t../../etc/passwd\t\t99999\n",
		"\x01bad type\tsel\n", "0evil\tsel\r\nievil\t\t\t\n", "*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, gophermap string) {
		fsys := fstest.MapFS{
			"dir/gophermap": {Data: []byte(gophermap)},
			"dir/a.txt":     {Data: []byte("a")},
			"dir/.hidden":   {Data: []byte("h")},
		}
		rec := gophertest.NewRecorder()
		gopher.FileServer(fsys, nil).ServeGopher(rec, gophertest.NewRequest("/dir"))
		out := rec.Body.String()
		if !strings.HasSuffix(out, ".\r\n") || strings.Count(out, "\r\n.\r\n") > 1 || strings.HasPrefix(out, ".\r\n") && out != ".\r\n" {
			t.Fatalf("menu does not end with exactly one . line: %q", out)
		}
		body := strings.TrimSuffix(out, ".\r\n")
		for _, line := range strings.SplitAfter(body, "\r\n") {
			if line == "" {
				continue
			}
			l := strings.TrimSuffix(line, "\r\n")
			if strings.ContainsAny(l, "\r\n") || l == line {
				t.Errorf("line not ending in CRLF, or with a bare CR or LF: %q", line)
			}
			if strings.Count(l, "\t") != 3 {
				t.Errorf("line without four fields: %q", l)
			}
			if strings.Contains(l, ".hidden") && strings.HasPrefix(l, "0.hidden") {
				t.Errorf("hidden file listed: %q", l)
			}
		}
	})
}

// FuzzRequest sends any request line to a server over net.Pipe: it never
// panics and always ends the connection, within the request timeout if the
// line has no end.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		"\r\n", "/\r\n", "/docs\r\n", "/docs/a.txt\r\n", "../../etc/passwd\r\n", "/../../etc/passwd\r\n",
		"..\\..\\etc\\passwd\r\n", "%2e%2e/etc/passwd\r\n", strings.Repeat("a", 300) + "\r\n", "abc",
		"dir\t$\r\n", "search\tquery\r\n", "a\x00b\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"caps.txt\r\n", "URL:https://example.org/\r\n", "/search\tq\t+\r\n", "\n", "\r\r\n",
	} {
		f.Add(s)
	}
	fsys := fstest.MapFS{
		"docs/a.txt":     {Data: []byte("a\r\n")},
		"docs/gophermap": {Data: []byte("Info\r\n0A\ta.txt\r\n*\r\n")},
	}
	srv := &gopher.Server{
		Handler: gopher.FileServer(fsys, &gopher.FileServerOptions{
			Search: func(_ context.Context, q string) (string, error) { return q, nil },
		}),
		Logger: slogTo(io.Discard),
	}
	srv.IdleTimeout = 50 * time.Millisecond
	srv.WriteTimeout = time.Second
	f.Fuzz(func(t *testing.T, req string) {
		c1, c2 := net.Pipe()
		done := make(chan error, 1)
		go func() { done <- srv.ServeConn(context.Background(), c2) }()
		go func() {
			io.WriteString(c1, req)
		}()
		c1.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(c1)
		c1.Close()
		if err != nil {
			t.Fatalf("reading the answer: %v (the server did not close)", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("ServeConn: %v", err)
		}
		if strings.Contains(req, "\x00") && strings.Contains(string(out), "\x00") {
			t.Errorf("NUL echoed: %q", out)
		}
	})
}
