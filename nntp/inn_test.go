//go:build unix

package nntp_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/nntp"
)

// INN 2.7 (Debian's inn2) as a peer for the client. It runs from the
// system paths (/etc/news, /var/spool/news), so the starter below takes a
// lock, saves the three configuration files it changes and puts them back,
// listens on a free loopback port only, and removes its test group at the
// end. It runs only as root (INN's files belong to the news user).
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

// innErrors returns the end of INN's error log, for a failure message.
func innErrors() string {
	b, _ := os.ReadFile("/var/log/news/errlog")
	return string(b[max(0, len(b)-2000):])
}

// startINN starts INN on a free loopback port with a new group, whose name
// it returns with INN's address. The cleanup stops INN, removes the group
// and its articles from the spool, and restores the configuration.
func startINN(t *testing.T) (addr, group string) {
	t.Helper()
	progs := peers.NeedAll(t, filepath.Join(innBin, "innd"), filepath.Join(innBin, "rc.news"), filepath.Join(innBin, "ctlinnd"), "su")
	if os.Geteuid() != 0 {
		if os.Getenv(peers.RequirePeersEnv) == "1" {
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
			t.Fatalf("INN not listening on %s: %v\n%s", addr, err, innErrors())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := asNews(progs[2] + " newgroup " + group + " y"); err != nil {
		t.Fatalf("ctlinnd newgroup: %v\n%s", err, out)
	}
	return addr, group
}

// TestInterop_inn runs the client against INN: capabilities, MODE READER,
// LIST, GROUP, POST of dot lines and reading it back (ARTICLE, HEAD, BODY,
// STAT, OVER), NEWNEWS, IHAVE, DATE, QUIT.
func TestInterop_inn(t *testing.T) {
	addr, innGroup := startINN(t)
	var c *nntp.Client
	var err error
	for range 50 { // nnrpd may take a moment after newgroup
		if c, err = nntp.Dial(t.Context(), addr, &nntp.ClientOptions{Timeout: 10 * time.Second}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ModeReader(); err != nil {
		t.Fatalf("ModeReader: %v", err)
	}
	caps, err := c.Capabilities()
	if err != nil || !slices.Equal(caps["VERSION"], []string{"2"}) {
		t.Errorf("Capabilities = %v, %v", caps, err)
	}
	groups, err := c.List(innGroup)
	if err != nil || len(groups) != 1 || groups[0].Name != innGroup {
		t.Fatalf("List = %+v, %v", groups, err)
	}
	id := fmt.Sprintf("<%d.peer@inetkit.example>", time.Now().UnixNano())
	body := ".\r\n..x\r\n.hidden\r\nend\r\n"
	got, err := c.Post(strings.NewReader("From: Inetkit <test@inetkit.example>\r\nNewsgroups: " + innGroup + "\r\nSubject: dots\r\nMessage-ID: " + id + "\r\n\r\n" + body))
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if got != id {
		t.Errorf("Post = %q; want %q", got, id)
	}
	var g nntp.Group
	for range 50 { // innd files the article a moment after nnrpd's 240
		if g, err = c.Group(innGroup); err == nil && g.Count > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || g.Count != 1 {
		t.Fatalf("Group = %+v, %v\n%s", g, err, innErrors())
	}
	ar, err := c.Body(id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(ar)
	ar.Close()
	if string(b) != body {
		t.Errorf("body from INN %q; want %q", b, body)
	}
	ar, err = c.Article(strconv.FormatInt(g.High, 10))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(ar)
	ar.Close()
	if ar.MessageID != id || !regexp.MustCompile(`(?m)^Path: `).Match(b) || !strings.HasSuffix(string(b), "\r\n\r\n"+body) {
		t.Errorf("article %s from INN: %q", ar.MessageID, b)
	}
	if n, mid, err := c.Stat(""); err != nil || n != g.High || mid != id {
		t.Errorf("Stat = %d %s %v", n, mid, err)
	}
	ovs, err := c.Over(g.Low, 0)
	if err != nil || len(ovs) != 1 || ovs[0].MessageID != id || ovs[0].Subject != "dots" {
		t.Errorf("Over = %+v, %v", ovs, err)
	}
	ids, err := c.NewNews(innGroup, time.Now().Add(-time.Hour))
	if err != nil || !slices.Contains(ids, id) {
		t.Errorf("NewNews = %v, %v", ids, err)
	}
	if err := c.IHave(id, strings.NewReader("x")); err == nil {
		t.Error("IHave of an article INN has succeeded")
	}
	if d, err := c.Date(); err != nil || time.Since(d).Abs() > time.Hour {
		t.Errorf("Date = %v, %v", d, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}
