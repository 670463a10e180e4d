package cli

import (
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/nntp"
)

// nntpServe runs `inetkit serve nntp` in process on free loopback ports
// (STARTTLS and implicit TLS) over a new data directory.
func nntpServe(t *testing.T, extra ...string) (*mainServer, string) {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"serve", "nntp", "--data", data, "--nntp-addr", "127.0.0.1:0", "--nntps-addr", "127.0.0.1:0"}, extra...)
	srv := startMain(t, []string{"nntp"}, args...)
	log := srv.stderr.waitFor(t, srv.done, 10*time.Second, "the nntp listeners", func(s string) bool {
		return len(nntpListenRE.FindAllString(s, -1)) == 2
	})
	for _, m := range nntpListenRE.FindAllStringSubmatch(log, -1) {
		srv.addrs[map[string]string{"starttls": "nntp", "implicit": "nntps"}[m[2]]] = m[1]
	}
	return srv, data
}

var nntpListenRE = regexp.MustCompile(`msg="waiting for clients" service=nntp addr=(\S+) tls=(\S+)`)

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runMain(t, stdin, args...)
	if code != exitOK {
		t.Fatalf("inetkit %q = %d, stdout %q, stderr %q; want 0", args, code, stdout, stderr)
	}
	return stdout
}

// serve nntp with news, get and send: groups made while the server runs,
// articles posted as a body and as a prepared article, read by number and
// message-id, over STARTTLS and implicit TLS, the table and JSON forms;
// the counts of news list-groups follow what NNTP posted.
func TestServeNNTP(t *testing.T) {
	srv, data := nntpServe(t)
	addr, tlsAddr := srv.addrs["nntp"], srv.addrs["nntps"]
	if out := mustRun(t, "", "news", "add-group", "--data", data, "local.talk", "Talk about anything"); out != "added newsgroup local.talk\n" {
		t.Errorf("news add-group = %q", out)
	}
	if code, _, stderr := runMain(t, "", "news", "add-group", "--data", data, "local.talk"); code != exitError || !strings.Contains(stderr, "newsgroup local.talk exists") {
		t.Errorf("news add-group twice = %d, %q", code, stderr)
	}
	if code, _, stderr := runMain(t, "", "news", "add-group", "--data", data, "bad,name"); code != exitUsage || !strings.Contains(stderr, "not a newsgroup name") {
		t.Errorf("news add-group bad,name = %d, %q", code, stderr)
	}

	id1 := strings.TrimSpace(mustRun(t, "hello\n.dot\n..two\n", "send", "nntp://"+addr+"/local.talk", "--from", "me@example.org", "--subject", "hi ünï", "-"))
	if !regexp.MustCompile(`^<[^<>@ ]+@[^<>@ ]+>$`).MatchString(id1) {
		t.Fatalf("send printed %q; want a message-id", id1)
	}
	art := "From: Alice <alice@example.org>\nSubject: prepared\nMessage-ID: <prepared@example.org>\n\nbody line\n"
	if id := strings.TrimSpace(mustRun(t, art, "send", "nntp://"+addr+"/local.talk,inetkit.test", "-")); id != "<prepared@example.org>" {
		t.Errorf("send of a prepared article printed %q", id)
	}
	if code, _, stderr := runMain(t, "just a body\n", "send", "nntp://"+addr+"/local.talk", "--from", "a@b.c", "-"); code != exitError || !strings.Contains(stderr, "not an article") {
		t.Errorf("send of a body without --subject = %d, %q; want the reason", code, stderr)
	}

	groups := mustRun(t, "", "get", "nntp://"+addr+"/")
	if !regexp.MustCompile(`(?m)^local\.talk\s+2\s+1\s+2\s+y$`).MatchString(groups) || !regexp.MustCompile(`(?m)^inetkit\.test\s+1\s+1\s+1\s+y$`).MatchString(groups) {
		t.Errorf("get nntp:// groups:\n%s", groups)
	}
	over := mustRun(t, "", "get", "nntp://"+addr+"/local.talk")
	if !regexp.MustCompile(`(?m)^1\s+.+\s+me@example\.org\s+hi ünï$`).MatchString(over) || !regexp.MustCompile(`(?m)^2\s+.+Alice <alice@example\.org>\s+prepared$`).MatchString(over) {
		t.Errorf("get nntp://…/local.talk:\n%s", over)
	}
	var doc struct {
		Group    string
		Count    int64
		Articles []jsonOverview
	}
	out := mustRun(t, "", "get", "--json", "nntps://"+tlsAddr+"/local.talk?range=2-")
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Count != 2 || len(doc.Articles) != 1 || doc.Articles[0].MessageID != "<prepared@example.org>" {
		t.Errorf("get --json nntps://…/local.talk?range=2- = %s (%v)", out, err)
	}
	body := mustRun(t, "", "get", "--tls", "require", "nntp://"+addr+"/local.talk/1")
	if !strings.Contains(body, "Message-ID: "+id1+"\r\n") || !strings.HasSuffix(body, "\r\n\r\nhello\r\n.dot\r\n..two\r\n") {
		t.Errorf("get nntp://…/local.talk/1:\n%q", body)
	}
	for _, u := range []string{"nntp://" + addr + "/%3Cprepared%40example.org%3E", "nntp://" + addr + "/prepared@example.org", "nntps://" + tlsAddr + "/<prepared@example.org>"} {
		if a := mustRun(t, "", "get", u); !strings.Contains(a, "Xref: ") || !strings.HasSuffix(a, "\r\n\r\nbody line\r\n") {
			t.Errorf("get %s:\n%q", u, a)
		}
	}
	if code, _, stderr := runMain(t, "", "get", "nntp://"+addr+"/nosuch@example.org"); code != exitError || !strings.Contains(stderr, "430") {
		t.Errorf("get of an unknown message-id = %d, %q; want 430", code, stderr)
	}

	// Cross-protocol: what NNTP posted is in the store's counts.
	var list struct{ Groups []jsonGroup }
	if err := json.Unmarshal([]byte(mustRun(t, "", "news", "list-groups", "--data", data, "--json")), &list); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, g := range list.Groups {
		counts[g.Name] = g.Count
	}
	if counts["local.talk"] != 2 || counts["inetkit.test"] != 1 {
		t.Errorf("news list-groups counts = %v; want local.talk 2, inetkit.test 1", counts)
	}
	if out := mustRun(t, "", "news", "rm-group", "--data", data, "local.talk"); out != "removed newsgroup local.talk\n" {
		t.Errorf("news rm-group = %q", out)
	}
	if code, _, stderr := runMain(t, "", "get", "nntp://"+addr+"/local.talk"); code != exitError || !strings.Contains(stderr, "411") {
		t.Errorf("get of a removed group = %d, %q; want 411", code, stderr)
	}
	if a := mustRun(t, "", "get", "nntp://"+addr+"/prepared@example.org"); !strings.Contains(a, "prepared") {
		t.Error("the crossposted article went with the group removed")
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve exited %d", code)
	}
}

