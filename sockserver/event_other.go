//go:build !linux

package sockserver

import (
	"context"
	"net"
	"time"
)

// serveEvents serves EventHandlers from event loops on Linux only; elsewhere
// they go through ServeConn.
func (s *Server) serveEvents(ctx context.Context, l net.Listener, h EventHandler) (bool, error) {
	return false, nil
}

type eventLoop struct{}

func (el *eventLoop) shutdown(by time.Time) {}
func (el *eventLoop) close()                {}

func (s *Server) eventStats(st *Stats) {}
