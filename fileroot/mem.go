package fileroot

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory [FS] with the same semantics as [Root]: the same
// names are refused, parents must exist, and uploads appear only when
// closed. It has no symbolic links. The zero value is not usable; call
// [NewMemFS]. A MemFS is safe for concurrent use.
type MemFS struct {
	mu    sync.RWMutex
	nodes map[string]*memNode // by name; "." is the root
}

var _ FS = (*MemFS)(nil)

// memNode is a file or directory. A file's data is never modified in place,
// only replaced, so open files keep reading the version they opened.
type memNode struct {
	dir     bool
	data    []byte
	modTime time.Time
}

var errNotEmpty = errors.New("directory not empty")

// NewMemFS returns an empty MemFS.
func NewMemFS() *MemFS {
	return &MemFS{nodes: map[string]*memNode{".": {dir: true, modTime: time.Now()}}}
}

// memInfo is the fs.FileInfo and fs.DirEntry of a node.
type memInfo struct {
	name string
	n    memNode
}

func (i *memInfo) Name() string { return i.name }
func (i *memInfo) Size() int64  { return int64(len(i.n.data)) }
func (i *memInfo) Mode() fs.FileMode {
	if i.n.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i *memInfo) ModTime() time.Time         { return i.n.modTime }
func (i *memInfo) IsDir() bool                { return i.n.dir }
func (i *memInfo) Sys() any                   { return nil }
func (i *memInfo) Type() fs.FileMode          { return i.Mode().Type() }
func (i *memInfo) Info() (fs.FileInfo, error) { return i, nil }
func (i *memInfo) String() string             { return fs.FormatFileInfo(i) }

func (m *MemFS) info(name string, n *memNode) *memInfo {
	return &memInfo{name: path.Base(name), n: *n}
}

// children returns the entries of directory name, sorted. m.mu must be held.
func (m *MemFS) children(name string) []fs.DirEntry {
	prefix := name + "/"
	if name == "." {
		prefix = ""
	}
	var es []fs.DirEntry
	for k, n := range m.nodes {
		if k == "." || !strings.HasPrefix(k, prefix) || strings.Contains(k[len(prefix):], "/") {
			continue
		}
		es = append(es, m.info(k, n))
	}
	slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return es
}

// Open opens name for reading.
func (m *MemFS) Open(name string) (fs.File, error) {
	if err := checkName("open", name, opRead); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return &memDir{info: m.info(name, n), entries: m.children(name)}, nil
	}
	return &memFile{info: m.info(name, n), r: bytes.NewReader(n.data)}, nil
}

// lookup returns the node name. m.mu must be held.
func (m *MemFS) lookup(op, name string) (*memNode, error) {
	n, ok := m.nodes[name]
	if !ok {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// checkParent reports whether the parent of name is an existing directory.
// m.mu must be held.
func (m *MemFS) checkParent(op, name string) error {
	p, ok := m.nodes[parent(name)]
	if !ok {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if !p.dir {
		return &fs.PathError{Op: op, Path: name, Err: errNotDir}
	}
	return nil
}

var errNotDir = errors.New("not a directory")

// Stat returns information about name.
func (m *MemFS) Stat(name string) (fs.FileInfo, error) {
	if err := checkName("stat", name, opRead); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return m.info(name, n), nil
}

// ReadDir lists the directory name sorted by file name.
func (m *MemFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := checkName("readdir", name, opRead); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, err := m.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errNotDir}
	}
	return m.children(name), nil
}

// Mkdir creates the directory name.
func (m *MemFS) Mkdir(name string) error {
	if err := checkName("mkdir", name, opCreate); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkParent("mkdir", name); err != nil {
		return err
	}
	if _, ok := m.nodes[name]; ok {
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	}
	m.nodes[name] = &memNode{dir: true, modTime: time.Now()}
	return nil
}

// Remove removes the file or empty directory name.
func (m *MemFS) Remove(name string) error {
	if err := checkName("remove", name, opModify); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("remove", name)
	if err != nil {
		return err
	}
	if n.dir && len(m.children(name)) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errNotEmpty}
	}
	delete(m.nodes, name)
	return nil
}

// Rename moves oldname to newname, replacing newname if it is a file.
func (m *MemFS) Rename(oldname, newname string) error {
	if err := checkName("rename", oldname, opModify); err != nil {
		return err
	}
	if err := checkName("rename", newname, opCreate); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup("rename", oldname)
	if err != nil {
		return err
	}
	if err := m.checkParent("rename", newname); err != nil {
		return err
	}
	if oldname == newname {
		return nil
	}
	if t, ok := m.nodes[newname]; ok && (t.dir || n.dir) {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrExist}
	}
	if n.dir && strings.HasPrefix(newname, oldname+"/") {
		return &fs.PathError{Op: "rename", Path: newname, Err: fs.ErrInvalid}
	}
	delete(m.nodes, oldname)
	m.nodes[newname] = n
	if n.dir {
		prefix := oldname + "/"
		for k, c := range m.nodes {
			if strings.HasPrefix(k, prefix) {
				delete(m.nodes, k)
				m.nodes[newname+"/"+k[len(prefix):]] = c
			}
		}
	}
	return nil
}

// Create starts an upload to name. The data is kept in memory until Close.
func (m *MemFS) Create(name string) (Upload, error) {
	if err := checkName("create", name, opCreate); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.checkCreate(name); err != nil {
		return nil, err
	}
	return &memUpload{m: m, name: name}, nil
}

// checkCreate reports whether a file name can be created. m.mu must be held.
func (m *MemFS) checkCreate(name string) error {
	if err := m.checkParent("create", name); err != nil {
		return err
	}
	if n, ok := m.nodes[name]; ok && n.dir {
		return &fs.PathError{Op: "create", Path: name, Err: errIsDir}
	}
	return nil
}

// memUpload is an Upload into a MemFS.
type memUpload struct {
	m    *MemFS
	name string
	buf  bytes.Buffer
	done bool
}

func (u *memUpload) Write(p []byte) (int, error) {
	if u.done {
		return 0, &fs.PathError{Op: "write", Path: u.name, Err: fs.ErrClosed}
	}
	return u.buf.Write(p)
}

func (u *memUpload) Close() error {
	if u.done {
		return &fs.PathError{Op: "close", Path: u.name, Err: fs.ErrClosed}
	}
	u.done = true
	u.m.mu.Lock()
	defer u.m.mu.Unlock()
	if err := u.m.checkCreate(u.name); err != nil {
		return err
	}
	u.m.nodes[u.name] = &memNode{data: bytes.Clone(u.buf.Bytes()), modTime: time.Now()}
	u.buf = bytes.Buffer{}
	return nil
}

func (u *memUpload) Abort() error {
	u.done = true
	u.buf = bytes.Buffer{}
	return nil
}

// memFile is an open file of a MemFS.
type memFile struct {
	info *memInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error)                { return f.info, nil }
func (f *memFile) Read(p []byte) (int, error)                { return f.r.Read(p) }
func (f *memFile) ReadAt(p []byte, off int64) (int, error)   { return f.r.ReadAt(p, off) }
func (f *memFile) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }
func (f *memFile) Close() error                              { return nil }

// memDir is an open directory of a MemFS, listing the entries it had when
// opened.
type memDir struct {
	info    *memInfo
	entries []fs.DirEntry
	mu      sync.Mutex
	off     int
}

func (d *memDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errIsDir}
}
func (d *memDir) Close() error { return nil }

func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rest := d.entries[d.off:]
	if n <= 0 {
		d.off = len(d.entries)
		return slices.Clone(rest), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.off += n
	return slices.Clone(rest[:n]), nil
}
