//go:build unix

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
)

// An ftpPeer is a folder of a real FTP server that get and put use.
type ftpPeer struct {
	folder string   // the folder's URL, ending in "/", with the login
	dir    string   // the folder on disk
	args   []string // flags of get and put for this server
}

// TestFTPInterop runs inetkit get and put against vsftpd, which has no
// MLST or MLSD (get lists with LIST and finds folders with CWD), and
// pyftpdlib, in passive and active mode and with AUTH TLS required,
// verified with --cacert; and against a pyftpdlib with neither EPSV,
// EPRT nor MLST/MLSD, whose 227 announces an address not its own.
func TestFTPInterop(t *testing.T) {
	_, _, ca, err := testcert.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tlsArgs := []string{"--tls", "require", "--cacert", ca}
	vsftpd := func(tlsOn bool, args ...string) func(t *testing.T) ftpPeer {
		return func(t *testing.T) ftpPeer {
			v := peers.StartVsftpd(t, &peers.VsftpdOptions{TLS: tlsOn})
			// Anonymous: no login in the URL.
			return ftpPeer{"ftp://" + v.Addr + "/" + v.Writable + "/", filepath.Join(v.Root, v.Writable), args}
		}
	}
	pyftpdlib := func(opts peers.PyftpdlibOptions, args ...string) func(t *testing.T) ftpPeer {
		return func(t *testing.T) ftpPeer {
			p := peers.StartPyftpdlib(t, &opts)
			dir := filepath.Join(p.Root, "pub")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return ftpPeer{"ftp://" + p.User + ":" + p.Pass + "@" + p.Addr + "/pub/", dir, args}
		}
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) ftpPeer
	}{
		{"vsftpd passive", vsftpd(false)},
		{"vsftpd active", vsftpd(false, "--active")},
		{"vsftpd TLS", vsftpd(true, tlsArgs...)},
		{"vsftpd TLS active", vsftpd(true, append([]string{"--active"}, tlsArgs...)...)},
		{"pyftpdlib passive", pyftpdlib(peers.PyftpdlibOptions{})},
		{"pyftpdlib active", pyftpdlib(peers.PyftpdlibOptions{}, "--active")},
		{"pyftpdlib TLS", pyftpdlib(peers.PyftpdlibOptions{TLS: true}, tlsArgs...)},
		{"pyftpdlib old commands", pyftpdlib(peers.PyftpdlibOptions{Drop: []string{"EPSV", "EPRT", "MLST", "MLSD"}, Masquerade: "10.99.99.99"})},
		{"pyftpdlib old commands active", pyftpdlib(peers.PyftpdlibOptions{Drop: []string{"EPSV", "EPRT", "MLST", "MLSD"}}, "--active")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			exerciseFTPPeer(t, tc.start(t))
		})
	}
}

// ftpInteropData returns n bytes of every value, line ends of both kinds
// among them, that differ from one offset to the next.
func ftpInteropData(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	copy(b[1000:], "line\r\nline\nline\r")
	return string(b)
}

