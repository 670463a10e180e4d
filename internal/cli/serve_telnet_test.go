package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/store"
	"github.com/inetkit/inetkit/telnet"
)

// telnetServe runs `inetkit serve telnet` in process on a free loopback
// port over data (a new temporary directory if ""), and returns it with
// the directory.
func telnetServe(t *testing.T, data string, extra ...string) (*mainServer, string) {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	args := append([]string{"serve", "telnet", "--telnet-addr", "127.0.0.1:0", "--data", data}, extra...)
	return startMain(t, []string{"telnet"}, args...), data
}

// seedTelnetData makes a data directory with files, a message for
// alice@example.org and an article in inetkit.test, for the console to
// show.
func seedTelnetData(t *testing.T) string {
	t.Helper()
	data := t.TempDir()
	files := filepath.Join(data, "files")
	if err := os.MkdirAll(filepath.Join(files, "docs"), 0o750); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"hello.txt": "hello\n", "docs/inner.txt": "inner\n"} {
		if err := os.WriteFile(filepath.Join(files, name), []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := store.Open(data, &store.Options{AnyLogin: true, PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	msg := "From: bob@example.org\r\nTo: alice@example.org\r\nSubject: hi\r\n\r\nhello alice\r\n"
	if err := st.Deliver(ctx, []string{"alice@example.org"}, []byte(msg), time.Now()); err != nil {
		t.Fatal(err)
	}
	header := "Path: inetkit\r\nFrom: bob@example.org\r\nNewsgroups: inetkit.test\r\nSubject: Hello news\r\n" +
		"Date: Thu, 03 Dec 2026 12:00:00 +0000\r\nMessage-ID: <1@example.org>\r\nX-Evil: \x1b[31mred\r\n"
	body := "first article\r\n"
	if _, err := st.NNTPBackend().Post(ctx, &nntp.Posting{
		Header: []byte(header), Body: []byte(body), Groups: []string{store.DefaultNewsGroup},
		MessageID: "<1@example.org>", Subject: "Hello news", From: "bob@example.org", Date: "Thu, 03 Dec 2026 12:00:00 +0000",
		Bytes: int64(len(header) + 2 + len(body)), Lines: 1,
	}); err != nil {
		t.Fatal(err)
	}
	return data
}

// consoleClient is a Telnet client of the console, for tests.
type consoleClient struct {
	t testing.TB
	*telnet.Conn
}

func dialConsole(t testing.TB, addr string, opts *telnet.ClientOptions) *consoleClient {
	t.Helper()
	if opts == nil {
		opts = &telnet.ClientOptions{}
	}
	opts.Timeout = 10 * time.Second
	c, err := telnet.Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &consoleClient{t: t, Conn: c}
}

// until reads until want and returns what was read.
func (c *consoleClient) until(want string) string {
	c.t.Helper()
	text, err := c.ReadUntil(want, 10*time.Second)
	if err != nil {
		c.t.Fatalf("waiting for %q: %v", want, err)
	}
	return string(text)
}

// run types line and returns what the console says, up to the next
// prompt, without the echo of the line.
func (c *consoleClient) run(line, prompt string) string {
	c.t.Helper()
	if _, err := c.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
	out := c.until(prompt)
	out = strings.TrimSuffix(out, prompt)
	return strings.TrimPrefix(out, line+"\r\n")
}

// Every command of the console, on loopback: no login asked for, login
// takes any name, the prompt shows it.
func TestServeTelnet_console(t *testing.T) {
	data := seedTelnetData(t)
	srv, _ := telnetServe(t, data)
	c := dialConsole(t, srv.addrs["telnet"], nil)
	if banner := c.until("inetkit> "); !strings.Contains(banner, "comes back upper-cased") || strings.Contains(banner, "login:") {
		t.Errorf("banner %q; want the console's, without a login prompt", banner)
	}
	const anon, alice = "inetkit> ", "alice@example.org@inetkit> "
	tests := []struct {
		line, prompt string
		want         []string
		notWant      []string
	}{
		{"straße", anon, []string{"STRASSE\r\n"}, nil},
		{"hello, world ﬁ", anon, []string{"HELLO, WORLD FI\r\n"}, nil},
		{"help", anon, []string{"files [PATH]", "mail", "groups", "read GROUP [N]", "login [NAME]", "quit, exit"}, nil},
		{"files", anon, []string{"hello.txt\r\n", "docs/\r\n", "           6  "}, nil},
		{"files /docs", anon, []string{"inner.txt"}, []string{"hello.txt"}},
		{"files ../../..", anon, []string{"hello.txt", "docs/"}, nil},
		{"files hello.txt", anon, []string{"- ", "6  ", "hello.txt\r\n"}, nil},
		{"files nope", anon, []string{"files: /nope: no such file or folder"}, nil},
		{"mail", anon, []string{"mail: log in first"}, nil},
		{"groups", anon, []string{"inetkit.test", "1  "}, nil},
		{"read inetkit.test", anon, []string{"     1  bob@example.org", "Hello news"}, nil},
		{"read inetkit.test 1", anon, []string{"Subject: Hello news\r\n", "X-Evil: ?[31mred\r\n", "\r\n\r\nfirst article\r\n"}, []string{"\x1b"}},
		{"read inetkit.test 9", anon, []string{"read: inetkit.test has no article 9"}, nil},
		{"read nope.group", anon, []string{"read: no newsgroup nope.group"}, nil},
		{"read", anon, []string{"usage: read GROUP [N]"}, nil},
		{"status", anon, []string{"login:      (none)", "connection: plain telnet", "terminal:   XTERM, window 91x27", "mode:       character"}, nil},
		{"login alice@example.org", alice, nil, nil},
		{"mail", alice, []string{"INBOX", "1\r\n", "1 message\r\n"}, nil},
		{"status", alice, []string{"login:      alice@example.org"}, nil},
		{"login nobody@example.org", "nobody@example.org@inetkit> ", nil, nil},
		{"mail", "nobody@example.org@inetkit> ", []string{"no mail for nobody@example.org"}, nil},
	}
	c.Close()
	c = dialConsole(t, srv.addrs["telnet"], &telnet.ClientOptions{TerminalType: "XTERM", WindowSize: func() (int, int) { return 91, 27 }})
	c.until(anon)
	for _, tc := range tests {
		out := c.run(tc.line, tc.prompt)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: console said %q; want %q in it", tc.line, out, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(out, w) {
				t.Errorf("%q: console said %q; want no %q in it", tc.line, out, w)
			}
		}
	}
	if _, err := c.Write([]byte("quit\r\n")); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(c)
	if !strings.HasSuffix(string(rest), "bye\r\n") {
		t.Errorf("after quit the console said %q; want bye and the end of the connection", rest)
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve telnet exited %d", code)
	}
}

// exit, and Ctrl-D on an empty line, end the session as quit does.
func TestServeTelnet_exitAndCtrlD(t *testing.T) {
	srv, _ := telnetServe(t, "")
	for _, end := range []string{"exit\r\n", "\x04", "QUIT\r\n"} {
		c := dialConsole(t, srv.addrs["telnet"], nil)
		c.until("inetkit> ")
		c.Write([]byte(end))
		rest, _ := io.ReadAll(c)
		if !strings.HasSuffix(string(rest), "bye\r\n") {
			t.Errorf("after %q the console said %q; want bye and the end", end, rest)
		}
	}
}

// A client that edits its own lines (it refuses to let the server echo,
// as telnetlib does) gets line mode: no echo, lines upper-cased.
func TestServeTelnet_lineMode(t *testing.T) {
	srv, _ := telnetServe(t, "")
	c := dialConsole(t, srv.addrs["telnet"], &telnet.ClientOptions{Config: &telnet.Config{Remote: []telnet.Option{telnet.OptionSGA}}})
	c.until("inetkit> ")
	c.Write([]byte("straße\r\n"))
	if got := c.until("inetkit> "); got != "STRASSE\r\ninetkit> " {
		t.Errorf("line mode: console said %q; want no echo, STRASSE and the prompt", got)
	}
	c.Write([]byte("abx\bc\r\n")) // the client's own edit, sent as it was typed
	if got := c.until("inetkit> "); got != "ABC\r\ninetkit> " {
		t.Errorf("line mode with a backspace: console said %q; want ABC", got)
	}
}

// The server's line editor in character mode: backspace, Ctrl-U, Ctrl-W,
// the arrows and the history, with the line upper-cased.
func TestServeTelnet_lineEditing(t *testing.T) {
	srv, _ := telnetServe(t, "")
	c := dialConsole(t, srv.addrs["telnet"], nil)
	c.until("inetkit> ")
	for _, tc := range []struct{ typed, want string }{
		{"abx\x7fc\r", "ABC\r\n"},
		{"junk\x15ok\r", "OK\r\n"},
		{"one two\x17three\r", "ONE THREE\r\n"},
		{"ac\x1b[Db\r", "ABC\r\n"},
		{"\x1b[A\x1b[A\r", "ONE THREE\r\n"},
	} {
		c.Write([]byte(tc.typed + "\n"))
		out := c.until("inetkit> ")
		if !strings.HasSuffix(out, "\r\n"+tc.want+"inetkit> ") {
			t.Errorf("typed %q: console said %q; want %q before the prompt", tc.typed, out, tc.want)
		}
	}
}

// On shutdown a session waiting for a line is told goodbye.
func TestServeTelnet_shutdownGoodbye(t *testing.T) {
	srv, _ := telnetServe(t, "")
	c := dialConsole(t, srv.addrs["telnet"], nil)
	c.until("inetkit> ")
	done := make(chan int, 1)
	go func() { done <- srv.stop(t) }()
	rest, _ := io.ReadAll(c)
	if !strings.Contains(string(rest), "[inetkit: server shutting down]") {
		t.Errorf("on shutdown the console said %q; want the goodbye", rest)
	}
	if code := <-done; code != exitOK {
		t.Errorf("serve telnet exited %d", code)
	}
}

// Off loopback: only accounts, only over TLS. Plain telnet takes no login
// and only upper-cases; over telnets the session logs in first, a wrong
// password is answered late with "Login incorrect", and the third failure
// ends the session.
func TestServeTelnet_offLoopback(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runMain(t, "", "serve", "telnet", "--telnet-addr", "0.0.0.0:0", "--data", dir)
	if code != exitError || !strings.Contains(stderr, "telnet listeners on a non-loopback address need accounts") {
		t.Errorf("serve telnet on 0.0.0.0 without accounts = %d, %q; want exit 1 and a refusal naming telnet", code, stderr)
	}
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, "alice@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	srv := startMain(t, []string{"telnet"}, "serve", "telnet", "--telnet-addr", "0.0.0.0:0", "--telnets-addr", "0.0.0.0:0", "--data", dir)
	plain := loopbackOf(listenerAddr(t, srv, "telnet", "none"))
	secure := loopbackOf(listenerAddr(t, srv, "telnet", "implicit"))

	c := dialConsole(t, plain, nil)
	if banner := c.until("inetkit> "); !strings.Contains(banner, "Logins need TLS") {
		t.Errorf("plain banner off loopback %q; want the need for TLS", banner)
	}
	for line, want := range map[string]string{
		"login alice@example.org": "login: logins need TLS here",
		"files":                   "files: log in first",
		"groups":                  "groups: log in first",
		"straße":                  "STRASSE",
	} {
		if out := c.run(line, "inetkit> "); !strings.Contains(out, want) {
			t.Errorf("plain %q off loopback: %q; want %q", line, out, want)
		}
	}

	tlsOpts := &tlsOptions{data: dir}
	cfg, err := tlsOpts.config("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	s := dialConsole(t, secure, &telnet.ClientOptions{TLSConfig: cfg})
	s.until("login: ")
	s.Write([]byte("alice@example.org\r\n"))
	if p := s.until("Password: "); strings.Contains(p, "alice@example.org@inetkit") {
		t.Errorf("no password asked: %q", p)
	}
	start := time.Now()
	s.Write([]byte("wrong\r\n"))
	s.until("Login incorrect\r\n")
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("Login incorrect after %v; want the failed-login delay (1s)", d)
	}
	s.until("login: ")
	s.Write([]byte("alice@example.org\r\n"))
	s.until("Password: ")
	s.Write([]byte("s3cret\r\n"))
	s.until("alice@example.org@inetkit> ")
	if out := s.run("status", "alice@example.org@inetkit> "); !strings.Contains(out, "connection: TLS") {
		t.Errorf("status over telnets: %q", out)
	}
	// The password stays out of the history: Up brings back "status".
	s.Write([]byte("\x1b[A\x1b[A\r\n"))
	if out := s.until("alice@example.org@inetkit> "); strings.Contains(out, "s3cret") || strings.Contains(out, "S3CRET") {
		t.Errorf("the history gave the password back: %q", out)
	}

	f := dialConsole(t, secure, &telnet.ClientOptions{TLSConfig: cfg})
	for range 3 {
		f.until("login: ")
		f.Write([]byte("mallory@example.org\r\n"))
		f.until("Password: ")
		f.Write([]byte("guess\r\n"))
	}
	rest, _ := io.ReadAll(f)
	if !strings.Contains(string(rest), "[inetkit: too many login failures]") {
		t.Errorf("after 3 failed logins: %q; want the goodbye", rest)
	}
	if !strings.Contains(srv.stderr.String(), `msg="telnet: login failed" service=telnet`) {
		t.Errorf("log has no failed login:\n%s", srv.stderr)
	}
}
