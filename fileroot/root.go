package fileroot

import (
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
)

// Root is an [FS] over a directory on disk, backed by [os.Root]: no name,
// symbolic link or "..", however spelled, reaches outside the directory.
// A Root is safe for concurrent use. The caller must call Close.
type Root struct {
	r *os.Root
	// dir is the same directory as r, open for openBeneath where the
	// system has it (nil elsewhere), and dirFD its descriptor, valid while
	// mu is held and closed is false.
	dir    *os.File
	dirFD  int
	mu     sync.RWMutex
	closed bool
}

// openDir, where set (Linux), opens the directory path for openBeneath and
// checks that it is the directory of r; it returns nil if it cannot.
var openDir func(r *os.Root, path string) *os.File

// openBeneath, where set (Linux), opens name below dir for reading with one
// system call, refusing anything that would leave dir. ok false means it
// could not say (an error of any kind, or a system without the call): the
// caller then opens name with os.Root, whose answer and error are the
// reference.
var openBeneath func(dirFD int, dirName, name string) (f *os.File, ok bool)

var _ FS = (*Root)(nil)

// Open opens the directory dir as a Root.
func Open(dir string) (*Root, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	root := &Root{r: r}
	if openDir != nil {
		if d := openDir(r, dir); d != nil {
			root.dir, root.dirFD = d, int(d.Fd())
		}
	}
	return root, nil
}

// Close closes the directory. Files already open and uploads in progress
// stay usable.
func (r *Root) Close() error {
	if r.dir != nil {
		r.mu.Lock()
		if !r.closed {
			r.closed = true
			r.dir.Close()
		}
		r.mu.Unlock()
	}
	return r.r.Close()
}

// openFast opens name with openBeneath, if r has it and is open.
func (r *Root) openFast(name string) (*os.File, bool) {
	if r.dir == nil {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, false
	}
	return openBeneath(r.dirFD, r.dir.Name(), name)
}

// Open opens name for reading. A directory's ReadDir never lists temporary
// upload files.
func (r *Root) Open(name string) (fs.File, error) {
	f, _, err := r.OpenInfo(name)
	return f, err
}

// OpenInfo is Open that also returns the file's information, as Stat of
// the open file would, so that the caller need not ask again.
func (r *Root) OpenInfo(name string) (fs.File, fs.FileInfo, error) {
	if err := checkName("open", name, opRead); err != nil {
		return nil, nil, err
	}
	if f, ok := r.openFast(name); ok {
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() {
			return f, fi, nil
		}
		// A directory is opened by os.Root: the ReadDir of an os.NewFile
		// looks entries up by name from the working directory, that of
		// os.Root from the directory itself.
		f.Close()
	}
	f, err := r.r.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.IsDir() {
		return &rootDir{f: f}, fi, nil
	}
	return f, fi, nil
}

// Stat returns information about name, following symbolic links inside the
// root.
func (r *Root) Stat(name string) (fs.FileInfo, error) {
	if err := checkName("stat", name, opRead); err != nil {
		return nil, err
	}
	return r.r.Stat(name)
}

// ReadDir lists the directory name sorted by file name, without temporary
// upload files.
func (r *Root) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := checkName("readdir", name, opRead); err != nil {
		return nil, err
	}
	f, err := r.r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	es, err := f.ReadDir(-1)
	es = visible(es)
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return es, err
}

// Mkdir creates the directory name with mode 0o755 (before umask).
func (r *Root) Mkdir(name string) error {
	if err := checkName("mkdir", name, opCreate); err != nil {
		return err
	}
	return r.r.Mkdir(name, 0o755)
}

// Remove removes the file or empty directory name.
func (r *Root) Remove(name string) error {
	if err := checkName("remove", name, opModify); err != nil {
		return err
	}
	return r.r.Remove(name)
}

// Rename moves oldname to newname, replacing newname if it is a file.
func (r *Root) Rename(oldname, newname string) error {
	if err := checkName("rename", oldname, opModify); err != nil {
		return err
	}
	if err := checkName("rename", newname, opCreate); err != nil {
		return err
	}
	return r.r.Rename(oldname, newname)
}