// exerciseFTPPeer puts a file, gets it back, lists the folder, and
// resumes a download and an upload.
func exerciseFTPPeer(t *testing.T, p ftpPeer) {
	data := t.TempDir() // no CA of serve's: the server's is --cacert's
	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		args = append(append(args, "--data", data, "--timeout", "20s"), p.args...)
		return runMain(t, stdin, args...)
	}
	content := ftpInteropData(300_000)
	src := writeTemp(t, content)

	// put into the folder, under the file's name; get it back.
	if code, stdout, stderr := run("", "put", p.folder, src); code != exitOK || stdout != "" || stderr != "" {
		t.Fatalf("put = %d, %q, %q; want 0 and no output", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "src")); err != nil || string(b) != content {
		t.Fatalf("the server's file after put: %d bytes, %v; want the %d of the file", len(b), err, len(content))
	}
	if code, stdout, stderr := run("", "get", p.folder+"src"); code != exitOK || stdout != content || stderr != "" {
		t.Errorf("get to stdout = %d, %d bytes, %q; want the %d of the file", code, len(stdout), stderr, len(content))
	}
	out := filepath.Join(t.TempDir(), "out")
	if code, stdout, stderr := run("", "get", p.folder+"src", "-o", out); code != exitOK || stdout != "" || stderr != "" {
		t.Errorf("get -o = %d, %q, %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != content {
		t.Errorf("get -o wrote %d bytes, %v; want the %d of the file", len(b), err, len(content))
	}
	// From stdin, under the URL's name.
	if code, _, stderr := run("from stdin", "put", p.folder+"stdin.txt", "-"); code != exitOK {
		t.Errorf("put - = %d, %q", code, stderr)
	}
	if err := os.Mkdir(filepath.Join(p.dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}

	// The listing: a table and JSON, of the folder URL and of the
	// folder's path without its slash (found a folder with MLST, or with
	// CWD where there is none).
	fi, err := os.Stat(filepath.Join(p.dir, "src"))
	if err != nil {
		t.Fatal(err)
	}
	mtime := fi.ModTime().UTC()
	code, stdout, stderr := run("", "get", p.folder)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != exitOK || len(lines) != 4 || !regexp.MustCompile(`^TYPE +SIZE +DATE +NAME$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^file +300000 +`+mtime.Format("2006-01-02 15:04")+` +src$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^file +10 +\d{4}-\d\d-\d\d \d\d:\d\d +stdin\.txt$`).MatchString(lines[2]) ||
		!regexp.MustCompile(`^dir +(-|\d+) +\d{4}-\d\d-\d\d \d\d:\d\d +sub$`).MatchString(lines[3]) {
		t.Errorf("get of the folder = %d, %q, %q; want a table of src (300000 bytes, %s), stdin.txt and sub",
			code, stdout, stderr, mtime.Format("2006-01-02 15:04"))
	}
	if code, stdout2, stderr := run("", "get", strings.TrimSuffix(p.folder, "/")); code != exitOK || stdout2 != stdout {
		t.Errorf("get of the folder without its slash = %d, %q, %q; want the listing %q", code, stdout2, stderr, stdout)
	}
	code, stdout, stderr = run("", "get", "--json", p.folder)
	var doc struct {
		Entries []struct {
			Name, Type string
			Size       *int64
			Modified   *string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); code != exitOK || err != nil || len(doc.Entries) != 3 {
		t.Fatalf("get --json = %d, %q, %q (%v); want 3 entries", code, stdout, stderr, err)
	}
	if e := doc.Entries[0]; e.Name != "src" || e.Type != "file" || e.Size == nil || *e.Size != int64(len(content)) || e.Modified == nil {
		t.Errorf("get --json: first entry %+v; want the file src of %d bytes, with a time", e, len(content))
	} else if m, err := time.Parse(time.RFC3339, *e.Modified); err != nil || m.After(mtime) || mtime.Sub(m) >= time.Minute {
		// LIST gives the minute, MLSD the second.
		t.Errorf("get --json: src modified %s (%v); want the file's time, %s, to the minute", *e.Modified, err, mtime.Format(time.RFC3339Nano))
	}
	if e := doc.Entries[2]; e.Name != "sub" || e.Type != "dir" {
		t.Errorf("get --json: last entry %+v; want the folder sub", e)
	}

	// get --continue from a partial -o file.
	if err := os.WriteFile(out, []byte(content[:12345]), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run("", "get", p.folder+"src", "-o", out, "--continue"); code != exitOK {
		t.Fatalf("get --continue = %d, %q", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != content {
		t.Errorf("get --continue left %d bytes; want the %d of the file", len(b), len(content))
	}

	// put --continue onto a partial upload (which these servers keep):
	// the part is put by inetkit, so that it is the server's to write.
	part := writeTemp(t, content[:54321])
	if code, _, stderr := run("", "put", p.folder+"part", part); code != exitOK {
		t.Fatalf("put of the part = %d, %q", code, stderr)
	}
	if code, stdout, stderr := run("", "put", p.folder+"part", src, "--continue"); code != exitOK || stdout != "" || stderr != "" {
		t.Fatalf("put --continue = %d, %q, %q", code, stdout, stderr)
	}
	if b, err := os.ReadFile(filepath.Join(p.dir, "part")); err != nil || string(b) != content {
		t.Errorf("put --continue left %d bytes, %v; want the %d of the file", len(b), err, len(content))
	}
	if code, _, stderr := run("", "get", p.folder+"part", "-o", out); code != exitOK {
		t.Errorf("get of the resumed upload = %d, %q", code, stderr)
	} else if b, _ := os.ReadFile(out); string(b) != content {
		t.Errorf("get of the resumed upload wrote %d bytes; want the %d of the file", len(b), len(content))
	}
	// Complete: nothing sent, and said so.
	if code, _, stderr := run("", "put", p.folder+"part", src, "--continue"); code != exitOK || !strings.Contains(stderr, "complete") {
		t.Errorf("put --continue of a complete file = %d, %q", code, stderr)
	}
}
