package sockserver

import (
	"context"
	"net"
	"time"
)

// An InlineHandler is a Handler whose exchange can be a single read, a reply
// and a close, as in the tutorial's uppercase protocol. On Linux, a Server
// serving TCP answers such exchanges on its accepting goroutine, with no
// goroutine and no poller registration per connection: it defers accepting a
// connection until its first data has arrived (TCP_DEFER_ACCEPT), then makes
// four system calls (accept4, read, write, close), as a C server does.
// Connections that do not fit (no data yet, a reply that does not fit in the
// socket buffer, the limits) go to ServeConn as usual.
type InlineHandler interface {
	Handler
	// InlineReadBytes returns the size of the one read, or 0 if the handler
	// does not serve inline.
	InlineReadBytes() int
	// ServeInline appends to dst the reply to request, what the one read
	// returned (empty if the client shut down its side without sending), and
	// returns it. It must not block. remote is the client's address.
	ServeInline(ctx context.Context, request []byte, remote net.Addr, dst []byte) []byte
}

// LingerTimeout and LingerBytes bound how long and how much unread input
// [Linger] discards.
const (
	LingerTimeout = time.Second
	LingerBytes   = 1 << 20
)

// Linger ends a connection whose reply has been written so that the reply
// arrives: it shuts down the write side, so the client sees the
// end of the reply, then discards input until the client closes, for at most
// LingerTimeout and LingerBytes, reading into buf. Closing with input unread
// would send a reset instead, which can destroy the reply in flight. The caller
// still closes conn.
func Linger(conn net.Conn, buf []byte) {
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	if err := cw.CloseWrite(); err != nil {
		return // the peer is gone; nothing to protect
	}
	conn.SetReadDeadline(time.Now().Add(LingerTimeout))
	if len(buf) == 0 {
		buf = make([]byte, 4096)
	}
	for total := 0; total < LingerBytes; {
		n, err := conn.Read(buf)
		total += n
		if err != nil {
			return
		}
	}
}
