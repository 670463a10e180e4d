package fileroot_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"testing/fstest"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/fileroot/fileroottest"
)

func openRoot(t *testing.T, dir string) *fileroot.Root {
	t.Helper()
	r, err := fileroot.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRoot(t *testing.T) {
	fileroottest.TestFS(t, func(t *testing.T) fileroot.FS { return openRoot(t, t.TempDir()) })
}

func TestMemFS(t *testing.T) {
	fileroottest.TestFS(t, func(*testing.T) fileroot.FS { return fileroot.NewMemFS() })
}

func TestRootSymlinks(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
		if runtime.GOOS == "windows" {
			t.Skip("symbolic links need a privilege on Windows:", err)
		}
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "secretlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("in", filepath.Join(dir, "inlink")); err != nil {
		t.Fatal(err)
	}
	r := openRoot(t, dir)
	for _, name := range []string{"out", "out/secret", "secretlink", "rel"} {
		if _, err := fs.ReadFile(r, name); err == nil {
			t.Errorf("ReadFile(%q) escaped the root", name)
		}
		if _, err := r.Stat(name); err == nil {
			t.Errorf("Stat(%q) escaped the root", name)
		}
	}
	if _, err := r.ReadDir("out"); err == nil {
		t.Error("ReadDir(out) escaped the root")
	}
	if u, err := r.Create("out/new"); err == nil {
		u.Abort()
		t.Error("Create(out/new) escaped the root")
	}
	if err := r.Mkdir("out/d"); err == nil {
		t.Error("Mkdir(out/d) escaped the root")
	}
	if err := r.Remove("out/secret"); err == nil {
		t.Error("Remove(out/secret) escaped the root")
	}
	if err := r.Rename("in", "out/stolen"); err == nil {
		t.Error("Rename into out/ escaped the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "secret")); err != nil {
		t.Errorf("outside file touched: %v", err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("outside directory has %d entries, want 1", len(ents))
	}
	if b, err := fs.ReadFile(r, "inlink"); err != nil || string(b) != "in" {
		t.Errorf("symlink inside the root: %q, %v", b, err)
	}
}

func TestRootNoLeftovers(t *testing.T) {
	dir := t.TempDir()
	r := openRoot(t, dir)
	u, err := r.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("partial"))
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("during upload the directory has %d entries, want the temporary file", len(ents))
	}
	if _, err := r.Open(ents[0].Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of the temporary file: %v, want fs.ErrNotExist", err)
	}
	if err := u.Abort(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("after Abort the directory has %v", ents)
	}
}

func TestFailedCloseLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	for name, fsys := range map[string]fileroot.FS{"Root": openRoot(t, dir), "MemFS": fileroot.NewMemFS()} {
		u, err := fsys.Create("f")
		if err != nil {
			t.Fatal(err)
		}
		u.Write([]byte("data"))
		if err := fsys.Mkdir("f"); err != nil {
			t.Fatal(err)
		}
		var pe *fs.PathError
		if err := u.Close(); err == nil || !errors.As(err, &pe) || pe.Path != "f" {
			t.Errorf("%s: Close onto a directory: %v, want *fs.PathError for f", name, err)
		}
		if es, err := fsys.ReadDir("."); err != nil || len(es) != 1 || !es[0].IsDir() {
			t.Errorf("%s: ReadDir: %v, %v; want the directory f only", name, es, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("Root directory has %v, want f only", ents)
	}
}

func TestReadOnly(t *testing.T) {
	m := fileroot.NewMemFS()
	u, err := m.Create("a.txt")
	if err != nil {
		t.Fatal(err)
	}
	u.Write([]byte("hello"))
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	ro := fileroot.ReadOnly(m)
	if _, ok := ro.(interface {
		Create(string) (fileroot.Upload, error)
	}); ok {
		t.Error("ReadOnly(m) has a Create method")
	}
	if _, ok := ro.(interface{ Remove(string) error }); ok {
		t.Error("ReadOnly(m) has a Remove method")
	}
	if err := fstest.TestFS(ro, "a.txt"); err != nil {
		t.Error(err)
	}
}