// The store's accounts log in to NNTP and to mail alike under --auth
// accounts; without a login nobody posts; off loopback serve refuses to
// start without accounts.
func TestServeNNTPAccounts(t *testing.T) {
	data := t.TempDir()
	mustRun(t, "s3cret\n", "user", "add", "--data", data, "alice@example.org")
	srv := startMain(t, []string{"nntp", "pop3"}, "serve", "nntp", "pop3", "--auth", "accounts", "--data", data,
		"--nntp-addr", "127.0.0.1:0", "--pop3-addr", "127.0.0.1:0")
	user := "alice%40example.org:s3cret@"
	if id := mustRun(t, "", "send", "nntp://"+user+srv.addrs["nntp"]+"/inetkit.test", "--from", "alice@example.org", "--subject", "s", "--body", "b"); !strings.HasPrefix(id, "<") {
		t.Errorf("send as an account = %q", id)
	}
	if out := mustRun(t, "", "get", "pop3://"+user+srv.addrs["pop3"]+"/"); !strings.HasPrefix(out, "N") {
		t.Errorf("pop3 login of the same account: %q", out)
	}
	code, _, stderr := runMain(t, "", "send", "nntp://"+srv.addrs["nntp"]+"/inetkit.test", "--from", "x@example.org", "--subject", "s", "--body", "b")
	if code != exitError || !strings.Contains(stderr, "480") {
		t.Errorf("anonymous send under --auth accounts = %d, %q; want 480", code, stderr)
	}
	code, _, stderr = runMain(t, "", "get", "nntp://alice%40example.org:wrong@"+srv.addrs["nntp"]+"/")
	if code != exitError || !strings.Contains(stderr, "481") {
		t.Errorf("get with a wrong password = %d, %q; want 481", code, stderr)
	}
	srv.stop(t)

	code, _, stderr = runMain(t, "", "serve", "nntp", "--data", t.TempDir(), "--nntp-addr", "0.0.0.0:0")
	if code != exitError || !strings.Contains(stderr, "nntp listeners on a non-loopback address need accounts") {
		t.Errorf("serve nntp off loopback without accounts = %d, %q", code, stderr)
	}
}

