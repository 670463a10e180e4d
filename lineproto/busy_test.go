package lineproto_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// recordConn records what is written to it.
type recordConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) { return c.buf.Write(p) }
func (c *recordConn) String() string              { return c.buf.String() }

type implicitListener struct{ c net.Conn }

func (l implicitListener) Accept() (net.Conn, error) { return l.c, nil }
func (implicitListener) Close() error                { return nil }
func (implicitListener) Addr() net.Addr              { return nil }

func TestBusy(t *testing.T) {
	reject := lineproto.Busy("-ERR busy", "-ERR bye")
	c := &recordConn{}
	reject(c, sockserver.ErrTooManyConns)
	reject(c, sockserver.ErrServerClosed)
	if got := c.String(); got != "-ERR busy\r\n-ERR bye\r\n" {
		t.Errorf("Busy wrote %q", got)
	}
	// On an implicit-TLS connection: nothing in plaintext.
	c = &recordConn{}
	ic, _ := lineproto.ImplicitTLS(implicitListener{c}).Accept()
	reject(ic, sockserver.ErrTooManyConns)
	if c.buf.Len() != 0 {
		t.Errorf("Busy wrote %q on an implicit-TLS connection", c.String())
	}
}
