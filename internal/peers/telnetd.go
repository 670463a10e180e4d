//go:build unix

package peers

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"testing"
)

// Telnetd is Debian's inetutils-telnetd run inetd-style under socat on
// Addr, 127.0.0.1 and a free port: each connection gets a telnetd that
// runs Program on its pty instead of login (telnetd -E), so no real login
// is ever offered. Without BINARY, telnetd strips the eighth bit of data.
type Telnetd struct {
	Addr    string
	Program string
	Dir     string // holds socat's log
}

// StartTelnetd runs socat and telnetd until the test ends, with program
// (an executable path) run for each connection. A program that prints
// before it exits should stay a moment (sleep 1): telnetd drops the pty
// output still unread when the program exits. It skips t, or fails it when
// INETKIT_REQUIRE_PEERS=1, when socat or telnetd is not installed.
func StartTelnetd(t testing.TB, program string) *Telnetd {
	t.Helper()
	bins := NeedAll(t, "socat", "/usr/sbin/telnetd")
	return retry(t, "telnetd", func() (*Telnetd, error) {
		dir := tempDir(t)
		d := &Telnetd{Addr: fmt.Sprintf("%s:%d", ftpIP, freePort(t, ftpIP)), Program: program, Dir: dir}
		_, port, _ := net.SplitHostPort(d.Addr)
		cmd := exec.Command(bins[0], "TCP-LISTEN:"+port+",bind="+ftpIP+",fork,reuseaddr",
			fmt.Sprintf("EXEC:%s -h -E %s", bins[1], program))
		log := filepath.Join(dir, "socat.log")
		logOnFailure(t, "socat and telnetd", log)
		return d, runLogged(t, cmd, log, d.Addr)
	})
}
