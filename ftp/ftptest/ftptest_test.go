package ftptest_test

import (
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
	"github.com/inetkit/inetkit/ftp/ftptest"
)

func TestNewBackend_TestBackend(t *testing.T) {
	ftptest.TestBackend(t, func(t *testing.T, user, pass string) ftp.Backend {
		return ftptest.NewBackend(fileroot.NewMemFS(), user, pass)
	})
}

func TestNewBackend_root(t *testing.T) {
	ftptest.TestBackend(t, func(t *testing.T, user, pass string) ftp.Backend {
		r, err := fileroot.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return ftptest.NewBackend(r, user, pass)
	})
}

// A tree that cannot be written stays read-only for the account too.
func TestNewBackend_readOnlyTree(t *testing.T) {
	be := ftptest.NewBackend(fileroot.ReadOnly(fileroot.NewMemFS()), "u", "p")
	fsys, err := be.Login(t.Context(), "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fsys.(ftp.WriteFS); ok {
		t.Errorf("Login returned a %T, an ftp.WriteFS, over a read-only tree", fsys)
	}
}

// newServer serves a memory tree with the account alice/secret.
func newServer(t *testing.T) (*ftptest.Server, *fileroot.MemFS) {
	t.Helper()
	mem := fileroot.NewMemFS()
	s := ftptest.NewServer(ftptest.NewBackend(mem, "alice", "secret"))
	t.Cleanup(s.Close)
	return s, mem
}

func login(t *testing.T, c *ftp.Client, user, pass string) {
	t.Helper()
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("Login(%q, %q) = %v", user, pass, err)
	}
}

func retrieve(t *testing.T, c *ftp.Client, name string) string {
	t.Helper()
	rc, err := c.Retrieve(name, 0)
	if err != nil {
		t.Fatalf("Retrieve(%q) = %v", name, err)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", name, err)
	}
	if err := rc.Close(); err != nil {
		t.Fatalf("Retrieve(%q): Close = %v", name, err)
	}
	return string(b)
}

func TestServer(t *testing.T) {
	s, mem := newServer(t)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	login(t, c, "alice", "secret")
	if err := c.Store("hello.txt", strings.NewReader("hello\r\nworld\n")); err != nil {
		t.Fatalf("Store = %v", err)
	}
	if b, err := fs.ReadFile(mem, "hello.txt"); err != nil || string(b) != "hello\r\nworld\n" {
		t.Errorf("the tree holds %q, %v after Store", b, err)
	}
	if got := retrieve(t, c, "hello.txt"); got != "hello\r\nworld\n" {
		t.Errorf("Retrieve = %q", got)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit = %v", err)
	}
}

func TestServer_anonymousReadOnly(t *testing.T) {
	s, mem := newServer(t)
	u, _ := mem.Create("pub.txt")
	io.WriteString(u, "public")
	u.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	login(t, c, "anonymous", "guest@example.org")
	if got := retrieve(t, c, "pub.txt"); got != "public" {
		t.Errorf("anonymous Retrieve = %q", got)
	}
	err = c.Store("new.txt", strings.NewReader("x"))
	var e *ftp.Error
	if !errors.As(err, &e) || e.Code != 550 {
		t.Errorf("anonymous Store = %v; want a 550 *ftp.Error", err)
	}
	if _, err := fs.Stat(mem, "new.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an anonymous Store made new.txt (Stat = %v)", err)
	}
}

func TestServer_loginFailed(t *testing.T) {
	s, _ := newServer(t)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "wrong"); !errors.Is(err, ftp.ErrAuthFailed) {
		var e *ftp.Error
		if !errors.As(err, &e) || e.Code != 530 {
			t.Errorf("Login with a wrong password = %v; want a 530 reply", err)
		}
	}
}

func TestServer_StartTLS(t *testing.T) {
	s := ftptest.NewUnstartedServer(ftptest.NewBackend(fileroot.NewMemFS(), "alice", "secret"))
	s.StartTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.TLS() {
		t.Error("TLS() = false over implicit TLS")
	}
	login(t, c, "alice", "secret")
	if err := c.Store("a", strings.NewReader("over TLS")); err != nil {
		t.Fatalf("Store over TLS = %v", err)
	}
	if got := retrieve(t, c, "a"); got != "over TLS" {
		t.Errorf("Retrieve over TLS = %q", got)
	}
}

func TestServer_StartSTARTTLS(t *testing.T) {
	s := ftptest.NewUnstartedServer(ftptest.NewBackend(fileroot.NewMemFS(), "alice", "secret"))
	s.StartSTARTTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.TLS() {
		t.Error("TLS() = false after StartSTARTTLS's Client")
	}
	login(t, c, "alice", "secret")
	if _, err := c.List("."); err != nil {
		t.Errorf("List over AUTH TLS = %v", err)
	}
}

// Without TLS configured, the plain server offers no AUTH TLS, and a
// client that asks for it is refused.
func TestServer_Start_noTLS(t *testing.T) {
	s, _ := newServer(t)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.TLS() {
		t.Error("TLS() = true on a plain server")
	}
	if err := c.StartTLS(s.ClientTLSConfig()); err == nil {
		t.Error("StartTLS on a server without TLSConfig succeeded")
	}
}

func TestServer_Close(t *testing.T) {
	s, _ := newServer(t)
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s.Close()
	s.Close() // twice is harmless
	if err := c.Noop(); err == nil {
		t.Error("Noop after Close succeeded")
	}
}

func TestServer_startTwicePanics(t *testing.T) {
	s, _ := newServer(t)
	defer func() {
		if recover() == nil {
			t.Error("a second Start did not panic")
		}
	}()
	s.Start()
}
