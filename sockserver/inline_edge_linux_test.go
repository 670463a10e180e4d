package sockserver_test

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// A reply still being written after the inline write (a client that does not
// read) holds an open connection: it counts in Stats().Active, Close closes
// it at once, and so does Shutdown when its context expires.
func TestInlinePendingReplyStop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(*sockserver.Server) error
	}{
		{"Close", func(s *sockserver.Server) error { return s.Close() }},
		{"Shutdown expired", func(s *sockserver.Server) error {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			big := make([]byte, 8<<20)
			h := newUpperHandler(64)
			h.reply = func([]byte) []byte { return big }
			s := &sockserver.Server{WriteTimeout: 3 * time.Second, Handler: h}
			sv := startInline(t, s)
			c := dial(t, sv.addr)
			c.send(t, "big") // and never read
			waitFor(t, "the first write", func() bool { return s.Stats().BytesWritten > 0 })
			for deadline := time.Now().Add(time.Second); s.Stats().Active != 1; {
				if time.Now().After(deadline) {
					t.Errorf("Stats().Active = %d with the reply in flight; want 1", s.Stats().Active)
					break
				}
				<-time.After(2 * time.Millisecond)
			}
			start := time.Now()
			if err := tc.stop(s); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("%s took %v with a reply in flight; want it to close the connection at once", tc.name, d)
			}
			if got := s.Stats().Active; got != 0 {
				t.Errorf("Stats().Active = %d after %s; want 0", got, tc.name)
			}
		})
	}
}

// A connection already queued when Serve starts was not deferred: a silent
// one gets the whole idle timeout for its first read, not a second less.
func TestInlineQueuedBeforeServe(t *testing.T) {
	t.Parallel()
	const idle = 2 * time.Second
	h := newUpperHandler(64)
	s := &sockserver.Server{IdleTimeout: idle, Handler: h}
	l := listenTCP(t)
	c := dial(t, l.Addr()) // queued before Serve sets TCP_DEFER_ACCEPT
	serve(t, s, l)
	ev := recv(t, h.events, "the handler's read")
	if !errors.Is(ev.err, os.ErrDeadlineExceeded) {
		t.Errorf("Read() error = %v; want os.ErrDeadlineExceeded", ev.err)
	}
	if d := ev.end.Sub(ev.start); d < idle-100*time.Millisecond {
		t.Errorf("first Read failed %v after the hand-off; want the idle timeout, %v", d, idle)
	}
	c.Close()
}

// nilReply returns a nil reply, as a handler with nothing to say may.
type nilReply struct{ *upperHandler }

func (h nilReply) ServeInline(ctx context.Context, request []byte, remote net.Addr, dst []byte) []byte {
	h.upperHandler.ServeInline(ctx, request, remote, dst)
	return nil
}

// A nil reply to a read that filled the buffer ends the connection (with a
// linger); the rest of the request must not go to ServeConn as a new one.
func TestInlineNilReplyFullRead(t *testing.T) {
	t.Parallel()
	h := newUpperHandler(4)
	s := &sockserver.Server{Handler: nilReply{h}}
	sv := startInline(t, s)
	c := dial(t, sv.addr)
	c.send(t, "abcdefgh")
	if got := c.rest(t); got != "" {
		t.Errorf("client read %q; want EOF", got)
	}
	if in, conns := h.paths(); in != 1 || conns != 0 {
		t.Errorf("served %d inline, %d by ServeConn; want 1, 0", in, conns)
	}
}
