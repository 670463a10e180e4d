package telnet_test

import (
	"errors"
	"io"
	"syscall"
	"testing"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/telnet/telnettest"
)

// TestServer_faults: a telnet client whose connection is reset as it opens
// sees the reset; the next client is served.
func TestServer_faults(t *testing.T) {
	t.Parallel()
	s := telnettest.NewUnstartedServer(upperHandler)
	s.Config.Faults = fault.MustParseSet(1, "telnet connect reset first=1")
	s.Start()
	defer s.Close()
	c, err := s.Client(nil)
	if err == nil {
		_, err = io.ReadAll(c)
		c.Close()
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("first client: %v; want ECONNRESET", err)
	}
	c, err = s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 7)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello\r\n" {
		t.Errorf("second client read %q, %v; want the greeting", buf, err)
	}
}
