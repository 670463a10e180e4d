package uppertest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/upper/uppertest"
)

func TestServer_Close(t *testing.T) {
	s := uppertest.NewServer(&upper.Handler{Mode: upper.ModeLine})
	if got, err := s.Exchange(context.Background(), []byte("straße\n")); err != nil || string(got) != "STRASSE\n" {
		t.Fatalf("Exchange(%q) = %q, %v; want %q, nil", "straße\n", got, err, "STRASSE\n")
	}
	// A connection in the middle of a session is closed by Close.
	open, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	open.SetDeadline(time.Now().Add(5 * time.Second))
	open.Write([]byte("a\n"))
	if _, err := io.ReadFull(open, make([]byte, 2)); err != nil {
		t.Fatal(err)
	}

	s.Close()
	s.Close() // a second Close does nothing
	if n, err := open.Read(make([]byte, 1)); err == nil || os.IsTimeout(err) {
		t.Errorf("Read() on a connection open at Close = %d, %v; want EOF or a reset", n, err)
	}
	if c, err := net.Dial("tcp", s.Addr); err == nil {
		c.Close()
		t.Errorf("Dial(%s) after Close succeeded; want connection refused", s.Addr)
	}
}

func TestNewUnstartedServer_config(t *testing.T) {
	var log bytes.Buffer
	s := uppertest.NewUnstartedServer(nil)
	if s.Addr != "" {
		t.Errorf("Addr = %q before Start; want empty", s.Addr)
	}
	s.Config.IdleTimeout = 200 * time.Millisecond
	s.Handler.Mode = upper.ModeLine
	s.Handler.Logger = slog.New(slog.NewTextHandler(&log, nil))
	s.Start()
	defer s.Close()

	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Write([]byte("one\ntwo\n")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("ONE\nTWO\n"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ONE\nTWO\n" {
		t.Errorf("line mode replies = %q, %v; want %q", got, err, "ONE\nTWO\n")
	}
	// The client now stays silent: the idle timeout ends the connection.
	if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
		t.Errorf("after the replies: %q, %v; want EOF", rest, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 4*time.Second {
		t.Errorf("silent connection closed after %v; want the idle timeout, 200ms", d)
	}
	s.Close() // the Handler's logger is written to by then
	if !strings.Contains(log.String(), "msg=received") {
		t.Errorf("Handler.Logger got %q; want the received lines", log.String())
	}
}

func TestServer_unix(t *testing.T) {
	s := uppertest.NewUnstartedServer(nil)
	s.Config.Network = "unix"
	s.Start()
	if got, err := upper.Exchange(context.Background(), "unix", s.Addr, []byte("hi"), nil); err != nil || string(got) != "HI" {
		t.Errorf("Exchange(unix, %s, hi) = %q, %v; want HI, nil", s.Addr, got, err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Dir(s.Addr)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, Stat(socket's directory) = %v; want it removed", err)
	}
}

func TestServer_startTwice(t *testing.T) {
	s := uppertest.NewServer(nil)
	defer s.Close()
	defer func() {
		if recover() == nil {
			t.Error("a second Start did not panic")
		}
	}()
	s.Start()
}

func TestPacketServer(t *testing.T) {
	for _, network := range []string{"udp", "unixgram"} {
		t.Run(network, func(t *testing.T) {
			s := uppertest.NewUnstartedPacketServer(nil)
			s.Config.Network = network
			s.Config.MaxPacketBytes = 4 // a Config change: longer datagrams are truncated
			s.Start()
			if got, err := s.Exchange(context.Background(), []byte("straße")); err != nil || string(got) != "STRA" {
				t.Errorf("Exchange(straße) = %q, %v; want STRA (4 bytes read), nil", got, err)
			}
			s.Close()
			opts := &upper.ClientOptions{Timeout: 300 * time.Millisecond}
			if got, err := upper.Exchange(context.Background(), network, s.Addr, []byte("x"), opts); err == nil {
				t.Errorf("Exchange after Close = %q, nil; want an error", got)
			}
		})
	}
}