// Create starts an upload to name. The data is written to a temporary file
// in the same directory, created with mode 0o644 (before umask).
func (r *Root) Create(name string) (Upload, error) {
	if err := checkName("create", name, opCreate); err != nil {
		return nil, err
	}
	if fi, err := r.r.Lstat(name); err == nil && fi.IsDir() {
		return nil, &fs.PathError{Op: "create", Path: name, Err: errIsDir}
	}
	dir := parent(name)
	tmp := tempPrefix + rand.Text()
	if dir != "." {
		tmp = dir + "/" + tmp
	}
	f, err := r.r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: name, Err: innermost(err)}
	}
	return &rootUpload{r: r.r, f: f, name: name, tmp: tmp}, nil
}

var errIsDir = errors.New("is a directory")

// rootUpload is an Upload into a temporary file of a Root.
type rootUpload struct {
	r    *os.Root
	f    *os.File
	name string
	tmp  string
	done bool  // closed or aborted
	err  error // first write error, returned by Close
	// written counts the octets written; flushed, those whose writeback
	// has been started.
	written, flushed int64
}

// writebackBytes is how much an upload writes before it starts the
// writeback of what it has written, so that a large upload is on the disk
// soon after its last octet arrives rather than all at once at Close.
const writebackBytes = 8 << 20

func (u *rootUpload) Write(p []byte) (int, error) {
	if u.done {
		if u.err != nil {
			return 0, u.err
		}
		return 0, &fs.PathError{Op: "write", Path: u.name, Err: fs.ErrClosed}
	}
	n, err := u.f.Write(p)
	if err != nil {
		u.discard()
		u.err = &fs.PathError{Op: "write", Path: u.name, Err: innermost(err)}
		return n, u.err
	}
	u.written += int64(n)
	if u.written-u.flushed >= writebackBytes {
		startWriteback(u.f, u.flushed, u.written-u.flushed)
		u.flushed = u.written
	}
	return n, nil
}

func (u *rootUpload) Close() error {
	if u.done {
		if u.err != nil {
			return u.err
		}
		return &fs.PathError{Op: "close", Path: u.name, Err: fs.ErrClosed}
	}
	u.done = true
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = u.r.Rename(u.tmp, u.name)
	}
	if err != nil {
		u.r.Remove(u.tmp)
		u.err = &fs.PathError{Op: "close", Path: u.name, Err: innermost(err)}
		return u.err
	}
	// Make the rename durable; a failure here does not undo it.
	if d, derr := u.r.Open(parent(u.name)); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (u *rootUpload) Abort() error {
	if u.done {
		return nil
	}
	u.discard()
	return nil
}

func (u *rootUpload) discard() {
	u.done = true
	u.f.Close()
	u.r.Remove(u.tmp)
}

// innermost strips *fs.PathError and *os.LinkError wrappers, which name the
// temporary file.
func innermost(err error) error {
	for {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		default:
			return err
		}
	}
}

// rootDir is an open directory of a Root whose ReadDir hides temporary
// upload files.
type rootDir struct {
	f  *os.File
	mu sync.Mutex
}

func (d *rootDir) Stat() (fs.FileInfo, error) { return d.f.Stat() }
func (d *rootDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.f.Name(), Err: errIsDir}
}
func (d *rootDir) Close() error { return d.f.Close() }

func (d *rootDir) ReadDir(n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n <= 0 {
		es, err := d.f.ReadDir(-1)
		return visible(es), err
	}
	var out []fs.DirEntry
	for len(out) < n {
		es, err := d.f.ReadDir(n - len(out))
		out = append(out, visible(es)...)
		if err != nil {
			if err == io.EOF && len(out) > 0 {
				return out, nil
			}
			return out, err
		}
	}
	return out, nil
}

// visible removes temporary upload files from es.
func visible(es []fs.DirEntry) []fs.DirEntry {
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool { return strings.HasPrefix(e.Name(), tempPrefix) })
}
