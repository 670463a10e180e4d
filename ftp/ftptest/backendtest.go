package ftptest

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/inetkit/inetkit/ftp"
)

// TestBackend checks that a Backend behaves as package ftp requires.
//
// newBackend must return a new Backend with one account, user with password
// pass, whose tree is empty and writable, and which lets anonymous logins
// read that same tree. TestBackend passes a mail address as user, so that a
// Backend whose logins are mail addresses passes too. The Backend must then
// satisfy:
//
//   - Login(user, pass) returns a tree that implements ftp.WriteFS; a
//     wrong password, an unknown user or an empty one returns an error that
//     is, or wraps, a *ftp.Error with Code 530 (such as ftp.ErrAuthFailed).
//   - What the account writes (files and directories) is read back from
//     its tree and from the tree of a later login, with the fs.FS contract
//     (fstest.TestFS).
//   - An anonymous login ("anonymous", "ftp", in any case, with any
//     password) returns a tree that does not implement ftp.WriteFS, that
//     holds what the account wrote, and that passes fstest.TestFS.
//
// TestBackend runs its checks as subtests, each on a new Backend.
func TestBackend(t *testing.T, newBackend func(t *testing.T, user, pass string) ftp.Backend) {
	const user, pass = "alice@example.org", "secret"
	ctx := context.Background()
	login := func(t *testing.T, be ftp.Backend, user, pass string) fs.FS {
		t.Helper()
		fsys, err := be.Login(ctx, user, pass)
		if err != nil {
			t.Fatalf("Login(%q, %q) = %v; want a file tree", user, pass, err)
		}
		return fsys
	}
	writable := func(t *testing.T, be ftp.Backend) ftp.WriteFS {
		t.Helper()
		fsys := login(t, be, user, pass)
		w, ok := fsys.(ftp.WriteFS)
		if !ok {
			t.Fatalf("Login(%q, %q) returned a %T, which is not an ftp.WriteFS", user, pass, fsys)
		}
		return w
	}
	// fill writes a small tree through w and returns the files written.
	fill := func(t *testing.T, w ftp.WriteFS) map[string]string {
		t.Helper()
		files := map[string]string{"hello.txt": "hello, world\n", "dir/nested.bin": "\x00\x01\x02\r\n", "dir/empty": ""}
		if err := w.Mkdir("dir"); err != nil {
			t.Fatalf("Mkdir(dir) = %v", err)
		}
		for name, data := range files {
			u, err := w.Create(name)
			if err != nil {
				t.Fatalf("Create(%q) = %v", name, err)
			}
			if _, err := io.WriteString(u, data); err != nil {
				t.Fatalf("Write(%q) = %v", name, err)
			}
			if err := u.Close(); err != nil {
				t.Fatalf("Close(%q) = %v", name, err)
			}
		}
		return files
	}
	check := func(t *testing.T, fsys fs.FS, files map[string]string) {
		t.Helper()
		var names []string
		for name, want := range files {
			names = append(names, name)
			if got, err := fs.ReadFile(fsys, name); err != nil || string(got) != want {
				t.Errorf("ReadFile(%q) = %q, %v; want %q", name, got, err, want)
			}
		}
		if err := fstest.TestFS(fsys, names...); err != nil {
			t.Error(err)
		}
	}

	t.Run("Login", func(t *testing.T) {
		be := newBackend(t, user, pass)
		w := writable(t, be)
		if es, err := fs.ReadDir(w, "."); err != nil || len(es) != 0 {
			t.Errorf("ReadDir(.) of a new account = %v, %v; want an empty tree", es, err)
		}
	})

	t.Run("LoginFailed", func(t *testing.T) {
		be := newBackend(t, user, pass)
		for _, c := range [][2]string{{user, "wrong"}, {"mallory@example.org", pass}, {user, ""}, {"", ""}, {"", pass}, {user, pass + "x"}} {
			fsys, err := be.Login(ctx, c[0], c[1])
			if err == nil {
				t.Errorf("Login(%q, %q) returned a %T; want a 530 error", c[0], c[1], fsys)
				continue
			}
			var e *ftp.Error
			if !errors.As(err, &e) || e.Code != 530 {
				t.Errorf("Login(%q, %q) = %v; want a *ftp.Error with Code 530", c[0], c[1], err)
			}
		}
		// A failed login locks nothing.
		writable(t, be)
	})

	t.Run("Write", func(t *testing.T) {
		be := newBackend(t, user, pass)
		w := writable(t, be)
		files := fill(t, w)
		check(t, w, files)
		check(t, login(t, be, user, pass), files)
		if err := w.Rename("hello.txt", "dir/renamed.txt"); err != nil {
			t.Fatalf("Rename = %v", err)
		}
		if err := w.Remove("dir/empty"); err != nil {
			t.Fatalf("Remove = %v", err)
		}
		check(t, login(t, be, user, pass), map[string]string{"dir/renamed.txt": files["hello.txt"], "dir/nested.bin": files["dir/nested.bin"]})
	})

	t.Run("Anonymous", func(t *testing.T) {
		be := newBackend(t, user, pass)
		files := fill(t, writable(t, be))
		for _, c := range [][2]string{{"anonymous", ""}, {"anonymous", "guest@example.org"}, {"ftp", "x"}, {"ANONYMOUS", "inetkit@"}, {"Ftp", ""}} {
			fsys := login(t, be, c[0], c[1])
			if _, ok := fsys.(ftp.WriteFS); ok {
				t.Errorf("Login(%q, %q) returned a %T, an ftp.WriteFS; want a read-only tree", c[0], c[1], fsys)
			}
			check(t, fsys, files)
		}
	})
}
