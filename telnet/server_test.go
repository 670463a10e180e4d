package telnet_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/telnet"
)

func TestServer_upperWithDial(t *testing.T) {
	s := newUpperServer(t, nil)
	c, err := s.Client(&telnet.ClientOptions{Timeout: 5 * time.Second, TerminalType: "XTERM", WindowSize: func() (int, int) { return 100, 30 }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadUntil("> ", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !c.RemoteEnabled(telnet.OptionEcho) || !c.RemoteEnabled(telnet.OptionSGA) {
		t.Errorf("server ECHO %v, SGA %v; want both on", c.RemoteState(telnet.OptionEcho), c.RemoteState(telnet.OptionSGA))
	}
	c.Write([]byte("hello world\r\n"))
	i, text, err := c.Expect(5*time.Second, regexp.MustCompile(`HELLO WORLD\r\n> `))
	if err != nil || i != 0 {
		t.Fatalf("Expect = %d, %q, %v", i, text, err)
	}
	// The server echoed what was typed.
	if !strings.Contains(string(text), "hello world") {
		t.Errorf("no echo in %q", text)
	}
}

func TestServer_terminalInfo(t *testing.T) {
	got := make(chan string, 1)
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.Handler = telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
			w, h, ok := c.WindowSize()
			got <- strings.Join([]string{c.TerminalType(), itoa(w), itoa(h), boolStr(ok), boolStr(c.TLS())}, " ")
		})
	})
	c, err := s.Client(&telnet.ClientOptions{TerminalType: "VT100", WindowSize: func() (int, int) { return 132, 43 }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Negotiation is answered while the client reads.
	go c.ReadUntil("never", 2*time.Second)
	if g := <-got; g != "VT100 132 43 true false" {
		t.Errorf("handler saw %q; want %q", g, "VT100 132 43 true false")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
