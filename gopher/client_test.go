package gopher_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/gopher/gophertest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *gopher.URL
		addr string
	}{
		{"gopher://example.org", &gopher.URL{Host: "example.org", Type: '1'}, "example.org:70"},
		{"gopher://example.org/", &gopher.URL{Host: "example.org", Type: '1'}, "example.org:70"},
		{"gopher://example.org:7070/1/docs", &gopher.URL{Host: "example.org:7070", Type: '1', Selector: "/docs"}, "example.org:7070"},
		{"gopher://127.0.0.1:70/0/a%20b.txt", &gopher.URL{Host: "127.0.0.1:70", Type: '0', Selector: "/a b.txt"}, "127.0.0.1:70"},
		{"GOPHER://[::1]:7070/7/search%09stra%C3%9Fe", &gopher.URL{Host: "[::1]:7070", Type: '7', Selector: "/search", Search: "straße"}, "[::1]:7070"},
		{"gopher://[::1]/1", &gopher.URL{Host: "[::1]", Type: '1'}, "[::1]:70"},
		{"gopher://h/7sel%09q%09%2B", &gopher.URL{Host: "h", Type: '7', Selector: "sel", Search: "q"}, "h:70"},
		{"gopher://h/hURL:https://example.org/", &gopher.URL{Host: "h", Type: 'h', Selector: "URL:https://example.org/"}, "h:70"},
		{"gopher://h/0%2e%2e/x", &gopher.URL{Host: "h", Type: '0', Selector: "../x"}, "h:70"},
	} {
		got, err := gopher.ParseURL(tc.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseURL(%q) (-want +got):\n%s", tc.in, diff)
		}
		if a := got.Addr(); a != tc.addr {
			t.Errorf("ParseURL(%q).Addr() = %q; want %q", tc.in, a, tc.addr)
		}
		// String and ParseURL agree.
		again, err := gopher.ParseURL(got.String())
		if err != nil || !cmp.Equal(got, again) {
			t.Errorf("ParseURL(%q).String() = %q, which parses as %+v, %v", tc.in, got.String(), again, err)
		}
	}
	for _, in := range []string{
		"http://example.org/", "gopher://", "gopher:///1/", "gopher://user@h/", "gopher://h:99999/",
		"gopher://h:x/", "gopher://h/0a%0d%0ab", "gopher://h/0a%00", "gopher://h/0%zz", "gopher://h/%09",
	} {
		if u, err := gopher.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v; want an error", in, u)
		}
	}
}

func TestURL_String(t *testing.T) {
	for _, tc := range []struct {
		u    gopher.URL
		want string
	}{
		{gopher.URL{Host: "h"}, "gopher://h/"},
		{gopher.URL{Host: "h:7070", Type: '0', Selector: "/a b?#%"}, "gopher://h:7070/0/a%20b%3F%23%25"},
		{gopher.URL{Host: "h", Type: '7', Selector: "/s", Search: "x y"}, "gopher://h/7/s%09x%20y"},
	} {
		if got := tc.u.String(); got != tc.want {
			t.Errorf("%+v.String() = %q; want %q", tc.u, got, tc.want)
		}
	}
}

func TestItem(t *testing.T) {
	it := gopher.Item{Type: gopher.TypeText, Display: "a\tb\r\nc", Selector: "/x\ty", Host: "h", Port: 70}
	if got, want := it.String(), "0a b  c\t/x y\th\t70"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if got := (gopher.Item{Type: 'h', Selector: "URL:https://example.org/"}).URL(); got != "https://example.org/" {
		t.Errorf("URL() of a web link = %q", got)
	}
	if got := (gopher.Item{Type: '0', Selector: "/a b", Host: "h", Port: 7070}).URL(); got != "gopher://h:7070/0/a%20b" {
		t.Errorf("URL() = %q", got)
	}
	if got := gopher.TypeMenu.String(); got != "menu" {
		t.Errorf("TypeMenu.String() = %q", got)
	}
}

