package fileroot

import (
	"io"
	"time"
)

// readBeneath, where set (Linux), reads the whole of the regular file name
// below dir into buf, if it fits, without an *os.File. ok false means it
// could not say (any error, a system without the calls) and the caller
// asks os.Root;
// refused true means it opened the file and found it is not one it reads
// (not a regular file, or too large): the answer is final.
var readBeneath func(dirFD int, name string, buf []byte) (n int, modTime time.Time, ok, refused bool)

// ReadSmall reads the whole of the regular file name into buf, if it holds
// no more than len(buf) bytes, and returns its size and modification time:
// what OpenInfo, ReadAt and Close give, in fewer system calls where the
// system allows (on Linux: openat2, fstat, pread and close, and no
// *os.File). ok false means it did not read the file: the name is invalid or
// reserved, the file does not exist, cannot be opened, is not a regular
// file, is larger than buf or changed size while it was read. The caller
// then opens it with Open, whose answer and error are the reference. It is
// for a server that answers many requests for small files.
//
// A type that embeds a *Root to watch what is read must override
// ReadSmall too.
func (r *Root) ReadSmall(name string, buf []byte) (n int, modTime time.Time, ok bool) {
	if checkName("open", name, opRead) != nil {
		return 0, time.Time{}, false
	}
	if r.dir != nil && readBeneath != nil {
		var refused bool
		r.mu.RLock()
		if !r.closed {
			n, modTime, ok, refused = readBeneath(r.dirFD, name, buf)
		}
		r.mu.RUnlock()
		if ok || refused {
			return n, modTime, ok
		}
	}
	// Stat first, so that a FIFO is never opened (its open would wait for
	// a writer).
	if fi, err := r.Stat(name); err != nil || !fi.Mode().IsRegular() || fi.Size() > int64(len(buf)) {
		return 0, time.Time{}, false
	}
	f, fi, err := r.OpenInfo(name)
	if err != nil {
		return 0, time.Time{}, false
	}
	defer f.Close()
	size := fi.Size()
	ra, isReaderAt := f.(io.ReaderAt)
	if !fi.Mode().IsRegular() || size > int64(len(buf)) || !isReaderAt {
		return 0, time.Time{}, false
	}
	m, err := ra.ReadAt(buf[:size], 0)
	if int64(m) != size || (err != nil && err != io.EOF) {
		return 0, time.Time{}, false
	}
	return m, fi.ModTime(), true
}
