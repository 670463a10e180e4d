// Package fileroottest checks that an implementation of [fileroot.FS]
// behaves as the fileroot package documents: the fs.FS read contract
// (through [fstest.TestFS]), atomic uploads, directory operations, and the
// refusal of every name that could leave the tree.
package fileroottest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/inetkit/inetkit/fileroot"
)

// tempPrefix is the reserved prefix of temporary upload names.
const tempPrefix = ".inetkit-upload-"

// TestFS runs the conformance tests against file systems made by newFS,
// which must return a new, empty FS for each call.
func TestFS(t *testing.T, newFS func(t *testing.T) fileroot.FS) {
	t.Run("Read", func(t *testing.T) { testRead(t, newFS(t)) })
	t.Run("Upload", func(t *testing.T) { testUpload(t, newFS(t)) })
	t.Run("Abort", func(t *testing.T) { testAbort(t, newFS(t)) })
	t.Run("ConcurrentReader", func(t *testing.T) { testConcurrentReader(t, newFS(t)) })
	t.Run("Dirs", func(t *testing.T) { testDirs(t, newFS(t)) })
	t.Run("Traversal", func(t *testing.T) { testTraversal(t, newFS(t)) })
}

// WriteFile writes data to name through fsys.Create, failing t on error.
func WriteFile(t testing.TB, fsys fileroot.FS, name, data string) {
	t.Helper()
	u, err := fsys.Create(name)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	if _, err := io.WriteString(u, data); err != nil {
		t.Fatalf("Write(%q): %v", name, err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("Close(%q): %v", name, err)
	}
}

func mkdir(t *testing.T, fsys fileroot.FS, name string) {
	t.Helper()
	if err := fsys.Mkdir(name); err != nil {
		t.Fatalf("Mkdir(%q): %v", name, err)
	}
}

func readFile(t *testing.T, fsys fileroot.FS, name string) string {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatalf("ReadFile(%q): %v", name, err)
	}
	return string(b)
}

// noTemps fails t if any directory of fsys lists a temporary name.
func noTemps(t *testing.T, fsys fileroot.FS) {
	t.Helper()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tempPrefix) {
			t.Errorf("temporary file %q is listed", p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("WalkDir: %v", err)
	}
}

func testRead(t *testing.T, fsys fileroot.FS) {
	mkdir(t, fsys, "dir")
	mkdir(t, fsys, "dir/sub")
	mkdir(t, fsys, "empty")
	WriteFile(t, fsys, "a.txt", "alpha\n")
	WriteFile(t, fsys, ".hidden", "dotfiles are ordinary names\n")
	WriteFile(t, fsys, "dir/b.txt", strings.Repeat("b", 10000))
	WriteFile(t, fsys, "dir/sub/c.txt", "")
	u, err := fsys.Create("dir/pending.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Abort()
	io.WriteString(u, "half")
	if err := fstest.TestFS(fsys, "a.txt", ".hidden", "dir/b.txt", "dir/sub/c.txt", "empty"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("dir/pending.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of an unfinished upload: %v, want fs.ErrNotExist", err)
	}
	noTemps(t, fsys)
}

func testUpload(t *testing.T, fsys fileroot.FS) {
	WriteFile(t, fsys, "f", "one")
	u, err := fsys.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(u, "two, longer")
	if got := readFile(t, fsys, "f"); got != "one" {
		t.Errorf("during upload: %q, want old contents", got)
	}
	noTemps(t, fsys)
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, fsys, "f"); got != "two, longer" {
		t.Errorf("after Close: %q", got)
	}
	if err := u.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	if err := u.Abort(); err != nil {
		t.Errorf("Abort after Close: %v", err)
	}
	if got := readFile(t, fsys, "f"); got != "two, longer" {
		t.Errorf("Abort after Close changed the file: %q", got)
	}
	if _, err := fsys.Create("missing/f"); err == nil {
		t.Error("Create in a missing directory succeeded")
	}
	mkdir(t, fsys, "d")
	if _, err := fsys.Create("d"); err == nil {
		t.Error("Create over a directory succeeded")
	}
	es, err := fsys.ReadDir(".")
	if err != nil || len(es) != 2 {
		t.Errorf("ReadDir: %v, %v; want d and f only", es, err)
	}
}

func testAbort(t *testing.T, fsys fileroot.FS) {
	WriteFile(t, fsys, "keep", "old")
	for _, name := range []string{"new", "keep"} {
		u, err := fsys.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(u, "discarded")
		if err := u.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if err := u.Close(); err == nil {
			t.Error("Close after Abort succeeded")
		}
	}
	if _, err := fsys.Stat("new"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("aborted new file: %v, want fs.ErrNotExist", err)
	}
	if got := readFile(t, fsys, "keep"); got != "old" {
		t.Errorf("aborted replacement: %q, want old", got)
	}
	es, err := fsys.ReadDir(".")
	if err != nil || len(es) != 1 || es[0].Name() != "keep" {
		t.Errorf("ReadDir after Abort: %v, %v; want keep only", es, err)
	}
}

