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
