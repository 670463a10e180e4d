// Package peers starts Debian's mail and FTP servers as real peers for
// interoperability tests of inetkit's clients: Dovecot for IMAP (RFC 3501)
// and POP3 (RFC 1939), Postfix's smtp-sink, which keeps what it receives,
// a private Postfix MTA for SMTP (RFC 5321) with STARTTLS (RFC 3207)
// and AUTH (RFC 4954), and vsftpd and pyftpdlib for FTP (RFC 959), with
// explicit TLS (RFC 4217) if asked. Each runs in its own temporary
// directory on loopback ports, and is killed by the test's cleanup.
//
// A test that needs a program, a server or a client such as python3 or
// curl, checks for it with Need or NeedAll, naming the exact binaries it
// runs (StartDovecot does, for the protocols it is asked for). When one is
// not installed the test is skipped, unless INETKIT_REQUIRE_PEERS=1 (as in
// CI, which installs them), when it fails. Need and NeedAll build
// everywhere; the servers build on Unix only (they kill process groups).
package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// RequirePeersEnv names the environment variable that, set to 1, turns a
// missing program into a test failure.
const RequirePeersEnv = "INETKIT_REQUIRE_PEERS"

// Need returns the path of program, and skips t when it is not installed,
// or fails it when INETKIT_REQUIRE_PEERS=1. program is a name, looked up
// in $PATH and then in /usr/sbin and /usr/local/sbin (where a user's $PATH
// may not reach), or an absolute path.
func Need(t testing.TB, program string) string {
	t.Helper()
	return NeedAll(t, program)[0]
}

// NeedAll is Need for every program that a test runs: it returns their
// paths, in order, or skips (or fails) t naming each one that is missing.
func NeedAll(t testing.TB, programs ...string) []string {
	t.Helper()
	paths := make([]string, len(programs))
	var missing, packages []string
	for i, p := range programs {
		if paths[i] = lookPath(p); paths[i] == "" {
			missing = append(missing, p)
			if pkg := debianPackages[filepath.Base(p)]; pkg != "" && !slices.Contains(packages, pkg) {
				packages = append(packages, pkg)
			}
		}
	}
	if len(missing) == 0 {
		return paths
	}
	msg := "not installed: " + strings.Join(missing, ", ")
	if len(packages) > 0 {
		msg += " (Debian packages: " + strings.Join(packages, " ") + ")"
	}
	Missing(t, msg)
	return paths
}

// Missing skips t because a peer (a program, or a part of one such as a
// Python module) is missing, as msg says, or fails it when
// INETKIT_REQUIRE_PEERS=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequirePeersEnv) == "1" {
		t.Fatalf("%s; %s=1 requires it", msg, RequirePeersEnv)
	}
	t.Skip(msg)
}

// lookPath returns the path of program, or "".
func lookPath(program string) string {
	if filepath.IsAbs(program) {
		if isExec(program) {
			return program
		}
		return ""
	}
	if p, err := exec.LookPath(program); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		if p := filepath.Join(dir, program); isExec(p) {
			return p
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// debianPackages names the Debian package of each program the tests run,
// by base name, for the message of a missing one.
var debianPackages = map[string]string{
	"dovecot":    "dovecot-core",
	"imap":       "dovecot-imapd",
	"imap-login": "dovecot-imapd",
	"pop3":       "dovecot-pop3d",
	"pop3-login": "dovecot-pop3d",
	"postfix":    "postfix",
	"smtp-sink":  "postfix",
	"python3":    "python3",
	"vsftpd":     "vsftpd",
	"curl":       "curl",
	"telnetd":    "inetutils-telnetd",
	"innd":       "inn2",
	"rc.news":    "inn2",
	"ctlinnd":    "inn2",
	"telnet":     "inetutils-telnet",
	"socat":      "socat",
	"tmux":       "tmux",
}
