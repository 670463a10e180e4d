package telnet_test

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/inetkit/inetkit/telnet"
)

// TestConn_nettest runs the conformance suite of net.Conn on a pair of
// Conns over loopback TCP, in BINARY mode both ways (outside it, newlines
// are translated and the stream is text, not octets).
func TestConn_nettest(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		defer l.Close()
		done := make(chan net.Conn, 1)
		go func() {
			nc, err := l.Accept()
			if err != nil {
				done <- nil
				return
			}
			done <- nc
		}()
		nc1, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		nc2 := <-done
		binary := []telnet.Option{telnet.OptionBinary}
		a := telnet.NewConn(nc1, &telnet.Config{Offer: binary, Request: binary})
		b := telnet.NewConn(nc2, &telnet.Config{Server: true, Offer: binary, Request: binary})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		errc := make(chan error, 1)
		go func() { errc <- b.Negotiate(ctx) }()
		if err := a.Negotiate(ctx); err != nil {
			return nil, nil, nil, err
		}
		if err := <-errc; err != nil {
			return nil, nil, nil, err
		}
		for _, c := range []*telnet.Conn{a, b} {
			if !c.LocalEnabled(telnet.OptionBinary) || !c.RemoteEnabled(telnet.OptionBinary) {
				t.Fatalf("BINARY not enabled both ways")
			}
		}
		return a, b, func() { a.Close(); b.Close() }, nil
	})
}

// SendCommand sends IAC and the command: the server sees an EventCommand,
// and answers AYT.
func TestConn_SendCommand(t *testing.T) {
	got := make(chan byte, 4)
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.Config = &telnet.Config{
			AYTReply: telnet.DefaultAYTReply,
			OnEvent: func(_ *telnet.Conn, ev telnet.Event) {
				if ev.Kind == telnet.EventCommand {
					got <- ev.Command
				}
			},
		}
	})
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadUntil("> ", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []byte{telnet.AYT, telnet.NOP} {
		if err := c.SendCommand(cmd); err != nil {
			t.Fatalf("SendCommand(%s) = %v", telnet.CommandName(cmd), err)
		}
	}
	if _, err := c.ReadUntil("[inetkit: yes]", 5*time.Second); err != nil {
		t.Errorf("no answer to AYT: %v", err)
	}
	for _, want := range []byte{telnet.AYT, telnet.NOP} {
		select {
		case cmd := <-got:
			if cmd != want {
				t.Errorf("server saw %s; want %s", telnet.CommandName(cmd), telnet.CommandName(want))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("server saw no %s", telnet.CommandName(want))
		}
	}
}
