package gophertest_test

import (
	"context"
	"io"
	"testing"

	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/gopher/gophertest"
)

func TestServer(t *testing.T) {
	s := gophertest.NewServer(gopher.HandlerFunc(func(w gopher.ResponseWriter, r *gopher.Request) {
		io.WriteString(w, "selector "+r.Selector)
	}))
	resp, err := s.Client().Get(context.Background(), s.URLFor(gopher.TypeText, "/x"))
	if err != nil || string(resp.Body) != "selector /x" {
		t.Errorf("Get: %q, %v", resp.Body, err)
	}
	if s.URL != "gopher://"+s.Addr {
		t.Errorf("URL = %q", s.URL)
	}
	s.Close()
	s.Close() // twice does nothing
	if _, err := s.Client().Get(context.Background(), s.URL); err == nil {
		t.Error("Get after Close: no error")
	}
}

func TestNewRecorder(t *testing.T) {
	rec := gophertest.NewRecorder()
	req := gophertest.NewRequest("/sel\tquery")
	gopher.HandlerFunc(func(w gopher.ResponseWriter, r *gopher.Request) {
		mw := gopher.NewMenuWriter(w, r)
		mw.Info(r.Selector + " " + r.Search)
		mw.Close()
		w.Flush()
	}).ServeGopher(rec, req)
	if got, want := rec.Body.String(), "i/sel query\t\t127.0.0.1\t70\r\n.\r\n"; got != want || !rec.Flushed {
		t.Errorf("recorded %q (flushed %v); want %q", got, rec.Flushed, want)
	}
}
