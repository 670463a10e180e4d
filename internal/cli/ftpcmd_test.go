package cli

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp/ftptest"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

func TestParseFTPURL(t *testing.T) {
	for _, tc := range []struct {
		raw                   string
		addr, user, pass, dir string
		path                  string
		isDir, tls, portGiven bool
	}{
		{raw: "ftp://h", addr: "h:21", user: "anonymous", pass: "inetkit@", path: "", isDir: true},
		{raw: "ftp://h/", addr: "h:21", user: "anonymous", pass: "inetkit@", path: "", isDir: true},
		{raw: "ftps://h/a/b.txt", addr: "h:990", user: "anonymous", pass: "inetkit@", path: "a/b.txt", tls: true},
		{raw: "ftp://alice%40example.org:p%3Aw@127.0.0.1:2121/pub/", addr: "127.0.0.1:2121", user: "alice@example.org", pass: "p:w", path: "pub", isDir: true, portGiven: true},
		{raw: "ftp://bob@[::1]:2121/a%20b", addr: "[::1]:2121", user: "bob", pass: "", path: "a b", portGiven: true},
	} {
		u, err := parseFTPURL(tc.raw)
		if err != nil {
			t.Errorf("parseFTPURL(%q) = %v", tc.raw, err)
			continue
		}
		if u.addr != tc.addr || u.user != tc.user || u.pass != tc.pass || u.path != tc.path || u.dir != tc.isDir || u.implicitTLS != tc.tls || u.portGiven != tc.portGiven {
			t.Errorf("parseFTPURL(%q) = addr %q user %q pass %q path %q dir %v tls %v port %v", tc.raw, u.addr, u.user, u.pass, u.path, u.dir, u.implicitTLS, u.portGiven)
		}
	}
}

