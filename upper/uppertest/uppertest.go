// Package uppertest runs the uppercase service of package upper in process,
// for tests, as net/http/httptest does for HTTP handlers.
//
// [NewServer] serves an [upper.Handler] on a loopback TCP port and
// [NewPacketServer] serves an [upper.PacketHandler] on a loopback UDP port.
// Each runs on a [sockserver.Server] or [sockserver.PacketServer] whose fields,
// like the handler's, a test may change between [NewUnstartedServer] (or
// [NewUnstartedPacketServer]) and Start. Setting the server's Network to
// "unix" or "unixgram" before Start serves on a socket in a new temporary
// directory instead of a port.
//
// Nothing is logged unless the handler's Logger is set.
package uppertest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/inetkit/inetkit/sockserver"
	"github.com/inetkit/inetkit/upper"
)

// A Server is an uppercase service listening on a loopback port, for tests.
// Close may be called from any goroutine, but not while Start runs.
type Server struct {
	// Addr is the address of the listener: host:port, or the socket's path
	// for Network "unix". Start sets it.
	Addr string

	// Config is the server that serves Handler. It may be changed before
	// Start, which sets its Handler. Its Network, "tcp" if empty, decides
	// where Start listens: "tcp", "tcp4" and "tcp6" on a loopback port,
	// "unix" on a socket in a new temporary directory. Its Addr is not used.
	Config *sockserver.Server

	// Handler is the service served. It may be changed before Start, which
	// serves a copy of it, with a Logger that discards if its Logger is nil.
	Handler *upper.Handler

	serving
}

// NewServer starts and returns a new Server serving h. A nil h serves the
// zero upper.Handler: ModeOneshot with the tutorial's read size. The caller
// should call Close when finished, to shut it down.
func NewServer(h *upper.Handler) *Server {
	s := NewUnstartedServer(h)
	s.Start()
	return s
}

// NewUnstartedServer returns a new Server serving h but doesn't start it. A
// nil h means the zero upper.Handler, as for [NewServer]. Config.Logger is
// h.Logger, or a logger that discards if that is nil.
//
// After changing its configuration, the caller should call Start.
//
// The caller should call Close when finished, to shut it down.
func NewUnstartedServer(h *upper.Handler) *Server {
	if h == nil {
		h = &upper.Handler{}
	}
	return &Server{
		Config:  &sockserver.Server{Logger: orDiscard(h.Logger)},
		Handler: h,
	}
}

// Start starts a server from NewUnstartedServer. It panics if the server
// cannot listen, or was started or closed before.
func (s *Server) Start() {
	s.checkStart()
	h := upper.Handler{}
	if s.Handler != nil {
		h = *s.Handler
	}
	h.Logger = orDiscard(h.Logger)
	s.Config.Handler = &h
	network := cmp.Or(s.Config.Network, "tcp")
	l, dir := listenLocal(network, net.Listen)
	s.Addr = l.Addr().String()
	s.serve(network, dir, func() error { return s.Config.Serve(l) })
}

// Close shuts down the server with Config.Close, which closes every
// connection, and waits for Serve to return. It panics if Serve returned
// anything but [sockserver.ErrServerClosed]: the server stopped by itself.
// Closing a server that was closed before does nothing.
func (s *Server) Close() { s.close(s.Config.Close) }

// Exchange sends msg to the server with [upper.Exchange] over Config.Network
// and returns the reply.
func (s *Server) Exchange(ctx context.Context, msg []byte) ([]byte, error) {
	return upper.Exchange(ctx, s.network, s.Addr, msg, nil)
}

// A PacketServer is an uppercase service reading datagrams on a loopback
// port, for tests. Close may be called from any goroutine, but not while Start
// runs.
type PacketServer struct {
	// Addr is the address of the socket: host:port, or its path for Network
	// "unixgram". Start sets it.
	Addr string

	// Config is the server that serves Handler. It may be changed before
	// Start, which sets its Handler. Its Network, "udp" if empty, decides
	// where Start listens: "udp", "udp4" and "udp6" on a loopback port,
	// "unixgram" on a socket in a new temporary directory. Its Addr is not
	// used.
	Config *sockserver.PacketServer

	// Handler is the service served. It may be changed before Start, which
	// serves a copy of it, with a Logger that discards if its Logger is nil.
	Handler *upper.PacketHandler

	serving
}

