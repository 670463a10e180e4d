package lineproto

import (
	"errors"
	"io"
	"net"

	"github.com/inetkit/inetkit/sockserver"
)

// Busy returns a function for sockserver.Server.Reject that answers a
// connection refused by a limit with the protocol's busy line, or with
// shutdown if it was refused because the server is shutting down (each
// without its line ending). A connection from an ImplicitTLS listener gets
// nothing: there is no TLS session yet to say it in.
func Busy(busy, shutdown string) func(conn net.Conn, err error) {
	return func(conn net.Conn, err error) {
		if IsImplicitTLS(conn) {
			return
		}
		line := busy
		if errors.Is(err, sockserver.ErrServerClosed) {
			line = shutdown
		}
		io.WriteString(conn, line+"\r\n")
	}
}
