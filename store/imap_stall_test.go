package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
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

// A message deleted while FETCH BODY[] streams it cannot be sent whole:
// the server closes the connection rather than end the literal early (the
// client could not tell where it ends) or fill it with anything else.
func TestIMAPBackend_bodyDeletedWhileFetched(t *testing.T) {
	st := storeWithBigMessage(t)
	// Default socket buffers: the message is larger than they hold, and
	// reading on is not slowed by a window too small to be reopened.
	conn, r := rawIMAP(t, imapServe(t, st))
	io.WriteString(conn, "a3 FETCH 1 BODY[]\r\n")
	line, err := r.ReadString('\n')
	var size int64
	if _, serr := fmt.Sscanf(line[strings.LastIndexByte(line, '{'):], "{%d}", &size); err != nil || serr != nil {
		t.Fatalf("FETCH 1 BODY[]: %q, %v, %v", line, err, serr)
	}
	if _, err := st.DB().Exec(`DELETE FROM messages`); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if n >= size || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after the message was deleted the client read %d bytes of a %d-byte literal, then %v; want the connection closed before the literal's end", n, size, err)
	}
}
