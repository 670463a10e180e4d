package store_test

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/imap/imaptest"
	"github.com/inetkit/inetkit/store"
)

// bigMessage returns a message of about size bytes, CRLF line endings.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: bob@example.org\r\nTo: alice@example.org\r\nSubject: big\r\n\r\n")
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// greeting dials addr and returns the server's first line.
func greeting(addr string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	return bufio.NewReader(conn).ReadString('\n')
}

// A client that asks for a message larger than the socket buffers and
// never reads: the write times out, and the connection must then end, so
// that its slot is free again and the server can be closed. go-imap's
// response encoder holds a lock until the FETCH response writer is closed;
// a FETCH that returned on the write error without closing it kept the
// connection, and Close, waiting forever.
func TestIMAPBackend_stalledFetchEnds(t *testing.T) {
	st := openStore(t, "", &store.Options{AnyLogin: true})
	ctx := context.Background()
	if err := st.Deliver(ctx, []string{"alice@example.org"}, bigMessage(8<<20), time.Now()); err != nil {
		t.Fatal(err)
	}
	srv := imaptest.NewUnstartedServer(st.IMAPBackend())
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Config.MaxConns = 1
	srv.Config.Logger = slog.New(slog.DiscardHandler)
	srv.Start()
	closed := false
	t.Cleanup(func() {
		if !closed {
			closeWithin(srv, 20*time.Second) // a leak is reported already
		}
	})

	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	rawCmd(t, conn, r, "a1 LOGIN alice@example.org x")
	rawCmd(t, conn, r, "a2 SELECT INBOX")
	if _, err := conn.Write([]byte("a3 FETCH 1 BODY[]\r\n")); err != nil {
		t.Fatal(err)
	}
	// The client reads no more. With MaxConns 1, a second connection is
	// refused until the server has let go of the first.
	deadline := time.Now().Add(20 * time.Second)
	for {
		line, err := greeting(srv.Addr)
		if err == nil && strings.HasPrefix(line, "* OK") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled connection is still held: a new connection gets %q, %v", line, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	conn.Close()
	if closed = closeWithin(srv, 20*time.Second); !closed {
		t.Fatal("Close did not return after the stalled client went away")
	}
}

// closeWithin closes srv and reports whether Close returned within d.
func closeWithin(srv *imaptest.Server, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}
