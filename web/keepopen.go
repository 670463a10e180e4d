package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// KeepOpen lets the handler of r wait for as long as it needs on a client
// that sends nothing, as a long poll or an event stream (Server-Sent Events)
// does. Without it, a Server closes the connection, and cancels r's context,
// once Limits.IdleTimeout (or ReadTimeout) passes without a byte from the
// client, even while the handler is still answering. The handler must call
// the returned function when it ends (defer it); the connection's timeouts
// then apply again. Writes keep their WriteTimeout throughout, so a client
// that stops reading is still cut off.
//
// A request that did not come through a Server is left as it is.
func KeepOpen(w http.ResponseWriter, r *http.Request) (release func()) {
	c, _ := r.Context().Value(connKey{}).(*conn)
	if c == nil {
		return func() {}
	}
	// net/http's deadline of the whole request, which its background read
	// of an HTTP/1 connection still carries.
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	c.kmu.Lock()
	if c.keepOpen++; c.keepOpen == 1 {
		sockserver.SetIdleTimeout(c.Conn, -1)
	}
	c.kmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.kmu.Lock()
			if c.keepOpen--; c.keepOpen == 0 {
				sockserver.SetIdleTimeout(c.Conn, 0)
			}
			c.kmu.Unlock()
		})
	}
}
