package telnet_test

import (
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/telnet"
)

// pair returns a client and a server Conn over loopback TCP, each read by
// a goroutine that collects the data, and the server's events.
func pair(t *testing.T, ccfg, scfg *telnet.Config) (client, server *telnet.Conn, events chan telnet.Event) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, _ := l.Accept()
		accepted <- nc
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	events = make(chan telnet.Event, 100)
	scfg.Server = true
	scfg.OnEvent = func(c *telnet.Conn, ev telnet.Event) { events <- ev }
	client = telnet.NewConn(nc, ccfg)
	server = telnet.NewConn(<-accepted, scfg)
	var wg sync.WaitGroup
	for _, c := range []*telnet.Conn{client, server} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	t.Cleanup(func() { client.Close(); server.Close(); wg.Wait() })
	return client, server, events
}

// waitFor waits for cond, for at most 2 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestConn_enableDisable(t *testing.T) {
	client, server, _ := pair(t, &telnet.Config{}, &telnet.Config{})
	if err := server.EnableLocal(telnet.OptionEcho); err != nil {
		t.Fatal(err)
	}
	if err := server.EnableLocal(telnet.OptionEcho); !errors.Is(err, telnet.ErrOptionAlreadyOn) {
		t.Errorf("second EnableLocal = %v; want ErrOptionAlreadyOn", err)
	}
	waitFor(t, "ECHO on", func() bool { return server.LocalEnabled(telnet.OptionEcho) && client.RemoteEnabled(telnet.OptionEcho) })
	if err := server.DisableLocal(telnet.OptionEcho); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ECHO off", func() bool {
		return server.LocalState(telnet.OptionEcho) == telnet.QNo && client.RemoteState(telnet.OptionEcho) == telnet.QNo
	})
	// A client does not agree to echo for the server.
	if err := server.EnableRemote(telnet.OptionEcho); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "remote ECHO refused", func() bool { return server.RemoteState(telnet.OptionEcho) == telnet.QNo })
	if err := server.EnableLocal(telnet.OptionLinemode); !errors.Is(err, telnet.ErrOptionNotSupported) {
		t.Errorf("EnableLocal(LINEMODE) = %v; want ErrOptionNotSupported", err)
	}
	if err := client.EnableRemote(telnet.OptionNAWS); !errors.Is(err, telnet.ErrOptionNotSupported) {
		t.Errorf("client EnableRemote(NAWS) = %v; want ErrOptionNotSupported", err)
	}
}

func TestConn_windowSizeUpdates(t *testing.T) {
	client, server, events := pair(t, &telnet.Config{TerminalType: "vt220", WindowSize: func() (int, int) { return 80, 24 }}, &telnet.Config{})
	server.EnableRemote(telnet.OptionNAWS)
	server.EnableRemote(telnet.OptionTerminalType)
	want := []string{"window size 80x24", "terminal type vt220", "window size 300x255"}
	var got []string
	for len(got) < len(want) {
		select {
		case ev := <-events:
			switch ev.Kind {
			case telnet.EventWindowSize:
				got = append(got, "window size "+itoa(ev.Width)+"x"+itoa(ev.Height))
				if ev.Width == 80 {
					// A resize: 255 goes as IAC IAC in the sub-negotiation.
					client.SetWindowSize(300, 255)
				}
			case telnet.EventTerminalType:
				got = append(got, "terminal type "+ev.TerminalType)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("events %q; want %q", got, want)
		}
	}
	// The answers may come in any order.
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("events %q; want %q", got, want)
	}
	if w, h, ok := server.WindowSize(); w != 300 || h != 255 || !ok {
		t.Errorf("WindowSize() = %d, %d, %v", w, h, ok)
	}
}

func TestScript(t *testing.T) {
	s := newUpperServer(t, nil)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out strings.Builder
	script := telnet.Script{
		Timeout: 5 * time.Second,
		Output:  &out,
		Steps: []telnet.Step{
			{Expect: regexp.MustCompile(`> $`), Send: "one\r\n"},
			{Expect: regexp.MustCompile(`ONE\r\n> `), Send: "quit\r\n"},
			{Expect: regexp.MustCompile(`bye`)},
		},
	}
	if err := script.Run(c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ONE") {
		t.Errorf("output %q", out.String())
	}
	_, err = c.ReadUntil("never", 200*time.Millisecond)
	var ee *telnet.ExpectError
	if !errors.As(err, &ee) {
		t.Errorf("ReadUntil after the end = %v; want an *ExpectError", err)
	}
}
