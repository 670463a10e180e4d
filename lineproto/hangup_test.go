package lineproto_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/lineproto"
)

// hangupPair returns the client end of a loopback TCP connection whose
// server end runs serve on a lineproto.Conn, and a channel closed once serve
// has returned and the server end is closed.
func hangupPair(t *testing.T, cfg *lineproto.Config, serve func(*lineproto.Conn)) (net.Conn, <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		c, err := lineproto.NewConn(context.Background(), nc, cfg)
		if err != nil {
			return
		}
		serve(c)
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, done
}

func TestConn_Hangup(t *testing.T) {
	t.Run("unread input", func(t *testing.T) {
		// The client keeps sending what the server never reads: without the
		// linger, the close would reset the connection and could destroy
		// the last line in flight.
		c, done := hangupPair(t, &lineproto.Config{}, func(c *lineproto.Conn) {
			if _, err := c.ReadLine(64); err != nil {
				return
			}
			c.Writer().WriteString("250 ok\r\n")
			c.Hangup("554 5.5.0 bye")
		})
		go func() {
			c.Write([]byte("CMD\r\n" + strings.Repeat("junk that is never read\r\n", 4000)))
			c.(*net.TCPConn).CloseWrite() // ends the linger early
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read %q, then %v; want the last line and EOF", got, err)
		}
		if want := "250 ok\r\n554 5.5.0 bye\r\n"; string(got) != want {
			t.Errorf("read %q; want %q", got, want)
		}
		<-done
	})
	t.Run("no line", func(t *testing.T) {
		c, done := hangupPair(t, &lineproto.Config{}, func(c *lineproto.Conn) {
			c.Writer().WriteString("buffered\r\n")
			c.Hangup("")
		})
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "buffered\r\n" {
			t.Errorf("read %q, %v; want what was buffered, then EOF", got, err)
		}
		<-done
	})
	t.Run("TLS", func(t *testing.T) {
		c, done := hangupPair(t, &lineproto.Config{TLSConfig: testcert.ServerConfig()}, func(c *lineproto.Conn) {
			c.Writer().WriteString("+ ready\r\n")
			if _, err := c.ReadLine(64); err != nil {
				return
			}
			c.Writer().WriteString("+ go ahead\r\n")
			if err := c.StartTLS(); err != nil {
				return
			}
			c.Hangup("- bye")
		})
		buf := make([]byte, len("+ ready\r\n"))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "STARTTLS\r\n")
		buf = make([]byte, len("+ go ahead\r\n"))
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		tc := tls.Client(c, testcert.ClientConfig())
		got, err := io.ReadAll(tc)
		if err != nil {
			t.Fatalf("read %q, then %v; want the line and a TLS close", got, err)
		}
		if string(got) != "- bye\r\n" {
			t.Errorf("read %q; want %q", got, "- bye\r\n")
		}
		c.Close() // ends the linger
		<-done
	})
}
