//go:build unix

package cli

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A client that asks for a large message over IMAP and never reads it holds
// a connection in the middle of a command; on SIGTERM the drain runs out,
// the connection is closed and serve exits 0 within the drain, every service
// stopped (before, go-imap's writer stayed locked and Close never returned).
func TestServeMail_stalledFetchShutsDown(t *testing.T) {
	srv, data := mailServe(t, "--drain", "500ms")
	file := filepath.Join(t.TempDir(), "big.eml")
	line := strings.Repeat("x", 998) + "\r\n"
	os.WriteFile(file, []byte("Subject: big\r\n\r\n"+strings.Repeat(line, 8<<10)), 0o644) // 8 MiB
	if code, stdout, stderr := runMain(t, "", "send", "smtp://"+srv.addrs["smtp"], "--data", data,
		"--from", "a@x.org", "--to", "b@x.org", "--timeout", "60s", file); code != exitOK {
		t.Fatalf("send = %d, %q, %q", code, stdout, stderr)
	}
	// A small receive buffer, set before the connection is made, so that
	// the message cannot fit in the socket buffers whatever the kernel's
	// autotuning.
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	nc, err := d.Dial("tcp", srv.addrs["imap"])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := &textConn{nc, bufio.NewReaderSize(nc, 512)}
	c.expect(t, "* OK")
	c.send(t, "a LOGIN b@x.org p")
	c.readUntil(t, "a OK")
	c.send(t, "b SELECT INBOX")
	c.readUntil(t, "b OK")
	c.send(t, "c FETCH 1 BODY[]")
	c.expect(t, "* 1 FETCH")
	// The client reads no more: the server's writes fill the socket buffers.
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve exited %d after SIGTERM with a stalled FETCH; log:\n%s", code, srv.stderr.String())
	}
	if log := srv.stderr.String(); strings.Contains(log, "did not stop") {
		t.Errorf("a service did not stop:\n%s", log)
	}
}
