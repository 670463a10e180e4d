package web

import (
	"compress/gzip"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fileCSP is the Content-Security-Policy of every file served: an HTML or
// SVG file uploaded by one user runs no script and has an origin of its
// own, so it cannot act with the credentials another user's browser keeps
// for this server.
const fileCSP = "sandbox"

// minGzipBytes is the smallest file worth compressing.
const minGzipBytes = 1024

// etag returns the strong entity tag of a file (RFC 9110 §8.8.3): any
// change of size or modification time changes it.
func etag(fi fs.FileInfo) string {
	var b [40]byte
	return string(appendETag(b[:0], fi.ModTime(), fi.Size()))
}

// appendETag appends the entity tag of a file of modification time modTime
// and size size.
func appendETag(b []byte, modTime time.Time, size int64) []byte {
	b = append(b, '"')
	b = appendHex(b, modTime.UnixNano())
	b = append(b, '-')
	b = appendHex(b, size)
	return append(b, '"')
}

// appendHex appends n in hexadecimal as fmt's %x gives it (a minus sign
// before a negative number).
func appendHex(b []byte, n int64) []byte {
	return strconv.AppendInt(b, n, 16)
}

// serveFile serves the regular file f.
func (h *FileServer) serveFile(w http.ResponseWriter, r *http.Request, name string, f fs.File, fi fs.FileInfo) {
	hdr := w.Header()
	vals := make(headerVals, 0, 6)
	vals.set(hdr, "Content-Security-Policy", fileCSP)
	ctype := mime.TypeByExtension(path.Ext(name))
	var small *[]byte
	if smallRequest(r, f, fi) && (r.Method != http.MethodHead || ctype == "") {
		small = readSmall(f, fi.Size())
		defer releaseSmall(small)
	}
	switch {
	case ctype != "":
	case small != nil:
		ctype = http.DetectContentType(*small) // it looks at 512 bytes at most
	default:
		ctype = sniff(f)
	}
	vals.set(hdr, "Content-Type", ctype)
	tag := etag(fi)
	rs, seekable := f.(io.ReadSeeker)
	if compressible(ctype) && fi.Size() >= minGzipBytes {
		hdr.Add("Vary", "Accept-Encoding")
		if r.Header.Get("Range") == "" && acceptsGzip(r) {
			h.serveGzip(w, r, f, fi, strings.TrimSuffix(tag, `"`)+`-gzip"`)
			return
		}
	}
	vals.set(hdr, "Etag", tag)
	if small != nil || (r.Method == http.MethodHead && smallRequest(r, f, fi)) {
		var body []byte
		if small != nil {
			body = *small
		}
		serveSmall(w, r, fi, tag, body, &vals)
		return
	}
	if !seekable {
		h.logger().Error("web: file cannot seek", "name", name)
		httpError(w, http.StatusInternalServerError)
		return
	}
	// w is passed on unwrapped, so that a file on disk goes to a plain
	// connection by sendfile(2).
	http.ServeContent(w, r, name, fi.ModTime(), rs)
}

// sniff returns the content type of f from its first 512 bytes
// (http.DetectContentType), and rewinds it.
func sniff(f fs.File) string {
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		return "application/octet-stream"
	}
	var buf [512]byte
	n, _ := io.ReadFull(rs, buf[:])
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "application/octet-stream"
	}
	return http.DetectContentType(buf[:n])
}

// headerVals hands out the values of header fields from one allocation.
type headerVals []string

// set sets the field key, which must be in canonical form, to val, as
// Header.Set does.
func (v *headerVals) set(h http.Header, key, val string) {
	*v = append(*v, val)
	n := len(*v)
	h[key] = (*v)[n-1 : n : n]
}

// compressible reports whether content of type ctype is worth gzipping.
func compressible(ctype string) bool {
	mt := ctype
	if !plainMediaType(ctype) {
		mt, _, _ = mime.ParseMediaType(ctype)
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/javascript",
		mt == "application/xml", mt == "image/svg+xml",
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return false
}

// plainMediaType reports whether ctype is a bare media type in lower case,
// type/subtype with no parameters, which mime.ParseMediaType would return
// unchanged.
func plainMediaType(ctype string) bool {
	typ, sub, ok := strings.Cut(ctype, "/")
	if !ok || typ == "" || sub == "" {
		return false
	}
	for i := 0; i < len(ctype); i++ {
		c := ctype[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || (c == '/' && i == len(typ))) {
			return false
		}
	}
	return true
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (RFC 9110 §12.5.3): listed, or matched by "*", with a non-zero weight.
func acceptsGzip(r *http.Request) bool {
	gzipQ, starQ := -1.0, -1.0
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(k, "q") {
					if f, err := strconv.ParseFloat(val, 64); err == nil {
						q = f
					}
				}
			}
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "*":
				starQ = q
			}
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return zw
}}

// serveGzip serves f compressed, with the entity tag tag of the gzip
// representation. Range requests never get here, so only If-None-Match and
// If-Modified-Since need answering (RFC 9110 §13.2.2).
func (h *FileServer) serveGzip(w http.ResponseWriter, r *http.Request, f fs.File, fi fs.FileInfo, tag string) {
	hdr := w.Header()
	hdr.Set("ETag", tag)
	hdr.Set("Content-Encoding", "gzip")
	modTime := fi.ModTime().UTC().Truncate(time.Second)
	hdr.Set("Last-Modified", modTime.Format(http.TimeFormat))
	if notModified(r, tag, modTime) {
		hdr.Del("Content-Type")
		hdr.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if failsPrecondition(r, tag, modTime) {
		hdr.Del("Content-Encoding")
		httpError(w, http.StatusPreconditionFailed)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(w)
	if _, err := io.Copy(zw, f); err != nil {
		return // the client is gone, or the file failed: nothing can be said now
	}
	zw.Close()
}

// notModified evaluates If-None-Match, or else If-Modified-Since, for GET
// and HEAD (RFC 9110 §13.1.2, §13.1.3).
func notModified(r *http.Request, tag string, modTime time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return matchETag(inm, tag, true)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !modTime.After(t)
	}
	return false
}

// failsPrecondition evaluates If-Match, or else If-Unmodified-Since
// (RFC 9110 §13.1.1, §13.1.4).
func failsPrecondition(r *http.Request, tag string, modTime time.Time) bool {
	if im := r.Header.Get("If-Match"); im != "" {
		return !matchETag(im, tag, false)
	}
	if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		t, err := http.ParseTime(ius)
		return err == nil && modTime.After(t)
	}
	return false
}

// matchETag reports whether the If-Match or If-None-Match list field
// matches tag: "*" matches any current tag; weak comparison (for
// If-None-Match) ignores a "W/" prefix, strong comparison never matches a
// weak tag (RFC 9110 §8.8.3.2).
func matchETag(field, tag string, weak bool) bool {
	for t := range strings.SplitSeq(field, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strings.HasPrefix(t, "W/") {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if t == tag {
			return true
		}
	}
	return false
}