func TestParseMenu(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []gopher.Item
	}{
		{"RFC 1436", "0About\t/about.txt\tgopher.example\t70\r\n1Docs\t/docs\tgopher.example\t70\r\n.\r\n", []gopher.Item{
			{Type: '0', Display: "About", Selector: "/about.txt", Host: "gopher.example", Port: 70},
			{Type: '1', Display: "Docs", Selector: "/docs", Host: "gopher.example", Port: 70},
		}},
		{"LF, no end line", "iHello\t\tnull.host\t1\nhWeb\tURL:https://example.org/\th\t70", []gopher.Item{
			{Type: 'i', Display: "Hello", Host: "null.host", Port: 1},
			{Type: 'h', Display: "Web", Selector: "URL:https://example.org/", Host: "h", Port: 70},
		}},
		{"missing fields, Gopher+ field, bad port", "0a\r\n1b\tsel\r\n9c\ts\th\tport\r\n0d\ts\th\t70\t+\r\n\r\n", []gopher.Item{
			{Type: '0', Display: "a"},
			{Type: '1', Display: "b", Selector: "sel"},
			{Type: '9', Display: "c", Selector: "s", Host: "h"},
			{Type: '0', Display: "d", Selector: "s", Host: "h", Port: 70},
		}},
		{"after the end line", "0a\ts\th\t70\r\n.\r\n0b\ts\th\t70\r\n", []gopher.Item{
			{Type: '0', Display: "a", Selector: "s", Host: "h", Port: 70},
		}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gopher.ParseMenu(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Limits: a long line is cut, too many lines is an error.
	long := "0" + strings.Repeat("x", 3*gopher.MaxMenuLineBytes) + "\tsel\r\n1next\ts\th\t70\r\n"
	items, err := gopher.ParseMenu(strings.NewReader(long))
	if err != nil || len(items) != 2 || len(items[0].Display) != gopher.MaxMenuLineBytes-1 || items[1].Display != "next" {
		t.Errorf("long line: %d items, %v", len(items), err)
	}
	many := strings.Repeat("ix\r\n", gopher.MaxMenuLines+1)
	if items, err := gopher.ParseMenu(strings.NewReader(many)); !errors.Is(err, gopher.ErrMenuTooLarge) || len(items) != gopher.MaxMenuLines {
		t.Errorf("too many lines: %d items, %v", len(items), err)
	}
}

func TestMenuWriter(t *testing.T) {
	var b strings.Builder
	mw := gopher.NewMenuWriter(&b, gopher.NewRequest("", "gopher.example", 7070))
	mw.Info("Welcome\nto\tgopher")
	mw.Item(gopher.Item{Type: gopher.TypeText, Display: "A", Selector: "/a"})
	mw.Item(gopher.Item{Type: gopher.TypeMenu, Display: "Other", Selector: "/", Host: "other.example"})
	if err := mw.Item(gopher.Item{Type: gopher.TypeText, Display: "bad", Selector: "/a\r\nievil"}); !errors.Is(err, gopher.ErrInvalidItem) {
		t.Errorf("Item with CRLF in its selector: %v", err)
	}
	mw.Error("Oops")
	mw.Close()
	want := "iWelcome\t\tgopher.example\t7070\r\nito gopher\t\tgopher.example\t7070\r\n" +
		"0A\t/a\tgopher.example\t7070\r\n1Other\t/\tother.example\t70\r\n3Oops\t\terror.host\t1\r\n.\r\n"
	if b.String() != want {
		t.Errorf("menu:\n%q\nwant:\n%q", b.String(), want)
	}
}

func TestServeMux(t *testing.T) {
	mux := gopher.NewServeMux()
	for _, p := range []string{"/", "/docs", "/docs/sub/", "caps.txt"} {
		mux.HandleFunc(p, func(w gopher.ResponseWriter, r *gopher.Request) { io.WriteString(w, p) })
	}
	for sel, want := range map[string]string{
		"": "/", "/": "/", "/x": "/", "/docs": "/docs", "/docs/": "/docs", "/docs/a": "/docs",
		"/docsx": "/", "/docs/sub": "/docs/sub/", "/docs/sub/a": "/docs/sub/", "caps.txt": "caps.txt",
	} {
		rec := gophertest.NewRecorder()
		mux.ServeGopher(rec, gophertest.NewRequest(sel))
		if rec.Body.String() != want {
			t.Errorf("%q served by %q; want %q", sel, rec.Body.String(), want)
		}
	}
	empty := gopher.NewServeMux()
	rec := gophertest.NewRecorder()
	empty.ServeGopher(rec, gophertest.NewRequest("/x"))
	if got := rec.Body.String(); got != "3Not found\t\terror.host\t1\r\n.\r\n" {
		t.Errorf("no handler: %q", got)
	}
}

func TestClient_Get(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), nil))
	c := s.Client()
	ctx := context.Background()

	resp, err := c.Get(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	items, err := resp.Menu()
	if err != nil || len(items) != 4 || items[0].Display != "docs" || items[0].Type != gopher.TypeMenu {
		t.Errorf("root menu: %+v, %v", items, err)
	}
	// Follow a link from the menu.
	resp, err = c.Get(ctx, items[2].URL())
	if err != nil || string(resp.Body) != helloText || resp.Type != gopher.TypeText {
		t.Errorf("Get(%q) = %+v, %v", items[2].URL(), resp, err)
	}
	if got := string(resp.Text()); got != helloText {
		t.Errorf("Text() of a raw file = %q", got)
	}

	// An error item is a *ServerError.
	_, err = c.Get(ctx, s.URLFor(gopher.TypeText, "/nope"))
	var se *gopher.ServerError
	if !errors.As(err, &se) || se.Message != "Not found" {
		t.Errorf("not found: %v", err)
	}
	// A file longer than MaxBytes.
	small := &gopher.Client{MaxBytes: 4}
	if _, err := small.Get(ctx, s.URLFor(gopher.TypeText, "/hello.txt")); !errors.Is(err, gopher.ErrTooLarge) {
		t.Errorf("MaxBytes: %v", err)
	}
	// A selector that would end the request early is refused before I/O.
	if _, err := c.Do(ctx, &gopher.URL{Host: s.Addr, Type: '0', Selector: "a\r\nb"}); err == nil {
		t.Error("CRLF in the selector: no error")
	}
}

