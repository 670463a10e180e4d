package store_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/pop3/pop3test"
	"github.com/inetkit/inetkit/store"
)

// stalledMessageBytes is the size of the message the stalled-reader tests
// ask for: far more than the socket buffers hold.
const stalledMessageBytes = 20 << 20

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// peakGrowth samples the live heap a few times while a server writes to a
// client that has stopped reading, and returns the largest growth over
// base.
func peakGrowth(base int64) int64 {
	var peak int64
	for range 5 {
		time.Sleep(50 * time.Millisecond) // let the server fill the socket buffers
		peak = max(peak, liveHeap()-base)
	}
	return peak
}

// storeWithBigMessage opens a store in AnyLogin mode holding one message of
// stalledMessageBytes for alice@example.org.
func storeWithBigMessage(t *testing.T) *store.Store {
	t.Helper()
	st := openStore(t, "", &store.Options{AnyLogin: true})
	if err := st.Deliver(context.Background(), []string{"alice@example.org"}, bigMessage(stalledMessageBytes), time.Now()); err != nil {
		t.Fatal(err)
	}
	return st
}

// stallingConn dials addr with a small receive buffer, for a client that
// will stop reading.
func stallingConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return conn, bufio.NewReaderSize(conn, 4096)
}

// A POP3 client that sends RETR for a large message and reads only the
// first line of the reply costs the server memory bounded by the pieces
// the message is read in, not by the message.
func TestPOP3Backend_stalledRetrHeap(t *testing.T) {
	st := storeWithBigMessage(t)
	srv := pop3test.NewServer(st.POP3Backend())
	t.Cleanup(srv.Close)
	conn, r := stallingConn(t, srv.Addr)
	for _, cmd := range []string{"", "USER alice@example.org", "PASS x"} {
		if cmd != "" {
			io.WriteString(conn, cmd+"\r\n")
		}
		if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("%q: %q, %v", cmd, line, err)
		}
	}
	base := liveHeap()
	io.WriteString(conn, "RETR 1\r\n")
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("RETR 1: %q, %v", line, err)
	}
	growth := peakGrowth(base)
	t.Logf("RETR of a %d MB message, not read: heap grew %.1f MB", stalledMessageBytes>>20, float64(growth)/(1<<20))
	if growth > stalledMessageBytes/4 {
		t.Errorf("heap grew %d bytes for a stalled RETR of %d bytes; want under %d", growth, stalledMessageBytes, stalledMessageBytes/4)
	}
}

// An IMAP client that sends FETCH BODY[] for a large message and reads only
// the first line of the response costs the server memory bounded by the
// pieces the message is read in, not by the message.
func TestIMAPBackend_stalledFetchHeap(t *testing.T) {
	st := storeWithBigMessage(t)
	addr := imapServe(t, st)
	conn, r := stallingConn(t, addr)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	rawCmd(t, conn, r, "a1 LOGIN alice@example.org x")
	rawCmd(t, conn, r, "a2 SELECT INBOX")
	base := liveHeap()
	io.WriteString(conn, "a3 FETCH 1 BODY[]\r\n")
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* 1 FETCH") {
		t.Fatalf("FETCH 1 BODY[]: %q, %v", line, err)
	}
	growth := peakGrowth(base)
	t.Logf("FETCH BODY[] of a %d MB message, not read: heap grew %.1f MB", stalledMessageBytes>>20, float64(growth)/(1<<20))
	if growth > stalledMessageBytes/4 {
		t.Errorf("heap grew %d bytes for a stalled FETCH of %d bytes; want under %d", growth, stalledMessageBytes, stalledMessageBytes/4)
	}
}
