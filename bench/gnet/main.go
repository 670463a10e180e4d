// Command gnet is the gnet v2 uppercase server that bench/run measures
// inetkit against: the tutorial's service over TCP (oneshot or stream) or UDP,
// each byte answered with its ASCII uppercase (bytes outside a-z pass through).
//
//	gnet -proto tcp -mode oneshot -addr 127.0.0.1:7001
//	gnet -proto tcp -mode stream  -addr 127.0.0.1:7001
//	gnet -proto udp -addr 127.0.0.1:7001
//
// oneshot: the reply to the first read (up to 1024 bytes, the tutorial's
// recv(1024)), then close. stream: every read answered until the client
// closes. udp: every datagram answered to its sender.
//
// Multicore is on (one event loop per CPU). With -reuseport (the default, as
// the C reference does) each event loop has its own listening socket with
// SO_REUSEPORT; without it, one loop accepts and hands connections to the
// others. gnet always uses SO_REUSEPORT over UDP.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// oneshotRead is the tutorial server's recv(1024).
const oneshotRead = 1024

type server struct {
	gnet.BuiltinEventEngine
	oneshot bool
}

// upper uppercases ASCII a-z in place.
func upper(p []byte) {
	for i, b := range p {
		if 'a' <= b && b <= 'z' {
			p[i] = b - ('a' - 'A')
		}
	}
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	n := -1
	if s.oneshot {
		n = min(c.InboundBuffered(), oneshotRead)
	}
	// The bytes Next returns are gnet's read buffer, which it no longer
	// needs: they are uppercased in place and written from there (Write
	// copies whatever the socket does not take at once).
	buf, err := c.Next(n)
	if err != nil {
		return gnet.Close
	}
	upper(buf)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	if s.oneshot {
		// gnet writes what is left in the outbound buffer before closing.
		return gnet.Close
	}
	return gnet.None
}

func main() {
	proto := flag.String("proto", "tcp", "tcp or udp")
	mode := flag.String("mode", "oneshot", "TCP mode: oneshot or stream")
	addr := flag.String("addr", "127.0.0.1:6666", "HOST:PORT to listen on")
	multicore := flag.Bool("multicore", true, "one event loop per CPU")
	loops := flag.Int("loops", 0, "number of event loops (0: as -multicore says)")
	reuseport := flag.Bool("reuseport", true, "TCP: a listening socket per event loop with SO_REUSEPORT")
	flag.Parse()

	s := &server{}
	switch {
	case *proto == "udp":
	case *proto == "tcp" && *mode == "oneshot":
		s.oneshot = true
	case *proto == "tcp" && *mode == "stream":
	default:
		fmt.Fprintf(os.Stderr, "gnet: bad -proto %q / -mode %q\n", *proto, *mode)
		os.Exit(2)
	}
	opts := []gnet.Option{
		gnet.WithMulticore(*multicore),
		gnet.WithReusePort(*reuseport),
		gnet.WithReuseAddr(true),
		gnet.WithLogLevel(logging.WarnLevel),
	}
	if *loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(*loops))
	}
	if err := gnet.Run(s, *proto+"4://"+*addr, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "gnet:", err)
		os.Exit(1)
	}
}
