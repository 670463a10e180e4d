package sockserver_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/inetkit/inetkit/sockserver"
)

// A live server whose backlog is full refuses the probe with EAGAIN, not
// ECONNREFUSED: its socket file must not be taken for a stale one.
func TestServerListenUnixBusySocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "busy.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rc, err := l.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = syscall.Listen(int(fd), 0) }); err != nil || lerr != nil {
		t.Fatalf("shrinking the backlog: %v, %v", err, lerr)
	}
	full := false
	for range 16 {
		c, err := net.Dial("unix", path)
		if errors.Is(err, syscall.EAGAIN) {
			full = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	if !full {
		t.Fatal("the backlog did not fill up")
	}
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}

	s := &sockserver.Server{Network: "unix", Addr: path, Logger: quiet, Handler: sockserver.HandlerFunc(echo)}
	if l2, err := s.Listen(context.Background()); err == nil {
		l2.Close()
		t.Error("Listen() on a live socket = nil error; want an error")
	}
	after, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("Listen removed the live socket file: %v", err)
	}
	if !os.SameFile(before, after) {
		t.Error("Listen replaced the live socket file")
	}
}
