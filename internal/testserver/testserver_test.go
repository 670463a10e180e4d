package testserver_test

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"

	"github.com/inetkit/inetkit/internal/testserver"
	"github.com/inetkit/inetkit/sockserver"
)

// target is a server that accepts until closed, recording how it was served.
type target struct {
	TLSConfig *tls.Config
	mu        sync.Mutex
	l         net.Listener
	tls       bool
	closed    bool
}

func (t *target) Serve(l net.Listener) error {
	t.mu.Lock()
	t.l = l
	if t.closed {
		l.Close()
	}
	t.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			return sockserver.ErrServerClosed
		}
		c.Close()
	}
}

func (t *target) ServeTLS(l net.Listener) error {
	t.mu.Lock()
	t.tls = true
	t.mu.Unlock()
	return t.Serve(l)
}

func (t *target) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.l != nil {
		t.l.Close()
	}
	return nil
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		mode     testserver.Mode
		wantTLS  bool
		wantCert bool
	}{
		{testserver.Plain, false, false},
		{testserver.ImplicitTLS, true, true},
		{testserver.STARTTLS, false, true},
	} {
		var r testserver.Run
		tg := &target{}
		r.Start("x", tg, tc.mode, &tg.TLSConfig)
		c, err := net.Dial("tcp", r.Addr)
		if err != nil {
			t.Fatalf("mode %d: dial %s: %v", tc.mode, r.Addr, err)
		}
		c.Close()
		r.Close(tg)
		r.Close(tg) // a second Close does nothing
		if tg.tls != tc.wantTLS || (tg.TLSConfig != nil) != tc.wantCert {
			t.Errorf("mode %d: served with TLS %v, config %v; want %v, %v", tc.mode, tg.tls, tg.TLSConfig != nil, tc.wantTLS, tc.wantCert)
		}
	}
}

func TestRun_startTwicePanics(t *testing.T) {
	var r testserver.Run
	tg := &target{}
	r.Start("x", tg, testserver.Plain, &tg.TLSConfig)
	defer r.Close(tg)
	defer func() {
		if recover() == nil {
			t.Error("a second Start did not panic")
		}
	}()
	r.Start("x", tg, testserver.Plain, &tg.TLSConfig)
}
