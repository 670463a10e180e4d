// Package sockserver is Go's answer to Python's socketserver: the one accept
// loop, connection limits, deadlines, panic recovery and graceful shutdown that
// every inetkit server stands on.
//
// A [Server] serves stream connections (TCP or Unix sockets) with a [Handler];
// a [PacketServer] serves datagrams (UDP or Unix datagram sockets) with a
// [PacketHandler]. Both follow net/http's lifecycle: ListenAndServe, Serve,
// Shutdown and Close, with [ErrServerClosed] returned by Serve once either of
// the last two has been called.
//
// # From socketserver to sockserver
//
// Each concept of Python's socketserver module has one counterpart here:
//
//   - TCPServer, UnixStreamServer: [Server] with Network "tcp" or "unix".
//   - UDPServer, UnixDatagramServer: [PacketServer] with Network "udp" or
//     "unixgram".
//   - ThreadingMixIn: always on for [Server]; every connection runs in its own
//     goroutine, bounded by [Server.MaxConns] and [Server.MaxConnsPerIP].
//     A [PacketServer] answers datagrams in order from one goroutine, as
//     UDPServer does, because a datagram handler is meant to be quick.
//   - ForkingMixIn: no counterpart; goroutines make it unnecessary.
//   - BaseRequestHandler.handle: [Handler.ServeConn] and
//     [PacketHandler.ServePacket]. setup and finish are the code before and
//     after in the same function; self.request and self.client_address are the
//     conn (conn.RemoteAddr()) or the datagram and its sender.
//   - StreamRequestHandler (rfile, wfile): wrap the conn in bufio.Reader and
//     bufio.Writer; timeout is [Server.IdleTimeout] and [Server.WriteTimeout],
//     applied to every read and write.
//   - DatagramRequestHandler (rfile, wfile): the datagram p and the
//     [PacketWriter], which sends the reply back to the sender.
//   - verify_request: [Server.Verify].
//   - handle_error: errors returned by a handler are logged through
//     [Server.Logger] and counted in [Stats]; a panic is recovered, logged
//     with its stack and closes only that connection.
//   - serve_forever: [Server.Serve] and [Server.ListenAndServe]; they return
//     when the server is shut down.
//   - shutdown: [Server.Shutdown], which also waits, within a context, for
//     the exchanges in flight to finish.
//   - server_close: [Server.Close], which closes the listeners and every
//     connection at once.
//   - allow_reuse_address: always on for TCP (Go sets SO_REUSEADDR on
//     listening sockets); a stale Unix socket file left by a crashed server
//     is removed when nothing answers on it.
//   - request_queue_size (listen backlog): the kernel's somaxconn, which Go
//     uses for every listener.
//
// # Limits and defences
//
// A [Server] accepts with a backoff on temporary errors such as EMFILE (5 ms
// doubling to 1 s, as net/http does), so running out of file descriptors
// neither spins a core nor floods the log. Connections beyond [Server.MaxConns]
// in total, or beyond [Server.MaxConnsPerIP] from one address, are passed to
// [Server.Reject] (which may write the protocol's busy reply) and closed.
// Every read waits at most [Server.IdleTimeout] and every write at most
// [Server.WriteTimeout].
//
// A [PacketServer] never answers the reflection ports 7, 19, 53 and 123 or
// itself, caps every reply at [PacketServer.AmplificationFactor] times the
// request, and can limit replies per source address and in total.
//
// Servers from other libraries get the same limits, deadlines and counters by
// serving on [Server.WrapListener].
package sockserver