func TestClient_search(t *testing.T) {
	s := newServer(t, gopher.FileServer(newTree(t), &gopher.FileServerOptions{
		Search: func(_ context.Context, q string) (string, error) { return strings.ToUpper(q), nil },
	}))
	resp, err := s.Client().Get(context.Background(), s.URLFor(gopher.TypeSearch, "/search")+"%09hello%20there")
	if err != nil {
		t.Fatal(err)
	}
	items, _ := resp.Menu()
	if len(items) != 1 || items[0].Display != "HELLO THERE" {
		t.Errorf("search answer: %+v", items)
	}
}

func TestClient_timeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // a server that never answers
		}
	}()
	c := &gopher.Client{Timeout: 200 * time.Millisecond}
	start := time.Now()
	_, err = c.Get(context.Background(), "gopher://"+l.Addr().String()+"/")
	if err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("Get from a silent server: %v after %v", err, time.Since(start))
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := (&gopher.Client{}).Get(ctx, "gopher://"+l.Addr().String()+"/"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
}

func TestResponse_Text(t *testing.T) {
	for in, want := range map[string]string{
		"raw\r\nfile\r\n":                 "raw\r\nfile\r\n",
		"line\r\n..dot\r\n.\r\n":          "line\r\n.dot\r\n",
		"line\n.\n":                       "line\n",
		".\r\n":                           "",
		"no terminator\r\n..kept as is\n": "no terminator\r\n..kept as is\n",
	} {
		if got := string((&gopher.Response{Body: []byte(in)}).Text()); got != want {
			t.Errorf("Text(%q) = %q; want %q", in, got, want)
		}
	}
}
