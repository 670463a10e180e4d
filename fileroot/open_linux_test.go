package fileroot

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestOpenBeneath checks openat2's answer against os.Root's for names
// inside, names that leave the root by every kind of symbolic link, and
// names that do not exist: wherever openat2 opens a file, os.Root opens the
// same one, and nothing outside is ever opened.
func TestOpenBeneath(t *testing.T) {
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
	must(os.WriteFile(filepath.Join(dir, "in"), []byte("in"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("f"), 0o644))
	must(os.Symlink("in", filepath.Join(dir, "inlink")))
	must(os.Symlink("../in", filepath.Join(dir, "sub", "uplink")))
	must(os.Symlink("sub", filepath.Join(dir, "sublink")))
	must(os.Symlink(outside, filepath.Join(dir, "out")))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "abs")))
	must(os.Symlink(filepath.Join(dir, "in"), filepath.Join(dir, "absin")))
	must(os.Symlink("../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "rel")))
	must(os.Symlink("../../"+filepath.Base(outside)+"/secret", filepath.Join(dir, "sub", "rel2")))
	must(os.Symlink("/proc/self/root"+outside+"/secret", filepath.Join(dir, "proc")))
	must(os.Symlink("/proc/self/fd/0", filepath.Join(dir, "magic")))
	must(os.Symlink("loop", filepath.Join(dir, "loop")))
	must(os.Symlink("nowhere", filepath.Join(dir, "dangling")))

	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.dir == nil {
		t.Fatal("Open kept no directory for openat2")
	}
	if _, ok := openBeneathLinux(r.dirFD, r.dir.Name(), "in"); !ok {
		// Only a kernel without openat2 (before 5.6, ENOSYS) or a
		// sandbox that refuses it (EPERM) excuses the test.
		how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: beneath}
		fd, err := unix.Openat2(unix.AT_FDCWD, dir, &how)
		if err == unix.ENOSYS || err == unix.EPERM {
			t.Skip("openat2 unavailable:", err)
		}
		if err == nil {
			unix.Close(fd)
		}
		t.Fatalf("openat2 of a file inside the root failed (openat2 itself: %v)", err)
	}
	inside := []string{".", "in", "inlink", "sub", "sub/f", "sub/uplink", "sublink/f", "sublink/uplink"}
	escapes := []string{"out", "out/secret", "abs", "rel", "sub/rel2", "proc", "magic", "absin",
		"..", "../" + filepath.Base(outside) + "/secret", "sub/../..", "/etc/passwd", outside + "/secret"}
	missing := []string{"nope", "sub/nope", "in/x", "loop", "dangling"}
	for _, name := range inside {
		f, ok := openBeneathLinux(r.dirFD, r.dir.Name(), name)
		if !ok {
			t.Errorf("openat2(%q) failed", name)
			continue
		}
		rf, err := r.r.Open(name)
		if err != nil {
			t.Errorf("os.Root refuses %q, openat2 opened it", name)
		} else {
			fi, _ := f.Stat()
			ri, _ := rf.Stat()
			if f.Name() != rf.Name() {
				t.Errorf("openat2(%q) named %q, os.Root %q", name, f.Name(), rf.Name())
			}
			if !os.SameFile(fi, ri) {
				t.Errorf("openat2(%q) opened another file than os.Root", name)
			}
			rf.Close()
		}
		f.Close()
	}
	for _, name := range append(escapes, missing...) {
		if f, ok := openBeneathLinux(r.dirFD, r.dir.Name(), name); ok {
			fi, _ := f.Stat()
			f.Close()
			t.Errorf("openat2(%q) opened %v", name, fi.Name())
		}
	}
	for _, name := range escapes {
		if f, err := r.Open(name); err == nil {
			f.Close()
			t.Errorf("Open(%q) escaped the root", name)
		}
	}
	// Open's answers are os.Root's: the same errors.
	for _, name := range append(escapes, missing...) {
		_, err := r.Open(name)
		_, rerr := r.r.Open(name)
		if checkName("open", name, opRead) == nil && (err == nil) != (rerr == nil) {
			t.Errorf("Open(%q): %v, os.Root: %v", name, err, rerr)
		}
	}
}

// TestOpenDirMismatch checks that a Root whose directory was
// replaced between its two opens does not use openat2.
func TestOpenDirMismatch(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	r, err := os.OpenRoot(a)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if d := openDirLinux(r, b); d != nil {
		d.Close()
		t.Error("openDirLinux accepted another directory")
	}
	if d := openDirLinux(r, a); d == nil {
		t.Error("openDirLinux refused the root's own directory")
	} else {
		d.Close()
	}
}

// TestOpenAfterClose checks that Open after Close fails rather than
// opening through a reused descriptor.
func TestOpenAfterClose(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if f, err := r.Open("in"); err == nil {
		f.Close()
		t.Error("Open after Close succeeded")
	}
}

// TestOpenWhileClosing opens files while the Root closes, for the race
// detector: no open may use the directory's descriptor after Close.
func TestOpenWhileClosing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("in"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 50 {
				if f, err := r.Open("in"); err == nil {
					f.Close()
				}
			}
		}()
		r.Close()
		<-done
	}
}
