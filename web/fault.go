package web

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
	"github.com/inetkit/inetkit/sockserver"
)

// faults injects the faults of s.Faults at the paths of requests, in front
// of h: a status in place of h's reply (503 with Retry-After), h's reply
// late, paced or cut short, and the connection closed, reset or left
// silent (on HTTP/2, where the connection is shared, the stream is reset
// instead).
func (s *Server) faults(h http.Handler) http.Handler {
	if s.Faults == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := fault.Point{Service: "http", Moment: r.URL.Path, RemoteString: r.RemoteAddr}
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			p.Remote = ap.Addr().Unmap()
		}
		rule, ok := s.Faults.Fire(p)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		if lineproto.Sleep(r.Context(), rule.Delay) != nil {
			return
		}
		switch rule.Kind {
		case fault.KindDelay:
			h.ServeHTTP(w, r)
		case fault.KindReply:
			faultStatus(w, rule.Text)
		case fault.KindDiskFull:
			faultStatus(w, "507 Insufficient Storage")
		case fault.KindStoreError:
			faultStatus(w, "503 Service Unavailable")
		case fault.KindTrickle:
			h.ServeHTTP(&pacedWriter{ResponseWriter: w, fw: &sockserver.FaultWriter{W: flushWriter{w}, Context: r.Context()}, rate: rule.Rate}, r)
		case fault.KindTruncate:
			h.ServeHTTP(&cutWriter{ResponseWriter: w, left: rule.Bytes}, r)
		default: // close, reset, hang
			endConn(w, rule.Kind)
		}
	})
}

// faultStatus replies with text, "503 Service Unavailable": its code and
// the text as the body. A 503 or 429 says Retry-After: 1.
func faultStatus(w http.ResponseWriter, text string) {
	code, _ := strconv.Atoi(text[:3])
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(strings.TrimSpace(text) + "\n"))
}

// endConn ends the connection of w as a fault of kind k asks: closed,
// reset, or silent until the client gives up. Where the connection cannot
// be taken over (HTTP/2), the stream is reset.
func endConn(w http.ResponseWriter, k fault.Kind) {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if wc, ok := nc.(*conn); ok {
		nc = wc.Conn // the sockserver connection, which reaches the TCP one
	}
	switch k {
	case fault.KindReset:
		sockserver.Reset(nc)
		return
	case fault.KindHang:
		// The idle timeout of the sockserver connection under nc bounds
		// every read.
		nc.SetDeadline(time.Time{})
		sockserver.Hang(nc)
	}
	nc.Close()
}

// flushWriter writes to a ResponseWriter and flushes, so that each piece
// of a paced reply leaves at once.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = http.NewResponseController(f.w).Flush()
	}
	return n, err
}

// pacedWriter sends the body at rate bytes a second.
type pacedWriter struct {
	http.ResponseWriter
	fw   *sockserver.FaultWriter
	rate int
	once bool
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	if !p.once {
		p.once = true
		p.fw.Pace(p.rate)
	}
	return p.fw.Write(b)
}

// Unwrap returns the ResponseWriter for http.ResponseController. The
// ReaderFrom of the connection (sendfile), which would bypass the pace, is
// not promoted.
func (p *pacedWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }

// cutWriter lets left bytes of the body through, then aborts the
// response: the client sees the connection end short of the body.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if len(b) > c.left {
		c.ResponseWriter.Write(b[:c.left])
		c.left = 0
		http.NewResponseController(c.ResponseWriter).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= len(b)
	return c.ResponseWriter.Write(b)
}

func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
