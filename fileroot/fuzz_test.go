package fileroot_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fileroot"
)

// FuzzNames gives arbitrary names to both file systems: no operation panics,
// the two agree on which names a new file may have, and whatever the disk
// root creates lies inside its directory, never beside it.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"a", "a/b", "../x", "/etc/passwd", "a/../../x", "x\x00y", `a\..\b`, ".inetkit-upload-1", ".hidden", "", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		outer := t.TempDir()
		dir := filepath.Join(outer, "root")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		r, err := fileroot.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		m := fileroot.NewMemFS()
		var created [2]bool
		for i, fsys := range []fileroot.FS{r, m} {
			fsys.Open(name)
			fsys.Stat(name)
			fsys.ReadDir(name)
			if u, err := fsys.Create(name); err == nil {
				io.WriteString(u, "x")
				created[i] = u.Close() == nil
			}
			fsys.Rename(name, "renamed")
			fsys.Remove("renamed")
			fsys.Mkdir(name)
		}
		if created[0] != created[1] {
			t.Errorf("Create(%q): disk root %v, memory %v", name, created[0], created[1])
		}
		// Nothing appears beside the root.
		entries, err := os.ReadDir(outer)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Name() != "root" {
				t.Errorf("Create(%q) made %q outside the root", name, e.Name())
			}
		}
		if strings.ContainsRune(name, 0) && created[0] {
			t.Errorf("Create(%q) with a NUL succeeded", name)
		}
	})
}