// Usage errors of get and put with ftp URLs, and of the ftp flags with a
// mail URL: exit 2.
func TestFTPUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "ftp:///x"}, "has no host"},
		{[]string{"get", "ftp://h/x?y"}, "no query"},
		{[]string{"get", "ftp://h/x", "--continue"}, "give it with -o FILE"},
		{[]string{"get", "ftp://h/dir/", "-o", "f"}, "names a folder"},
		{[]string{"get", "ftp://h/x", "--delete"}, "are for mail URLs"},
		{[]string{"get", "ftp://h/x", "--tls", "maybe"}, "--tls must be"},
		{[]string{"get", "pop3://u:p@h/", "-o", "f"}, "are for ftp, http and gopher URLs"},
		{[]string{"get", "ldap://h/"}, "want a pop3:// or pop3s://, imap:// or imaps:// URL"},
		{[]string{"put", "ftp://h/x"}, "put takes a URL and a FILE"},
		{[]string{"put", "ftp://h/dir/", "-"}, "names a folder"},
		{[]string{"put", "pop3://h/x", "f"}, "want an ftp://, ftps://, http:// or https:// URL"},
		{[]string{"put", "ftp://h/x", "f", "--timeout", "0s"}, "--timeout must be positive"},
	} {
		code, _, stderr := runMain(t, "", tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q = %d, %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}

// The path: a file put with inetkit put is fetched with inetkit
// get, to stdout and to -o FILE, and listed, as a table and as JSON; AUTH
// TLS is used (serve offers it) and verified against the local CA.
func TestFTPPutGetAgainstServe(t *testing.T) {
	srv, data := ftpServe(t)
	addr := srv.addrs["ftp"]
	base := "ftp://alice%40example.org:pw@" + addr
	content := strings.Repeat("line of text\r\n", 1000) + "\x00\xff end"
	src := writeTemp(t, content)

	if code, stdout, stderr := runMain(t, "", "put", "--data", data, "--tls", "require", base+"/hello.txt", src); code != exitOK || stdout != "" || stderr != "" {
		t.Fatalf("put = %d, %q, %q; want 0 and no output", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(data, "files", "hello.txt")); err != nil || string(b) != content {
		t.Fatalf("DATA/files/hello.txt after put: %d bytes, %v; want the %d of the file", len(b), err, len(content))
	}
	// Into a folder, under the file's name; from stdin, under the URL's.
	if code, _, stderr := runMain(t, "", "put", "--data", data, base+"/", src); code != exitOK {
		t.Fatalf("put to a folder = %d, %q", code, stderr)
	}
	if code, _, stderr := runMain(t, "piped", "put", "--data", data, base+"/stdin.txt", "-"); code != exitOK {
		t.Fatalf("put - = %d, %q", code, stderr)
	}

	code, stdout, stderr := runMain(t, "", "get", "--data", data, "--tls", "require", base+"/hello.txt")
	if code != exitOK || stdout != content {
		t.Errorf("get to stdout = %d, %d bytes, %q; want the file", code, len(stdout), stderr)
	}
	out := filepath.Join(t.TempDir(), "out")
	if code, stdout, stderr := runMain(t, "", "get", "--data", data, base+"/hello.txt", "-o", out); code != exitOK || stdout != "" {
		t.Errorf("get -o = %d, %q, %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != content {
		t.Errorf("get -o wrote %d bytes, %v; want the file", len(b), err)
	}

	// The listing, anonymous: a folder URL, and a path that is a folder.
	os.Mkdir(filepath.Join(data, "files", "sub"), 0o750)
	code, stdout, stderr = runMain(t, "", "get", "--data", data, "ftp://"+addr+"/")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != exitOK || len(lines) != 5 || !regexp.MustCompile(`^TYPE +SIZE +DATE +NAME$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^file +`+strconv.Itoa(len(content))+` +\d{4}-\d\d-\d\d \d\d:\d\d +hello\.txt$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^file +.* src$`).MatchString(lines[2]) || !regexp.MustCompile(`^file +5 .* stdin\.txt$`).MatchString(lines[3]) ||
		!regexp.MustCompile(`^dir +.* sub$`).MatchString(lines[4]) {
		t.Errorf("get listing = %d, %q, %q", code, stdout, stderr)
	}
	if code, stdout2, _ := runMain(t, "", "get", "--data", data, "ftp://"+addr); code != exitOK || stdout2 != stdout {
		t.Errorf("get of the root without a slash = %d, %q; want the listing %q", code, stdout2, stdout)
	}
	code, stdout, stderr = runMain(t, "", "get", "--data", data, "--json", base+"/sub")
	if code != exitOK || strings.TrimSpace(stdout) != `{"entries":[]}` {
		t.Errorf("get --json of an empty folder = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, stderr = runMain(t, "", "get", "--data", data, "--json", base+"/")
	var doc struct {
		Entries []struct {
			Name, Type string
			Size       *int64
			Modified   *string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil || len(doc.Entries) != 4 {
		t.Fatalf("get --json = %d, %q, %q (%v); want 4 entries", code, stdout, stderr, err)
	}
	if e := doc.Entries[0]; e.Name != "hello.txt" || e.Type != "file" || e.Size == nil || *e.Size != int64(len(content)) ||
		e.Modified == nil || !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(*e.Modified) {
		t.Errorf("get --json: first entry %+v", e)
	}
	if e := doc.Entries[3]; e.Name != "sub" || e.Type != "dir" {
		t.Errorf("get --json: last entry %+v; want the folder sub", e)
	}
}

// --continue resumes a download into -o FILE, and an upload from the size
// of the remote file.
func TestFTPContinue(t *testing.T) {
	srv, data := ftpServe(t)
	base := "ftp://alice%40example.org:pw@" + srv.addrs["ftp"]
	content := strings.Repeat("0123456789", 10000)
	files := filepath.Join(data, "files")

	// Download: the first 12345 bytes are there.
	os.WriteFile(filepath.Join(files, "big"), []byte(content), 0o640)
	out := filepath.Join(t.TempDir(), "big")
	os.WriteFile(out, []byte(content[:12345]), 0o644)
	if code, _, stderr := runMain(t, "", "get", "--data", data, base+"/big", "-o", out, "--continue"); code != exitOK {
		t.Fatalf("get --continue = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != content {
		t.Errorf("get --continue left %d bytes; want the %d of the file", len(b), len(content))
	}
	// Complete already: nothing to do, and said so.
	if code, _, stderr := runMain(t, "", "get", "--data", data, base+"/big", "-o", out, "--continue"); code != exitOK || !strings.Contains(stderr, "complete") {
		t.Errorf("get --continue of a complete file = %d, %q", code, stderr)
	}
	// A local file longer than the remote one is no part of it.
	os.WriteFile(out, []byte(content+"more"), 0o644)
	if code, _, stderr := runMain(t, "", "get", "--data", data, base+"/big", "-o", out, "--continue"); code != exitError || !strings.Contains(stderr, "not a part of it") {
		t.Errorf("get --continue of a longer file = %d, %q", code, stderr)
	}

	// Upload: the remote file has the first 54321 bytes.
	os.WriteFile(filepath.Join(files, "up"), []byte(content[:54321]), 0o640)
	src := writeTemp(t, content)
	if code, _, stderr := runMain(t, "", "put", "--data", data, base+"/up", src, "--continue"); code != exitOK {
		t.Fatalf("put --continue = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "up")); string(b) != content {
		t.Errorf("put --continue left %d bytes; want %d", len(b), len(content))
	}
	// From stdin, the bytes the server has are skipped.
	os.WriteFile(filepath.Join(files, "up"), []byte(content[:100]), 0o640)
	if code, _, stderr := runMain(t, content, "put", "--data", data, base+"/up", "-", "--continue"); code != exitOK {
		t.Fatalf("put - --continue = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "up")); string(b) != content {
		t.Errorf("put - --continue left %d bytes; want %d", len(b), len(content))
	}
	// No remote file: the whole file.
	if code, _, stderr := runMain(t, "", "put", "--data", data, base+"/new", src, "--continue"); code != exitOK {
		t.Fatalf("put --continue of a new file = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(files, "new")); string(b) != content {
		t.Errorf("put --continue of a new file left %d bytes; want %d", len(b), len(content))
	}
}

// Anonymous logins read but do not write; every failure is exit 1 and one
// line.
func TestFTPAnonymousAndFailures(t *testing.T) {
	srv, data := ftpServe(t)
	addr := srv.addrs["ftp"]
	os.WriteFile(filepath.Join(data, "files", "pub.txt"), []byte("public"), 0o640)
	if code, stdout, stderr := runMain(t, "", "get", "--data", data, "ftp://"+addr+"/pub.txt"); code != exitOK || stdout != "public" {
		t.Errorf("anonymous get = %d, %q, %q", code, stdout, stderr)
	}
	src := writeTemp(t, "x")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"anonymous put", []string{"put", "ftp://" + addr + "/new.txt", src}, "550"},
		{"missing file", []string{"get", "ftp://" + addr + "/nope.txt"}, "550"},
		{"json of a file", []string{"get", "--json", "ftp://" + addr + "/pub.txt"}, "--json is for folders"},
		{"refused", []string{"get", "ftp://127.0.0.1:1/x"}, "connection refused: nothing listens on 127.0.0.1:1"},
		{"missing local file", []string{"put", "ftp://" + addr + "/x", filepath.Join(t.TempDir(), "none")}, "no such file"},
	} {
		code, _, stderr := runMain(t, "", append(tc.args, "--data", data)...)
		if code != exitError || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "inetkit: ") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: %q = %d, %q; want exit 1 and one line with %q", tc.name, tc.args, code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "files", "new.txt")); err == nil {
		t.Error("an anonymous put made new.txt")
	}
	// A failed get -o makes no file.
	out := filepath.Join(t.TempDir(), "out")
	if code, _, _ := runMain(t, "", "get", "--data", data, "ftp://"+addr+"/nope.txt", "-o", out); code != exitError {
		t.Errorf("get -o of a missing file = %d; want 1", code)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("get -o of a missing file made the -o file")
	}
	// On loopback any name logs in, as ftplib and curl users expect.
	if code, stdout, stderr := runMain(t, "", "get", "--data", data, "ftp://bob:hunter2@"+addr+"/pub.txt"); code != exitOK || stdout != "public" {
		t.Errorf("get as bob on loopback = %d, %q, %q; want the file", code, stdout, stderr)
	}
}

// With --auth accounts a wrong password is refused, and the password of
// the URL is not in the message.
func TestFTPWrongPassword(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", data, "alice@example.org"); code != exitOK {
		t.Fatalf("user add = %d, %q", code, stderr)
	}
	srv := startMain(t, []string{"ftp"}, "serve", "ftp", "--ftp-addr", "127.0.0.1:0", "--data", data, "--auth", "accounts")
	addr := srv.addrs["ftp"]
	code, _, stderr := runMain(t, "", "get", "--data", data, "ftp://alice%40example.org:hunter2@"+addr+"/x")
	if code != exitError || strings.Contains(stderr, "hunter2") || !strings.Contains(stderr, "530") {
		t.Errorf("get with a wrong password = %d, %q; want exit 1, a 530 and no password", code, stderr)
	}
}

// A wrong port is named by what it speaks: POP3, or FTP without implicit
// TLS for an ftps:// URL, or implicit TLS for an ftp:// one.
func TestFTPWrongPort(t *testing.T) {
	p := pop3test.NewServer(pop3test.NewMaildrop("u", "p"))
	defer p.Close()
	code, _, stderr := runMain(t, "", "get", "ftp://"+p.Addr+"/x")
	if code != exitError || !strings.Contains(stderr, "that port speaks POP3") {
		t.Errorf("get ftp:// at a POP3 port = %d, %q", code, stderr)
	}

	s := ftptest.NewServer(ftptest.NewBackend(fileroot.NewMemFS(), "u", "p"))
	defer s.Close()
	code, _, stderr = runMain(t, "", "get", "ftps://"+s.Addr+"/x")
	if code != exitError || !strings.Contains(stderr, "without implicit TLS") || !strings.Contains(stderr, "use ftp://"+s.Addr) {
		t.Errorf("get ftps:// at a plain FTP port = %d, %q", code, stderr)
	}

	ts := ftptest.NewUnstartedServer(ftptest.NewBackend(fileroot.NewMemFS(), "u", "p"))
	ts.StartTLS()
	defer ts.Close()
	// The client waits for a greeting that never comes in plaintext: the
	// probe ends the wait, long before --timeout.
	start := time.Now()
	code, _, stderr = runMain(t, "", "get", "--timeout", "20s", "ftp://"+ts.Addr+"/x")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("get ftp:// at an implicit-TLS port took %v; want the probe to end it after about %v", d, greetingWait)
	}
	if code != exitError || !strings.Contains(stderr, "implicit TLS") || !strings.Contains(stderr, "use ftps://"+ts.Addr) {
		t.Errorf("get ftp:// at an implicit-TLS port = %d, %q", code, stderr)
	}
}

// Active mode works against serve, and ftps:// with --ftps-addr.
func TestFTPActiveAndImplicitTLS(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr := l.Addr().String()
	l.Close()
	data := t.TempDir()
	srv := startMain(t, []string{"ftp"}, "serve", "ftp", "--ftp-addr", "127.0.0.1:0", "--ftps-addr", tlsAddr, "--data", data)
	srv.stderr.waitFor(t, srv.done, 10*time.Second, "the ftps listener's line", func(log string) bool {
		return strings.Contains(log, "addr="+tlsAddr+" tls=implicit")
	})
	os.WriteFile(filepath.Join(data, "files", "a"), []byte("active"), 0o640)
	if code, stdout, stderr := runMain(t, "", "get", "--data", data, "--active", "ftps://"+tlsAddr+"/a"); code != exitOK || stdout != "active" {
		t.Errorf("get --active ftps:// = %d, %q, %q", code, stdout, stderr)
	}
}