// NewPacketServer starts and returns a new PacketServer serving h. A nil h
// means the zero upper.PacketHandler. The caller should call Close when
// finished, to shut it down.
func NewPacketServer(h *upper.PacketHandler) *PacketServer {
	s := NewUnstartedPacketServer(h)
	s.Start()
	return s
}

// NewUnstartedPacketServer returns a new PacketServer serving h but doesn't
// start it. A nil h means the zero upper.PacketHandler. Config.Logger is
// h.Logger, or a logger that discards if that is nil.
//
// After changing its configuration, the caller should call Start.
//
// The caller should call Close when finished, to shut it down.
func NewUnstartedPacketServer(h *upper.PacketHandler) *PacketServer {
	if h == nil {
		h = &upper.PacketHandler{}
	}
	return &PacketServer{
		Config:  &sockserver.PacketServer{Logger: orDiscard(h.Logger)},
		Handler: h,
	}
}

// Start starts a server from NewUnstartedPacketServer. It panics if the
// server cannot listen, or was started or closed before.
func (s *PacketServer) Start() {
	s.checkStart()
	h := upper.PacketHandler{}
	if s.Handler != nil {
		h = *s.Handler
	}
	h.Logger = orDiscard(h.Logger)
	s.Config.Handler = &h
	network := cmp.Or(s.Config.Network, "udp")
	pc, dir := listenLocal(network, net.ListenPacket)
	s.Addr = pc.LocalAddr().String()
	s.serve(network, dir, func() error { return s.Config.Serve(pc) })
}

// Close shuts down the server with Config.Close and waits for Serve to
// return. It panics if Serve returned anything but
// [sockserver.ErrServerClosed]: the server stopped by itself. Closing a
// server that was closed before does nothing.
func (s *PacketServer) Close() { s.close(s.Config.Close) }

// Exchange sends msg to the server with [upper.Exchange] over Config.Network
// and returns the reply.
func (s *PacketServer) Exchange(ctx context.Context, msg []byte) ([]byte, error) {
	return upper.Exchange(ctx, s.network, s.Addr, msg, nil)
}

var discard = slog.New(slog.DiscardHandler)

func orDiscard(l *slog.Logger) *slog.Logger { return cmp.Or(l, discard) }

// serving is the life of a Server or PacketServer once started: the
// goroutine running Serve and the temporary directory of a Unix socket.
type serving struct {
	network string
	dir     string        // holds the Unix socket; "" for a port
	done    chan struct{} // closed when Serve has returned
	err     error         // what Serve returned, once done is closed
	once    sync.Once     // for Close
	closed  bool
}

func (sv *serving) checkStart() {
	if sv.done != nil {
		panic("uppertest: server already started")
	}
	if sv.closed {
		panic("uppertest: server already closed")
	}
}

// serve calls run, which runs Serve, in a new goroutine that close waits for.
func (sv *serving) serve(network, dir string, run func() error) {
	sv.network, sv.dir = network, dir
	sv.done = make(chan struct{})
	go func() {
		defer close(sv.done)
		sv.err = run()
	}()
}

func (sv *serving) close(stop func() error) {
	sv.once.Do(func() {
		sv.closed = true
		if sv.done == nil {
			return // never started
		}
		stop()
		<-sv.done
		if sv.dir != "" {
			os.RemoveAll(sv.dir)
		}
		if !errors.Is(sv.err, sockserver.ErrServerClosed) {
			panic("uppertest: Serve returned before Close: " + sv.err.Error())
		}
	})
}

// listenLocal calls listen with a loopback address for network, or for a Unix
// network with a path in a new temporary directory, which it returns. It
// panics if it cannot listen.
func listenLocal[L any](network string, listen func(network, addr string) (L, error)) (l L, dir string) {
	var err error
	switch network {
	case "tcp", "udp":
		if l, err = listen(network, "127.0.0.1:0"); err != nil {
			l, err = listen(network+"6", "[::1]:0")
		}
	case "tcp4", "udp4":
		l, err = listen(network, "127.0.0.1:0")
	case "tcp6", "udp6":
		l, err = listen(network, "[::1]:0")
	case "unix", "unixgram":
		if dir, err = os.MkdirTemp("", "uppertest"); err == nil {
			if l, err = listen(network, filepath.Join(dir, "upper.sock")); err != nil {
				os.RemoveAll(dir)
			}
		}
	default:
		err = errors.New("unsupported network")
	}
	if err != nil {
		panic(fmt.Sprintf("uppertest: failed to listen on %s: %v", network, err))
	}
	return l, dir
}
