package fileroot

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestReadSmall checks ReadSmall against OpenInfo and ReadAt: for every
// name it reads, the same bytes and modification time; for every name that
// is not a regular file that fits, that escapes the root or that does not
// exist, no answer. On Linux it runs once with openat2 and once without.
func TestReadSmall(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "in"), []byte("inside"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "empty"), nil, 0o644))
	must(os.WriteFile(filepath.Join(dir, "fits"), bytes.Repeat([]byte("x"), 16), 0o644))
	must(os.WriteFile(filepath.Join(dir, "big"), bytes.Repeat([]byte("x"), 17), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("f"), 0o644))
	must(os.WriteFile(filepath.Join(dir, tempPrefix+"x"), []byte("temp"), 0o644))
	must(os.Symlink("in", filepath.Join(dir, "inlink")))
	must(os.Symlink("../in", filepath.Join(dir, "sub", "uplink")))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "abs")))
	must(os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel")))
	must(os.Symlink(outside, filepath.Join(dir, "out")))
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	mt := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	must(os.Chtimes(filepath.Join(dir, "in"), mt, mt))

	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := []string{"in", "empty", "fits", "sub/f", "inlink", "sub/uplink"}
	refused := []string{"big", "sub", ".", "fifo", tempPrefix + "x", "abs", "rel", "out/secret",
		"nope", "sub/nope", "in/x", "..", "../" + filepath.Base(outside) + "/secret", "/etc/passwd", "a//b", "a\\b", "a\x00b"}
	check := func(t *testing.T) {
		for _, name := range read {
			buf := make([]byte, 16)
			n, modTime, ok := r.ReadSmall(name, buf)
			if !ok {
				t.Errorf("ReadSmall(%q) read nothing", name)
				continue
			}
			f, fi, err := r.OpenInfo(name)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(f)
			f.Close()
			if !bytes.Equal(buf[:n], want) || !modTime.Equal(fi.ModTime()) || modTime.UnixNano() != fi.ModTime().UnixNano() {
				t.Errorf("ReadSmall(%q) = %q, %v; want %q, %v", name, buf[:n], modTime, want, fi.ModTime())
			}
		}
		for _, name := range refused {
			done := make(chan bool, 1)
			go func() {
				_, _, ok := r.ReadSmall(name, make([]byte, 16))
				done <- ok
			}()
			select {
			case ok := <-done:
				if ok {
					t.Errorf("ReadSmall(%q) read it", name)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("ReadSmall(%q) blocked", name)
			}
		}
	}
	if readBeneath != nil {
		if _, _, ok, _ := readBeneath(r.dirFD, "in", make([]byte, 16)); !ok {
			t.Fatal("readBeneath failed on a plain file")
		}
		t.Run("openat2", check)
		saved := readBeneath
		readBeneath = nil
		defer func() { readBeneath = saved }()
	}
	t.Run("os.Root", check)

	r.Close()
	if _, _, ok := r.ReadSmall("in", make([]byte, 16)); ok {
		t.Error("ReadSmall read a file after Close")
	}
}
