// Package fileroot implements the file tree that inetkit's file protocols
// (FTP, HTTP, Gopher) share: one directory, reached only through an [FS]
// that can never name anything outside it.
//
// Names are slash-separated and relative, as [fs.ValidPath] requires: no
// leading or trailing slash, no empty, "." or ".." elements (the name "."
// alone means the root). Names that contain NUL or a backslash are refused
// too, so that no client can smuggle a Windows-style separator or a C string
// terminator past the check. A refused name gives an [*fs.PathError] that
// wraps [fs.ErrInvalid]. [Root] is backed by [os.Root], which additionally
// refuses to follow a symbolic link that leaves the directory.
//
// Uploads are atomic: [FS.Create] writes to a hidden temporary file in the
// same directory and [Upload.Close] syncs it and renames it into place, so a
// reader sees either the old file, or nothing, or the whole new file, never
// part of one. [Upload.Abort], or a failed write, removes the temporary file,
// so a failed or cut upload leaves nothing behind. Temporary files are named
// with the reserved prefix ".inetkit-upload-": they are never listed, cannot
// be opened, and no name with that prefix can be created.
//
// Other names that start with "." (dotfiles) are ordinary names here: they
// are listed and served like any other. Protocols that want to hide them
// (HTTP does) filter them themselves.
package fileroot

import (
	"io"
	"io/fs"
	"path"
	"strings"
)

// FS is a file tree that can be read and written. Every name is a
// slash-separated path as described in the package documentation; the read
// methods follow the [fs.FS], [fs.StatFS] and [fs.ReadDirFS] contracts.
// Errors are [*fs.PathError] values (or [*os.LinkError] for Rename) that
// work with [errors.Is] and [fs.ErrNotExist], [fs.ErrExist], [fs.ErrInvalid]
// and [fs.ErrPermission].
//
// Implementations in this package are safe for concurrent use.
type FS interface {
	fs.FS
	fs.StatFS
	fs.ReadDirFS

	// Create starts an upload that, when its Close succeeds, replaces or
	// creates the regular file name. The parent directory must exist. Until
	// Close, readers see the previous contents (or no file). The caller must
	// call Close or Abort.
	Create(name string) (Upload, error)
	// Mkdir creates the directory name. Its parent must exist.
	Mkdir(name string) error
	// Remove removes the file or empty directory name.
	Remove(name string) error
	// Rename moves oldname to newname, replacing newname if it is a file.
	Rename(oldname, newname string) error
}

// Upload is a file being written by [FS.Create]. Write appends to it; the
// data becomes visible only when Close returns nil. Close syncs the data and
// moves it into place atomically; if anything fails the temporary data is
// removed and Close returns the error. Abort discards the upload. After a
// failed Write, the upload is already discarded and Close returns the write
// error. Abort after Close or Abort does nothing and returns nil, so
// "defer u.Abort()" is always safe. An Upload is not safe for concurrent use.
type Upload interface {
	io.WriteCloser
	Abort() error
}

// tempPrefix starts the names of temporary upload files. Names with this
// prefix are reserved.
const tempPrefix = ".inetkit-upload-"

// nameOp says how a name is used, which decides what checkName refuses.
type nameOp int

const (
	opRead   nameOp = iota // opening, listing or stating: "." allowed
	opModify               // removing, renaming from: existing entry
	opCreate               // creating, renaming to: new entry
)

// checkName reports whether name may be used for op, as an *fs.PathError.
// Reserved (temporary) names do not exist for reading and modifying, and
// are invalid for creating.
func checkName(op, name string, how nameOp) error {
	if !fs.ValidPath(name) || strings.ContainsAny(name, "\x00\\") || (how != opRead && name == ".") {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if isReserved(name) {
		if how == opCreate {
			return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
		}
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return nil
}

// isReserved reports whether any element of name is a temporary name.
func isReserved(name string) bool {
	for elem := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(elem, tempPrefix) {
			return true
		}
	}
	return false
}

// parent returns the directory that contains name.
func parent(name string) string { return path.Dir(name) }

// ReadOnly returns a view of fsys that can only be read: it has the read
// methods of fsys (Open, Stat, ReadDir) and none of the write methods of
// [FS], so that a server that looks for them finds none (an anonymous FTP
// login, say).
func ReadOnly(fsys fs.FS) fs.FS { return readOnly{fsys} }

type readOnly struct{ fsys fs.FS }

func (r readOnly) Open(name string) (fs.File, error)          { return r.fsys.Open(name) }
func (r readOnly) Stat(name string) (fs.FileInfo, error)      { return fs.Stat(r.fsys, name) }
func (r readOnly) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(r.fsys, name) }
