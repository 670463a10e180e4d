//go:build unix

package cli

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
)

// Python's telnetlib (Debian's python3 3.11 still has it) against serve
// telnet: it refuses every option the server offers, so the console reads
// in line mode, without echo.
func TestTelnetInterop_pythonTelnetlib(t *testing.T) {
	python := peers.Need(t, "/usr/bin/python3")
	srv, _ := telnetServe(t, "")
	host, port, _ := net.SplitHostPort(srv.addrs["telnet"])
	script := `
import sys, warnings
warnings.simplefilter("ignore")
import telnetlib
seen = []
tn = telnetlib.Telnet()
tn.set_option_negotiation_callback(lambda sock, cmd, opt: (seen.append((cmd, opt)),
    sock.sendall(telnetlib.IAC + (telnetlib.DONT if cmd == telnetlib.WILL else telnetlib.WONT) + opt)
    if cmd in (telnetlib.WILL, telnetlib.DO) else None))
tn.open(sys.argv[1], int(sys.argv[2]), timeout=10)
print(repr(tn.read_until(b"inetkit> ", 10)))
print(sorted(set((c[0], o[0]) for c, o in seen if c in (telnetlib.WILL, telnetlib.DO))))
tn.write("straße\r\n".encode())
print(repr(tn.read_until(b"inetkit> ", 10)))
tn.write(b"help\r\n")
print("read GROUP [N]" in tn.read_until(b"inetkit> ", 10).decode())
tn.write(b"quit\r\n")
print(repr(tn.read_all()))
`
	cmd := exec.Command(python, "-c", script, host, port)
	cmd.Env = pythonEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	// WILL ECHO (1), WILL SGA (3); DO TERMINAL-TYPE (24), NAWS (31),
	// NEW-ENVIRON (39).
	want := `b"inetkit console: each line you type comes back upper-cased; 'help' lists the commands.\r\ninetkit> "
[(251, 1), (251, 3), (253, 24), (253, 31), (253, 39)]
b'STRASSE\r\ninetkit> '
True
b'bye\r\n'
`
	if string(out) != want {
		t.Errorf("python telnetlib printed\n%s\nwant\n%s", out, want)
	}
}

// curl's telnet:// sends its stdin to serve telnet.
func TestTelnetInterop_curl(t *testing.T) {
	curl := peers.Need(t, "curl")
	srv, _ := telnetServe(t, "")
	cmd := exec.Command(curl, "-sS", "--max-time", "10", "telnet://"+srv.addrs["telnet"])
	cmd.Stdin = strings.NewReader("hello curl\nhelp\nquit\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%q", err, out)
	}
	for _, want := range []string{"HELLO CURL\r\n", "files [PATH]"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("curl printed %q; want %q", out, want)
		}
	}
	if !strings.HasSuffix(string(out), "bye\r\n") {
		t.Errorf("curl printed %q; want bye at the end", out)
	}
}

// inetkit telnet, scripted, against inetutils-telnetd under socat running
// a program in place of login: the program reads the line sent.
func TestTelnetInterop_scriptedAgainstTelnetd(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "dummy")
	// The sleep keeps the pty open until its output is sent.
	os.WriteFile(prog, []byte("#!/bin/sh\necho \"term: $TERM\"\nprintf 'say: '\nread line\necho \"got: $line\"\nsleep 1\n"), 0o755)
	d := peers.StartTelnetd(t, prog)
	code, stdout, stderr := runMain(t, "", "telnet", "--timeout", "10s", "--expect", "say: ", "--send", "ping", "--expect", "got: ping", d.Addr)
	if code != exitOK || !strings.Contains(stdout, "term: unknown") || !strings.HasSuffix(stdout, "got: ping") {
		t.Errorf("inetkit telnet against telnetd = %d, %q, %q; want the program's prompt and its answer", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "telnet", "--timeout", "2s", "--expect", "say: ", "--send", "ping", "--expect", "got: pong", d.Addr)
	if code != exitError || !strings.Contains(stdout, "got: ping") || !strings.Contains(stderr, `--expect "got: pong"`) {
		t.Errorf("unmet --expect against telnetd = %d, %q, %q; want 1 and what telnetd sent", code, stdout, stderr)
	}
}

// The interactive client, the built binary in a tmux pane, against serve
// telnet: typing, the server's line editing, the escape to telnet> and
// back, and a resize the server sees (its status command shows the
// window).
func TestTelnetInterop_tmuxInteractive(t *testing.T) {
	bins := peers.NeedAll(t, "tmux")
	bin := inetkitBinary(t)
	srv, _ := telnetServe(t, "")
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bins[0], append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	waitPane := func(want string, n int) string {
		t.Helper()
		var pane string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			pane = tmux("capture-pane", "-p", "-t", "t")
			if strings.Count(pane, want) >= n {
				return pane
			}
		}
		t.Fatalf("pane lacks %d × %q:\n%s", n, want, pane)
		return ""
	}
	host, port, _ := net.SplitHostPort(srv.addrs["telnet"])
	// The shell keeps the pane after the client exits, with its status.
	tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", "sh", "-c",
		"TERM=xterm \"$0\" telnet \"$1\" \"$2\"; echo EXITED $?; sleep 60", bin, host, port)
	t.Cleanup(func() { exec.Command(bins[0], "-S", sock, "kill-server").Run() })
	waitPane("Escape character is '^]'.", 1)
	waitPane("inetkit>", 1)
	keys := func(k ...string) { tmux(append([]string{"send-keys", "-t", "t"}, k...)...) }
	keys("-l", "straße")
	keys("Enter")
	waitPane("STRASSE", 1)
	keys("-l", "abx")
	keys("BSpace", "c", "Enter")
	waitPane("\nABC", 1)
	keys("-l", "junk")
	keys("C-u", "o", "k", "Enter")
	pane := waitPane("\nOK", 1)
	if strings.Contains(pane, "junk") {
		t.Errorf("Ctrl-U left the erased text on screen:\n%s", pane)
	}
	keys("Up", "Up", "Enter")
	waitPane("\nABC", 2)
	keys("-l", "status")
	keys("Enter")
	waitPane("terminal:   XTERM, window 100x30", 1)
	tmux("resize-window", "-t", "t", "-x", "120", "-y", "40")
	// The client's SIGWINCH, then its NAWS, race the next line typed:
	// ask again until the server has the new size.
	for i := 0; !strings.Contains(tmux("capture-pane", "-p", "-t", "t"), "window 120x40"); i++ {
		if i == 50 {
			t.Fatalf("the server never saw the resize:\n%s", tmux("capture-pane", "-p", "-t", "t"))
		}
		keys("-l", "status")
		keys("Enter")
		waitPane("mode:", i+2)
	}

	// Ctrl-] to the telnet> prompt: status, then send ayt, which the
	// server answers, then back with an empty line.
	keys("C-]")
	waitPane("telnet>", 1)
	keys("-l", "status")
	keys("Enter")
	waitPane("Operating character at a time", 1)
	keys("C-]")
	waitPane("telnet>", 2)
	keys("-l", "send ayt")
	keys("Enter")
	waitPane("[inetkit: yes]", 1)
	keys("C-]")
	waitPane("telnet>", 3)
	keys("Enter")
	keys("-l", "back")
	keys("Enter")
	waitPane("BACK", 1)
	keys("C-]")
	waitPane("telnet>", 4)
	keys("-l", "quit")
	keys("Enter")
	waitPane("Connection closed.", 1)
	waitPane("EXITED 0", 1)
}
