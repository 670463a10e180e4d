package web

import (
	"io"
	"io/fs"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"time"
)

// smallFileMax is the largest file served by serveSmall: read whole with
// one pread and written with its header in one write, where
// http.ServeContent would cost two seeks, a write of the header with the
// file's first 512 bytes and a sendfile(2) of the rest (two TCP segments).
var smallFileMax int64 = 64 << 10

// smallBufs holds the buffers that small files are read into.
var smallBufs = sync.Pool{New: func() any {
	b := make([]byte, smallFileMax)
	return &b
}}

// smallRequest reports whether the GET or HEAD request r for the regular
// file f (of information fi) can be served by serveSmall: a small file
// that can be read at an offset, and no Range and no precondition but
// If-None-Match and If-Modified-Since, which serveSmall answers as
// http.ServeContent does.
func smallRequest(r *http.Request, f fs.File, fi fs.FileInfo) bool {
	if fi.Size() > smallFileMax {
		return false
	}
	if _, ok := f.(io.ReaderAt); !ok {
		return false
	}
	h := r.Header
	return h.Get("Range") == "" && h.Get("If-Range") == "" &&
		h.Get("If-Match") == "" && h.Get("If-Unmodified-Since") == ""
}

// readSmall reads the whole of the small file f, of size bytes, into a
// pooled buffer (release it with releaseSmall). It returns nil if the file
// cannot be read whole (it shrank, or failed): the caller then serves it
// the usual way.
func readSmall(f fs.File, size int64) *[]byte {
	bp := smallBufs.Get().(*[]byte)
	if int64(cap(*bp)) < size {
		smallBufs.Put(bp)
		return nil
	}
	b := (*bp)[:size]
	if n, err := f.(io.ReaderAt).ReadAt(b, 0); int64(n) != size || (err != nil && err != io.EOF) {
		smallBufs.Put(bp)
		return nil
	}
	*bp = b
	return bp
}

func releaseSmall(bp *[]byte) {
	if bp != nil {
		*bp = (*bp)[:0]
		smallBufs.Put(bp)
	}
}

// serveSmall serves a small file whose Content-Type and ETag are set, with
// the headers and status http.ServeContent would give (Last-Modified
// unless the time is zero or the Unix epoch, 304 Not Modified, Accept-Ranges,
// Content-Length), and body, the whole file, in one Write. On a plain
// HTTP/1 connection of a Server, the header and the body leave in one
// write(2), and so in one TCP segment where they fit.
func serveSmall(w http.ResponseWriter, r *http.Request, fi fs.FileInfo, tag string, body []byte, vals *headerVals) {
	hdr := w.Header()
	modTime := fi.ModTime()
	zero := modTime.IsZero() || modTime.Equal(time.Unix(0, 0))
	if !zero {
		vals.set(hdr, "Last-Modified", modTime.UTC().Format(http.TimeFormat))
	}
	inm := r.Header.Get("If-None-Match")
	if noneMatchFails(inm, tag) || (inm == "" && !zero && notModifiedSince(r.Header.Get("If-Modified-Since"), modTime)) {
		delete(hdr, "Content-Type")
		delete(hdr, "Content-Length")
		delete(hdr, "Content-Encoding")
		delete(hdr, "Last-Modified") // the ETag is set
		w.WriteHeader(http.StatusNotModified)
		return
	}
	vals.set(hdr, "Accept-Ranges", "bytes")
	if hdr.Get("Content-Encoding") == "" {
		vals.set(hdr, "Content-Length", strconv.FormatInt(fi.Size(), 10))
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	c := gatherConn(r)
	if c != nil {
		c.gather()
		defer c.flushGathered()
	}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body); err != nil || c == nil {
		return
	}
	// Push the header and body out of net/http's buffers into c's.
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	} else {
		http.NewResponseController(w).Flush()
	}
}

// noneMatchFails reports whether the If-None-Match value buf matches tag,
// which for GET and HEAD means 304 Not Modified, parsed exactly as
// http.ServeContent parses it.
func noneMatchFails(buf, tag string) bool {
	for {
		buf = textproto.TrimString(buf)
		if len(buf) == 0 {
			return false
		}
		if buf[0] == ',' {
			buf = buf[1:]
			continue
		}
		if buf[0] == '*' {
			return true
		}
		etag, remain := scanETag(buf)
		if etag == "" {
			return false
		}
		if strings.TrimPrefix(etag, "W/") == strings.TrimPrefix(tag, "W/") {
			return true
		}
		buf = remain
	}
}

// scanETag is net/http's: it returns the entity tag at the start of s and
// the rest of s, or "" if s does not start with one.
func scanETag(s string) (etag string, remain string) {
	s = textproto.TrimString(s)
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s[start:]) < 2 || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x21 || c >= 0x23 && c <= 0x7E || c >= 0x80:
		case c == '"':
			return s[:i+1], s[i+1:]
		default:
			return "", ""
		}
	}
	return "", ""
}

// notModifiedSince reports whether the If-Modified-Since value ims is at or
// after modTime, to the second, as http.ServeContent decides it.
func notModifiedSince(ims string, modTime time.Time) bool {
	if ims == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	return err == nil && modTime.Truncate(time.Second).Compare(t) <= 0
}
