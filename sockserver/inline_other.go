//go:build !linux

package sockserver

import (
	"context"
	"net"
)

// serveInline serves InlineHandlers inline on Linux only; elsewhere they go
// through ServeConn.
func (s *Server) serveInline(ctx context.Context, l net.Listener, h InlineHandler) (bool, error) {
	return false, nil
}