func testConcurrentReader(t *testing.T, fsys fileroot.FS) {
	old := strings.Repeat("o", 64<<10)
	updated := strings.Repeat("n", 128<<10)
	WriteFile(t, fsys, "f", old)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				b, err := fs.ReadFile(fsys, "f")
				if err != nil {
					t.Errorf("concurrent read: %v", err)
					return
				}
				if s := string(b); s != old && s != updated {
					t.Errorf("concurrent read saw %d bytes of a partial file", len(b))
					return
				}
				es, err := fsys.ReadDir(".")
				if err != nil || len(es) != 1 {
					t.Errorf("concurrent ReadDir: %v, %v", es, err)
					return
				}
			}
		})
	}
	for range 5 {
		u, err := fsys.Create("f")
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(updated); i += 4096 {
			u.Write([]byte(updated[i : i+4096]))
		}
		if err := u.Close(); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if b, _ := fs.ReadFile(fsys, "f"); !bytes.Equal(b, []byte(updated)) {
		t.Error("final contents wrong")
	}
}

func testDirs(t *testing.T, fsys fileroot.FS) {
	mkdir(t, fsys, "d")
	if err := fsys.Mkdir("d"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Mkdir existing: %v, want fs.ErrExist", err)
	}
	if err := fsys.Mkdir("x/y"); err == nil {
		t.Error("Mkdir without parent succeeded")
	}
	WriteFile(t, fsys, "d/f", "data")
	if err := fsys.Remove("d"); err == nil {
		t.Error("Remove of a non-empty directory succeeded")
	}
	if err := fsys.Rename("d/f", "g"); err != nil {
		t.Fatalf("Rename file: %v", err)
	}
	if got := readFile(t, fsys, "g"); got != "data" {
		t.Errorf("renamed file: %q", got)
	}
	if _, err := fsys.Stat("d/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("old name after Rename: %v", err)
	}
	WriteFile(t, fsys, "h", "other")
	if err := fsys.Rename("h", "g"); err != nil {
		t.Fatalf("Rename over a file: %v", err)
	}
	if got := readFile(t, fsys, "g"); got != "other" {
		t.Errorf("replaced file: %q", got)
	}
	WriteFile(t, fsys, "d/inner", "in")
	if err := fsys.Rename("d", "e"); err != nil {
		t.Fatalf("Rename directory: %v", err)
	}
	if got := readFile(t, fsys, "e/inner"); got != "in" {
		t.Errorf("file in renamed directory: %q", got)
	}
	if err := fsys.Rename("missing", "m"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename missing: %v, want fs.ErrNotExist", err)
	}
	if err := fsys.Remove("e/inner"); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove("e"); err != nil {
		t.Fatalf("Remove empty directory: %v", err)
	}
	if err := fsys.Remove("e"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove missing: %v, want fs.ErrNotExist", err)
	}
	es, err := fsys.ReadDir(".")
	if err != nil || len(es) != 1 || es[0].Name() != "g" {
		t.Errorf("ReadDir: %v, %v; want g only", es, err)
	}
}

// BadNames are names that every FS must refuse.
var BadNames = []string{
	"../x", "..", "/etc/passwd", "a/../../x", "a/../x", "./a", "a//b", "a/", "",
	"a\x00b", "\x00", `..\x`, `a\..\..\x`, `\etc\passwd`,
}

func testTraversal(t *testing.T, fsys fileroot.FS) {
	mkdir(t, fsys, "a")
	WriteFile(t, fsys, "a/x", "inside")
	refused := func(op, name string, err error) {
		t.Helper()
		var pe *fs.PathError
		if err == nil {
			t.Errorf("%s(%q) succeeded", op, name)
		} else if !errors.As(err, &pe) || !(errors.Is(err, fs.ErrInvalid) || errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist)) {
			t.Errorf("%s(%q): %v, want *fs.PathError with fs.ErrInvalid or fs.ErrPermission", op, name, err)
		}
	}
	for _, name := range BadNames {
		_, err := fsys.Open(name)
		refused("Open", name, err)
		_, err = fsys.Stat(name)
		refused("Stat", name, err)
		_, err = fsys.ReadDir(name)
		refused("ReadDir", name, err)
		_, err = fsys.Create(name)
		refused("Create", name, err)
		refused("Mkdir", name, fsys.Mkdir(name))
		refused("Remove", name, fsys.Remove(name))
		refused("Rename from", name, fsys.Rename(name, "y"))
		refused("Rename to", name, fsys.Rename("a/x", name))
	}
	for _, name := range []string{".", "a/."} {
		_, err := fsys.Create(name)
		refused("Create", name, err)
		refused("Remove", name, fsys.Remove(name))
	}
	reserved := tempPrefix + "x"
	if _, err := fsys.Create(reserved); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Create of a reserved name: %v, want fs.ErrInvalid", err)
	}
	if err := fsys.Mkdir("a/" + reserved); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Mkdir of a reserved name: %v, want fs.ErrInvalid", err)
	}
	if _, err := fsys.Open(reserved); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open of a reserved name: %v, want fs.ErrNotExist", err)
	}
	if got := readFile(t, fsys, "a/x"); got != "inside" {
		t.Errorf("a/x changed: %q", got)
	}
}