// Python's nntplib (Debian's Python 3.11 still has it) through serve nntp:
// STARTTLS verified against the local CA, AUTHINFO, POST of a body of dot
// lines (HARDENING N1), read back by number and by message-id.
func TestServeNNTPPython(t *testing.T) {
	python := peers.Need(t, "/usr/bin/python3")
	if err := exec.Command(python, "-c", "import nntplib").Run(); err != nil {
		t.Skipf("%s has no nntplib: %v", python, err)
	}
	srv, _ := nntpServe(t)
	script := `
import nntplib, ssl, sys, warnings
warnings.simplefilter("ignore")
port, ca = int(sys.argv[1]), sys.argv[2]
s = nntplib.NNTP("127.0.0.1", port, timeout=10)
s.starttls(ssl.create_default_context(cafile=ca))
s.login("anyone@example.org", "any", usenetrc=False)
body = [b".", b"..x", b".hidden", b"...", b"end"]
art = [b"From: Py <py@example.org>", b"Newsgroups: inetkit.test", b"Subject: dots", b"Message-ID: <dots@py.example>", b""] + body
s.post(art)
resp, count, first, last, name = s.group("inetkit.test")
assert count == 1, count
_, info = s.article(str(last))
assert info.lines[-5:] == body, info.lines
_, info = s.body("<dots@py.example>")
assert info.lines == body, info.lines
_, ovs = s.over((first, last))
assert ovs[0][1]["subject"] == "dots", ovs
s.quit()
print("ok")
`
	stdout, stderr, code := runPython(t, 60*time.Second, "-c", script, portOf(t, srv.addrs["nntp"]), userCAFile(t))
	if code != 0 || stdout != "ok\n" {
		t.Fatalf("nntplib: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// Usage errors of news, get and send for nntp URLs.
func TestNNTPUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"get", "nntp://h/g/x"}, "want an article number"},
		{[]string{"get", "nntp://h/g/1", "--json"}, "--json is for listings"},
		{[]string{"get", "nntp://h/g?range=x"}, "want N, N- or N-M"},
		{[]string{"get", "nntp://h/g?foo=1"}, `unknown query "foo"`},
		{[]string{"get", "nntp://h/g", "--delete"}, "are for mail"},
		{[]string{"send", "nntp://h/", "--subject", "s"}, "posts to a group"},
		{[]string{"send", "nntp://h/g"}, "needs an article FILE"},
		{[]string{"send", "nntp://h/g", "--body", "x"}, "--body needs --subject"},
		{[]string{"send", "nntp://h/g", "--to", "a@b", "f"}, "--to is for smtp"},
		{[]string{"news", "rm-group"}, "takes a NAME"},
		{[]string{"bench", "nntp://h/"}, "want one group"},
		{[]string{"bench", "--op", "x", "nntp://h/g"}, "--op must be post, over or article"},
		{[]string{"bench", "--op", "over", "tcp://h:1"}, "--op is for nntp://"},
	}
	for _, tc := range tests {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("inetkit %q = %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// inetkit bench nntp:// posts durable articles and reads the overview of
// them all back.
func TestBenchNNTP(t *testing.T) {
	srv, _ := nntpServe(t)
	u := "nntp://" + srv.addrs["nntp"] + "/inetkit.test"
	var rep benchReport
	if err := json.Unmarshal([]byte(mustRun(t, "", "bench", "--json", "-c", "2", "-n", "50", u)), &rep); err != nil || rep.Requests != 50 || rep.Articles == nil || *rep.Articles != 50 {
		t.Fatalf("bench post: %+v, %v", rep, err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "bench", "--json", "--op", "over", "-n", "4", u)), &rep); err != nil || rep.Requests != 4 || *rep.Articles != 200 {
		t.Errorf("bench over: %+v, %v", rep, err)
	}
	if err := json.Unmarshal([]byte(mustRun(t, "", "bench", "--json", "--op", "article", "--starttls", "-n", "5", u)), &rep); err != nil || rep.Requests != 5 {
		t.Errorf("bench article: %+v, %v", rep, err)
	}
	c, err := nntp.Dial(context.Background(), srv.addrs["nntp"], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g, err := c.Group("inetkit.test"); err != nil || g.Count != 50 {
		t.Errorf("Group after the bench = %+v, %v; want 50 articles", g, err)
	}
}

// inetkit get and send against INN 2.7 (innd and nnrpd): the list of
// groups, a post, the group's overview, the article by number and by
// message-id.
func TestNNTPClientINN(t *testing.T) {
	addr, group := peers.StartINN(t)
	var id string
	for range 50 { // nnrpd may take a moment after newgroup
		code, stdout, _ := runMain(t, ".dot\nbody\n", "send", "--tls", "none", "nntp://"+addr+"/"+group, "--from", "Inetkit <test@inetkit.example>", "--subject", "from inetkit", "-")
		if code == exitOK {
			id = strings.TrimSpace(stdout)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.HasPrefix(id, "<") {
		t.Fatalf("send to INN printed %q\n%s", id, peers.INNErrors())
	}
	var over string
	for range 50 { // innd files the article a moment after nnrpd's 240
		if over = mustRun(t, "", "get", "nntp://"+addr+"/"+group); strings.Contains(over, "from inetkit") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !regexp.MustCompile(`(?m)^1\s+.+Inetkit <test@inetkit\.example>\s+from inetkit$`).MatchString(over) {
		t.Fatalf("get of INN's group:\n%s", over)
	}
	if groups := mustRun(t, "", "get", "nntp://"+addr+"/"); !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(group) + `\s+1\s+1\s+1\s+y$`).MatchString(groups) {
		t.Errorf("get of INN's groups:\n%s", groups)
	}
	for _, u := range []string{"nntp://" + addr + "/" + group + "/1", "nntp://" + addr + "/" + strings.Trim(id, "<>")} {
		if a := mustRun(t, "", "get", u); !strings.Contains(a, "Message-ID: "+id+"\r\n") || !strings.HasSuffix(a, "\r\n\r\n.dot\r\nbody\r\n") {
			t.Errorf("get %s from INN:\n%q", u, a)
		}
	}
}
