//go:build unix

package peers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// INN 2.7 (Debian's inn2) as a peer for NNTP clients. It runs from the
// system paths (/etc/news, /var/spool/news), so StartINN takes a lock (the
// one bench/nntp takes too), saves the three configuration files it
// changes and puts them back, listens on a free loopback port only, and
// removes its test group at the end. It runs only as root (INN's files
// belong to the news user).
const (
	innBin    = "/usr/lib/news/bin"
	innEtc    = "/etc/news"
	innLock   = "/tmp/inetkit-inn-test.lock"
	innServer = "inn.test"
)

// innConf sets the inn.conf parameters of the test: the port, loopback
// only, no PGP checks, no innwatch.
func innConf(orig string, port int) string {
	set := map[string]string{
		"port":          strconv.Itoa(port),
		"nnrpdpostport": strconv.Itoa(port),
		"bindaddress":   "127.0.0.1",
		"bindaddress6":  "\"::1\"",
		"pathhost":      innServer,
		"server":        "127.0.0.1",
		"pgpverify":     "false",
		"doinnwatch":    "false",
		"domain":        "localdomain",
	}
	lines := strings.Split(orig, "\n")
	for i, l := range lines {
		key, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), ":")
		if v, found := set[strings.TrimSpace(key)]; ok && found && !strings.ContainsAny(key, " \t") {
			lines[i] = key + ": " + v
			delete(set, key)
		}
	}
	for k, v := range set {
		lines = append(lines, k+": "+v)
	}
	return strings.Join(lines, "\n")
}

// innIncoming lists no peer: 127.0.0.1 is a reader, served by nnrpd.
const innIncoming = "streaming: true\nmax-connections: 8\n"

// innReaders lets loopback read, post, and send NEWNEWS and IHAVE.
const innReaders = `auth "local" {
    hosts: "localhost, 127.0.0.1, ::1, stdin"
    default: "<local>"
}
access "local" {
    users: "<local>"
    newsgroups: "*"
    access: RPAIN
}
`

// innAlive reports whether the innd of the pid file still runs.
func innAlive() bool {
	b, err := os.ReadFile("/run/news/innd.pid")
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && pid > 0 && syscall.Kill(pid, 0) == nil
}

// INNErrors returns the end of INN's error log, for a failure message.
func INNErrors() string {
	b, _ := os.ReadFile("/var/log/news/errlog")
	return string(b[max(0, len(b)-2000):])
}

// StartINN starts INN on a free loopback port with a new group, whose name
// it returns with INN's address. The cleanup stops INN, removes the group
// and its articles from the spool, and restores the configuration.
func StartINN(t *testing.T) (addr, group string) {
	t.Helper()
	progs := NeedAll(t, filepath.Join(innBin, "innd"), filepath.Join(innBin, "rc.news"), filepath.Join(innBin, "ctlinnd"), "su")
	if os.Geteuid() != 0 {
		if os.Getenv(RequirePeersEnv) == "1" {
			t.Fatal("INN's test needs root: its files belong to the news user")
		}
		t.Skip("INN's test needs root: its files belong to the news user")
	}
	lock, err := os.OpenFile(innLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
	asNews := func(cmd string) (string, error) {
		out, err := exec.Command(progs[3], "-s", "/bin/sh", "news", "-c", cmd).CombinedOutput()
		return string(out), err
	}
	if innAlive() {
		t.Skip("an INN is already running, not ours")
	}
	// A new group each run: INN's traditional spool refuses to reuse the
	// article files of a group removed and made again.
	group = fmt.Sprintf("inetkit.peer%d", time.Now().UnixNano())
	files := []string{"inn.conf", "incoming.conf", "readers.conf"}
	saved := make(map[string][]byte)
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(innEtc, f))
		if err != nil {
			t.Fatal(err)
		}
		saved[f] = b
	}
	t.Cleanup(func() {
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(innEtc, f), saved[f], 0o644); err != nil {
				t.Errorf("restoring %s: %v", f, err)
			}
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	write := map[string]string{
		"inn.conf":      innConf(string(saved["inn.conf"]), port),
		"incoming.conf": innIncoming,
		"readers.conf":  innReaders,
	}
	for f, s := range write {
		if err := os.WriteFile(filepath.Join(innEtc, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll("/run/news", 0o755); err == nil {
		exec.Command("chown", "news:news", "/run/news").Run()
	}
	if out, err := asNews(progs[1]); err != nil {
		t.Fatalf("rc.news: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		asNews(progs[2] + " rmgroup " + group)
		asNews(progs[2] + " shutdown inetkit-test")
		os.RemoveAll(filepath.Join("/var/spool/news/articles/inetkit", strings.TrimPrefix(group, "inetkit.")))
		os.RemoveAll(filepath.Join("/var/spool/news/overview/inetkit", strings.TrimPrefix(group, "inetkit.")))
		for range 200 {
			if !innAlive() {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Error("INN did not stop")
	})
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("INN not listening on %s: %v\n%s", addr, err, INNErrors())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := asNews(progs[2] + " newgroup " + group + " y"); err != nil {
		t.Fatalf("ctlinnd newgroup: %v\n%s", err, out)
	}
	return addr, group
}
