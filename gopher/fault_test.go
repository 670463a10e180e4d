package gopher_test

import (
	"context"
	"testing"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/gopher"
	"github.com/inetkit/inetkit/gopher/gophertest"
)

// TestServer_faults: the connect faults of sockserver reach a gopher
// client: a cut answer, then a closed connection; a client they are not
// aimed at is served.
func TestServer_faults(t *testing.T) {
	t.Parallel()
	s := gophertest.NewUnstartedServer(gopher.HandlerFunc(func(w gopher.ResponseWriter, r *gopher.Request) {
		w.Write([]byte("hello, world\r\n"))
	}))
	s.Config.Faults = fault.MustParseSet(1,
		"gopher connect truncate=5 first=1 client=127.0.0.1",
		"gopher connect close first=1 client=127.0.0.1")
	s.Start()
	defer s.Close()
	get := func() string {
		resp, err := s.Client().Get(context.Background(), s.URLFor('0', "/x"))
		if err != nil {
			return "error: " + err.Error()
		}
		return string(resp.Body)
	}
	if got := get(); got != "hello" {
		t.Errorf("first answer = %q; want it cut after 5 bytes", got)
	}
	if got := get(); got != "" && got[:6] != "error:" {
		t.Errorf("second answer = %q; want nothing: the connection closed", got)
	}
	if got := get(); got != "hello, world\r\n" {
		t.Errorf("third answer = %q; want all of it", got)
	}
}
