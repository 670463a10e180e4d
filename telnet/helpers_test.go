package telnet_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/inetkit/inetkit/telnet"
	"github.com/inetkit/inetkit/telnet/telnettest"
)

// upperHandler answers each line typed with the line in upper case, until
// "quit".
var upperHandler = telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
	c.Write([]byte("hello\r\n"))
	for {
		line, err := c.ReadLine("> ")
		if errors.Is(err, telnet.ErrInterrupt) {
			continue
		}
		if err != nil {
			return
		}
		if line == "quit" {
			c.Write([]byte("bye\r\n"))
			return
		}
		if _, err := c.Write([]byte(asciiUpper(line) + "\r\n")); err != nil {
			return
		}
	}
})

// newUpperServer starts a test server with upperHandler, changed by
// configure if it is not nil.
func newUpperServer(t testing.TB, configure func(*telnet.Server)) *telnettest.Server {
	t.Helper()
	s := telnettest.NewUnstartedServer(upperHandler)
	if configure != nil {
		configure(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// rawConn is a test client that speaks octets, not Telnet.
type rawConn struct {
	t testing.TB
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, Conn: nc, r: bufio.NewReader(nc)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write %q: %v", s, err)
	}
}

// readFor returns everything read for d, or until EOF, and whether EOF came.
func (rc *rawConn) readFor(d time.Duration) (string, bool) {
	rc.t.Helper()
	rc.SetReadDeadline(time.Now().Add(d))
	defer rc.SetReadDeadline(time.Time{})
	var b bytes.Buffer
	_, err := io.Copy(&b, rc.r)
	return b.String(), err == nil
}

// readUntil reads until the text read contains want, for at most 5 s.
func (rc *rawConn) readUntil(want string) string {
	rc.t.Helper()
	rc.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer rc.SetReadDeadline(time.Time{})
	var b []byte
	for !bytes.Contains(b, []byte(want)) {
		c, err := rc.r.ReadByte()
		if err != nil {
			rc.t.Fatalf("waiting for %q: %v; got %q", want, err, b)
		}
		b = append(b, c)
	}
	return string(b)
}

// asciiUpper upper-cases ASCII letters and leaves every other octet alone.
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
