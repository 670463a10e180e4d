package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/ftp/ftptest"
	"github.com/inetkit/inetkit/store"
)

// The backend of inetkit serve passes the conformance suite, over a store
// of accounts and a file tree on disk.
func TestFTPBackend_TestBackend(t *testing.T) {
	ftptest.TestBackend(t, func(t *testing.T, user, pass string) ftp.Backend {
		return newTestFTPBackend(t, user, pass, true)
	})
}

func newTestFTPBackend(t *testing.T, user, pass string, anonymous bool) *ftpBackend {
	t.Helper()
	st, err := store.Open(t.TempDir(), &store.Options{PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AddUser(context.Background(), user, pass); err != nil {
		t.Fatal(err)
	}
	root, err := fileroot.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &ftpBackend{store: st, files: root, anonymous: anonymous}
}

// Off loopback without --ftp-anonymous, anonymous logins are refused with
// a 530 that says why.
func TestFTPBackend_anonymousRefused(t *testing.T) {
	be := newTestFTPBackend(t, "alice@example.org", "pw", false)
	_, err := be.Login(context.Background(), "anonymous", "x@")
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 530 || !strings.Contains(fe.Message, "Anonymous") {
		t.Errorf("anonymous Login = %v; want a 530 reply about anonymous logins", err)
	}
	if _, err := be.Login(context.Background(), "alice@example.org", "pw"); err != nil {
		t.Errorf("account Login = %v", err)
	}
}

// ftpServe runs `inetkit serve ftp` in process on a free port over a
// temporary data directory, and returns it with the directory.
func ftpServe(t *testing.T, extra ...string) (*mainServer, string) {
	t.Helper()
	data := t.TempDir()
	args := append([]string{"serve", "ftp", "--ftp-addr", "127.0.0.1:0", "--data", data}, extra...)
	return startMain(t, []string{"ftp"}, args...), data
}

// serve ftp makes DATA/files, 0750, and logs where the files are.
func TestServeFTP_filesDir(t *testing.T) {
	srv, data := ftpServe(t)
	dir := filepath.Join(data, "files")
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		t.Fatalf("Stat(%s) = %v, %v; want the file tree", dir, fi, err)
	}
	if perm := fi.Mode().Perm(); perm&^0o750 != 0 {
		t.Errorf("%s has mode %v; want at most 0750", dir, perm)
	}
	log := srv.stderr.String()
	if !strings.Contains(log, `msg="serving files"`) || !strings.Contains(log, "dir="+dir) || !strings.Contains(log, "anonymous=read") {
		t.Errorf("log names no file tree %s with anonymous reads:\n%s", dir, log)
	}
	if code := srv.stop(t); code != exitOK {
		t.Errorf("serve ftp exited %d", code)
	}
}

// Off loopback inetkit refuses to start ftp without an account, as it
// does for mail, and names the service.
func TestServeFTP_accountsRequiredOffLoopback(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runMain(t, "", "serve", "ftp", "--ftp-addr", "0.0.0.0:0", "--data", dir)
	if code != exitError || !strings.Contains(stderr, "ftp listeners on a non-loopback address need accounts") || !strings.Contains(stderr, "inetkit user add") {
		t.Errorf("serve ftp on 0.0.0.0 without accounts = %d, %q; want exit 1 and a refusal naming ftp and 'inetkit user add'", code, stderr)
	}
	code, _, stderr = runMain(t, "", "serve", "ftp", "--ftp-addr", "0.0.0.0:0", "--data", dir, "--auth", "any")
	if code != exitUsage || !strings.Contains(stderr, "--auth any is allowed only") {
		t.Errorf("--auth any with ftp on 0.0.0.0 = %d, %q", code, stderr)
	}
	code, _, stderr = runMain(t, "", "serve", "ftp", "--ftp-pasv-ports", "9-x")
	if code != exitUsage || !strings.Contains(stderr, "--ftp-pasv-ports") {
		t.Errorf("--ftp-pasv-ports 9-x = %d, %q; want a usage error", code, stderr)
	}
}

// Off loopback, with an account: the account logs in only after AUTH TLS,
// and anonymous logins only with --ftp-anonymous.
func TestServeFTP_offLoopback(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, "alice@example.org"); code != exitOK {
		t.Fatalf("user add: %s", stderr)
	}
	for _, anon := range []bool{false, true} {
		args := []string{"serve", "ftp", "--ftp-addr", "0.0.0.0:0", "--data", dir}
		if anon {
			args = append(args, "--ftp-anonymous")
		}
		srv := startMain(t, []string{"ftp"}, args...)
		addr := "127.0.0.1:" + srv.addrs["ftp"][strings.LastIndexByte(srv.addrs["ftp"], ':')+1:]
		src := writeTemp(t, "hello")
		user := "ftp://alice%40example.org:s3cret@" + addr + "/hello.txt"

		code, _, stderr := runMain(t, "", "put", "--tls", "none", user, src)
		if code != exitError || !strings.Contains(stderr, "530") {
			t.Errorf("put without TLS off loopback = %d, %q; want exit 1 and a 530 reply", code, stderr)
		}
		if code, _, stderr := runMain(t, "", "put", "--data", dir, "--tls", "require", user, src); code != exitOK {
			t.Errorf("put with AUTH TLS off loopback = %d, %q", code, stderr)
		}
		code, stdout, stderr := runMain(t, "", "get", "--data", dir, "ftp://"+addr+"/hello.txt")
		if anon && (code != exitOK || stdout != "hello") {
			t.Errorf("anonymous get with --ftp-anonymous = %d, %q, %q; want hello", code, stdout, stderr)
		}
		if !anon && (code != exitError || !strings.Contains(stderr, "530")) {
			t.Errorf("anonymous get off loopback = %d, %q, %q; want exit 1 and a 530 reply", code, stdout, stderr)
		}
		srv.stop(t)
	}
}

// writeTemp writes data to a new file and returns its name.
func writeTemp(t *testing.T, data string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// On loopback (the any-login policy) a name that is not a mail address
// logs in, as Python's ftplib and curl users expect of a test server, and
// the store makes no user for it.
func TestFTPBackend_anyLogin(t *testing.T) {
	be := newTestFTPBackend(t, "alice@example.org", "pw", true)
	be.anyLogin = true
	fsys, err := be.Login(context.Background(), "user", "whatever")
	if err != nil {
		t.Fatalf("Login(user) under any-login = %v", err)
	}
	if _, ok := fsys.(ftp.WriteFS); !ok {
		t.Error("a login under any-login cannot write")
	}
	users, err := be.store.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 {
		t.Errorf("store users after an ftp login = %v; want only alice@example.org", users)
	}
	if fsys, err := be.Login(context.Background(), "anonymous", "x@"); err != nil {
		t.Errorf("anonymous Login = %v", err)
	} else if _, ok := fsys.(ftp.WriteFS); ok {
		t.Error("an anonymous login can write")
	}
}
