package telnet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/telnet"
)

// TestInterop_pythonTelnetlib runs Python's telnetlib (Debian's python3
// 3.11 still has it) against the upper server. telnetlib refuses every
// option, so the server reads lines in line mode, without echo.
func TestInterop_pythonTelnetlib(t *testing.T) {
	python := peers.Need(t, "/usr/bin/python3")
	s := newUpperServer(t, nil)
	host, port, _ := net.SplitHostPort(s.Addr)
	script := `
import sys, warnings
warnings.simplefilter("ignore")
import telnetlib
tn = telnetlib.Telnet(sys.argv[1], int(sys.argv[2]), timeout=5)
print(repr(tn.read_until(b"> ", 5)))
tn.write(b"hello world\r\n")
print(repr(tn.read_until(b"> ", 5)))
tn.write(b"a\xffb\n")
print(repr(tn.read_until(b"> ", 5)))
tn.sock.sendall(telnetlib.IAC + telnetlib.AYT)
print(repr(tn.read_until(b"yes]\r\n", 5)))
tn.write(b"quit\r\n")
print(repr(tn.read_all()))
`
	out, err := exec.Command(python, "-c", script, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := `b'hello\r\n> '
b'HELLO WORLD\r\n> '
b'A\xffB\r\n> '
b'\r\n[inetkit: yes]\r\n'
b'bye\r\n'
`
	if string(out) != want {
		t.Errorf("python telnetlib printed\n%s\nwant\n%s", out, want)
	}
}

// TestInterop_curl sends stdin to the upper server with curl's telnet://.
func TestInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	s := newUpperServer(t, nil)
	cmd := exec.Command(curl, "-sS", "--max-time", "10", "telnet://"+s.Addr)
	cmd.Stdin = strings.NewReader("hello curl\nquit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%q", err, out)
	}
	if !strings.Contains(string(out), "HELLO CURL\r\n") || !strings.HasSuffix(string(out), "bye\r\n") {
		t.Errorf("curl printed %q; want HELLO CURL and bye", out)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestInterop_dialTelnetd dials Debian's inetutils-telnetd, run under socat
// with a test program instead of login: the program sees the terminal type
// and the window size Dial negotiated, and a line typed.
func TestInterop_dialTelnetd(t *testing.T) {
	bins := peers.NeedAll(t, "socat", "/usr/sbin/telnetd")
	dir := t.TempDir()
	prog := filepath.Join(dir, "dummy")
	// telnetd starts the program once it has the terminal type and sets
	// the pty's size whenever NAWS arrives, which may be just after: the
	// program waits up to 2 s for a size. The sleep at the end keeps the
	// pty open until its output is sent: telnetd drops what is unread when
	// the program exits.
	os.WriteFile(prog, []byte("#!/bin/sh\ni=0\nwhile [ \"$(stty size)\" = \"0 0\" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done\n"+
		"echo \"size: $(stty size) term: $TERM\"\nprintf 'say: '\nread line\necho \"got: $line\"\nsleep 1\n"), 0o755)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	socat := exec.CommandContext(ctx, bins[0], "TCP-LISTEN:"+port+",bind=127.0.0.1,fork,reuseaddr",
		fmt.Sprintf("EXEC:%s -h -E %s", bins[1], prog))
	var stderr strings.Builder
	socat.Stderr = &stderr
	if err := socat.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); socat.Wait() })
	addr := "127.0.0.1:" + port
	var c *telnet.Conn
	var err error
	for i := 0; i < 50; i++ {
		c, err = telnet.Dial(context.Background(), addr, &telnet.ClientOptions{
			Timeout: 5 * time.Second, TerminalType: "XTERM",
			WindowSize: func() (int, int) { return 91, 27 },
		})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	text, err := c.ReadUntil("say: ", 10*time.Second)
	if err != nil {
		t.Fatalf("%v; socat and telnetd said %q", err, stderr.String())
	}
	if !strings.Contains(string(text), "size: 27 91 term: xterm") {
		t.Errorf("program printed %q; want the size and terminal type", text)
	}
	if !c.RemoteEnabled(telnet.OptionEcho) || !c.RemoteEnabled(telnet.OptionSGA) {
		t.Errorf("telnetd ECHO %v SGA %v; want both on", c.RemoteState(telnet.OptionEcho), c.RemoteState(telnet.OptionSGA))
	}
	c.Write([]byte("ping\r\n"))
	if _, err := c.ReadUntil("got: ping", 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestInterop_tmuxTelnet types into inetutils' telnet client, in a tmux
// pane, connected to the upper server: character mode with the server's
// line editor, and a window resize the server sees as NAWS.
func TestInterop_tmuxTelnet(t *testing.T) {
	bins := peers.NeedAll(t, "tmux", "telnet")
	s := newUpperServer(t, func(srv *telnet.Server) {
		srv.Config = &telnet.Config{
			Offer:    []telnet.Option{telnet.OptionEcho, telnet.OptionSGA},
			Request:  []telnet.Option{telnet.OptionTerminalType, telnet.OptionNAWS},
			AYTReply: telnet.DefaultAYTReply,
			OnEvent: func(c *telnet.Conn, ev telnet.Event) {
				if ev.Kind == telnet.EventWindowSize {
					fmt.Fprintf(c, "[size %dx%d]\r\n", ev.Width, ev.Height)
				}
			},
		}
	})
	host, port, _ := net.SplitHostPort(s.Addr)
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bins[0], append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	waitPaneN := func(want string, n int) string {
		t.Helper()
		var pane string
		for i := 0; i < 100; i++ {
			pane = tmux("capture-pane", "-p", "-t", "t")
			if strings.Count(pane, want) >= n {
				return pane
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("pane lacks %d × %q:\n%s", n, want, pane)
		return ""
	}
	tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", bins[1]+" "+host+" "+port)
	t.Cleanup(func() { exec.Command(bins[0], "-S", sock, "kill-server").Run() })
	waitPane := func(want string) string {
		t.Helper()
		return waitPaneN(want, 1)
	}
	waitPane("hello")
	waitPane("[size 100x30]")
	tmux("send-keys", "-t", "t", "-l", "typing")
	tmux("send-keys", "-t", "t", "Enter")
	waitPane("TYPING")
	tmux("send-keys", "-t", "t", "-l", "abx")
	tmux("send-keys", "-t", "t", "BSpace", "c", "Enter")
	waitPane("ABC")
	tmux("send-keys", "-t", "t", "-l", "junk")
	tmux("send-keys", "-t", "t", "C-u", "o", "k", "Enter")
	waitPane("\nOK")
	tmux("send-keys", "-t", "t", "-l", "ac")
	tmux("send-keys", "-t", "t", "Left")
	tmux("send-keys", "-t", "t", "q")
	tmux("send-keys", "-t", "t", "Enter")
	waitPane("AQC")
	tmux("send-keys", "-t", "t", "Up", "Up", "Enter")
	pane := waitPaneN("> ok\nOK\n", 2)
	if strings.Contains(pane, "junk") {
		t.Errorf("Ctrl-U left the erased text on screen:\n%s", pane)
	}
	tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
	waitPane("[size 120x40]")
}
