package web

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/inetkit/inetkit/fileroot"
)

type clientAddrKey struct{}

// ClientAddr returns the address of the client whose request ctx belongs
// to, for an Auth function that trusts some addresses (loopback, say).
func ClientAddr(ctx context.Context) (netip.AddrPort, bool) {
	ap, ok := ctx.Value(clientAddrKey{}).(netip.AddrPort)
	return ap, ok
}

// writable returns the tree as a fileroot.FS after checking that r may
// write to it. Otherwise it replies (405 when the tree cannot be written,
// 401 without or with wrong credentials, 403 for a user who may only read)
// and returns nil.
func (h *FileServer) writable(w http.ResponseWriter, r *http.Request) fileroot.FS {
	fsys, ok := h.FS.(fileroot.FS)
	if !ok || h.Auth == nil {
		w.Header().Set("Allow", allowRead)
		httpError(w, http.StatusMethodNotAllowed)
		return nil
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		h.challenge(w)
		return nil
	}
	ctx := r.Context()
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ctx = context.WithValue(ctx, clientAddrKey{}, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	write, err := h.Auth(ctx, user, pass)
	switch {
	case errors.Is(err, ErrAuthFailed):
		if d := durationOr(h.AuthFailureDelay, DefaultAuthFailureDelay); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		h.challenge(w)
		return nil
	case err != nil:
		h.logger().Error("web: auth failed", "user", user, "err", err)
		httpError(w, http.StatusServiceUnavailable)
		return nil
	case !write:
		httpError(w, http.StatusForbidden)
		return nil
	}
	return fsys
}

// challenge replies 401 Unauthorized with a Basic challenge (RFC 7617 §2).
func (h *FileServer) challenge(w http.ResponseWriter) {
	realm := h.Realm
	if realm == "" {
		realm = "inetkit"
	}
	realm = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(realm)
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
	httpError(w, http.StatusUnauthorized)
}

// servePut stores the request body as the file name, creating its parent
// folders; with a trailing slash it creates the folder name instead.
func (h *FileServer) servePut(w http.ResponseWriter, r *http.Request, name string, slash bool) {
	max := int64Or(h.MaxUploadBytes, DefaultMaxUploadBytes)
	if max > 0 && r.ContentLength > max {
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusRequestEntityTooLarge)
		return
	}
	if r.Header.Get("Content-Range") != "" {
		// RFC 9110 §14.5: a server that does not support partial PUT
		// must answer 400.
		httpError(w, http.StatusBadRequest)
		return
	}
	fsys := h.writable(w, r)
	if fsys == nil {
		return
	}
	if name == "." {
		w.Header().Set("Allow", allowRead)
		httpError(w, http.StatusMethodNotAllowed)
		return
	}
	if slash {
		h.putDir(w, r, fsys, name)
		return
	}
	if err := mkdirAll(fsys, parent(name)); err != nil {
		h.writeError(w, r, err)
		return
	}
	fi, err := fsys.Stat(name)
	exists := err == nil
	switch {
	case exists && fi.IsDir():
		httpError(w, http.StatusConflict)
		return
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		h.writeError(w, r, err)
		return
	}
	if failed := h.putPrecondition(r, fi, exists); failed {
		httpError(w, http.StatusPreconditionFailed)
		return
	}
	u, err := fsys.Create(name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	defer u.Abort()
	AllowBodyBytes(r, max)
	body := r.Body
	if max > 0 {
		body = http.MaxBytesReader(w, body, max)
	}
	br := &uploadReader{
		r:     body,
		rc:    http.NewResponseController(w),
		idle:  durationOr(h.UploadIdleTimeout, DefaultUploadIdleTimeout),
		rate:  int64Or(h.MinUploadRate, DefaultMinUploadRate),
		start: time.Now(),
	}
	_, err = io.Copy(u, br)
	if err != nil {
		// No wait for the rest of the body after the reply: the connection
		// closes.
		br.rc.SetReadDeadline(time.Now())
		w.Header().Set("Connection", "close")
	} else {
		br.rc.SetReadDeadline(time.Time{})
		err = u.Close()
	}
	if err != nil {
		u.Abort()
		h.writeError(w, r, err)
		return
	}
	if exists {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Location", urlPath(name, false))
	w.WriteHeader(http.StatusCreated)
}

// putPrecondition evaluates If-Match and If-None-Match for a PUT
// (RFC 9110 §13.1.1, §13.1.2): "If-None-Match: *" stores only a new file.
func (h *FileServer) putPrecondition(r *http.Request, fi fs.FileInfo, exists bool) bool {
	if im := r.Header.Get("If-Match"); im != "" {
		return !exists || !matchETag(im, etag(fi), false)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return exists && matchETag(inm, etag(fi), true)
	}
	return false
}

// putDir creates the folder name and its parents: 201 Created, or 204 No
// Content if it existed.
func (h *FileServer) putDir(w http.ResponseWriter, r *http.Request, fsys fileroot.FS, name string) {
	if fi, err := fsys.Stat(name); err == nil {
		if !fi.IsDir() {
			httpError(w, http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := mkdirAll(fsys, name); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", urlPath(name, true))
	w.WriteHeader(http.StatusCreated)
}

// mkdirAll creates the folder name and any missing parents.
func mkdirAll(fsys fileroot.FS, name string) error {
	if name == "." {
		return nil
	}
	fi, err := fsys.Stat(name)
	if err == nil {
		if !fi.IsDir() {
			return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := mkdirAll(fsys, parent(name)); err != nil {
		return err
	}
	if err := fsys.Mkdir(name); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

func parent(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return "."
}

// serveDelete removes the file or empty folder name.
func (h *FileServer) serveDelete(w http.ResponseWriter, r *http.Request, name string) {
	fsys := h.writable(w, r)
	if fsys == nil {
		return
	}
	if name == "." {
		w.Header().Set("Allow", allowRead)
		httpError(w, http.StatusMethodNotAllowed)
		return
	}
	fi, err := fsys.Stat(name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if failsPrecondition(r, etag(fi), fi.ModTime().UTC().Truncate(time.Second)) {
		httpError(w, http.StatusPreconditionFailed)
		return
	}
	if fi.IsDir() {
		if es, err := fsys.ReadDir(name); err == nil && len(es) > 0 {
			httpError(w, http.StatusConflict)
			return
		}
	}
	if err := fsys.Remove(name); err != nil {
		h.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeError replies to a failed PUT or DELETE: the one place that maps
// the tree's and the body's errors to statuses.
func (h *FileServer) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusRequestEntityTooLarge)
	case errors.Is(err, errUploadTooSlow), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusRequestTimeout)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, context.Canceled):
		// The client cut the body off; nobody is listening for a reply.
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusBadRequest)
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		httpError(w, http.StatusInsufficientStorage)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrInvalid), escapesRoot(err):
		httpError(w, http.StatusNotFound)
	case errors.Is(err, syscall.ENAMETOOLONG):
		httpError(w, http.StatusRequestURITooLong)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENOTEMPTY),
		errors.Is(err, syscall.EEXIST), errors.Is(err, syscall.EISDIR):
		httpError(w, http.StatusConflict)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		httpError(w, http.StatusForbidden)
	default:
		h.logger().Error("web: write failed", "method", r.Method, "path", r.URL.Path, "err", err)
		httpError(w, http.StatusInternalServerError)
	}
}

var errUploadTooSlow = errors.New("web: upload slower than the minimum rate")

// uploadReader reads a PUT body with a read deadline before every read:
// idle from now, and no later than the time by which the bytes read so far
// would fall below rate bytes a second after the first idle period.
type uploadReader struct {
	r     io.Reader
	rc    *http.ResponseController
	idle  time.Duration
	rate  int64
	start time.Time
	n     int64
}

func (u *uploadReader) Read(p []byte) (int, error) {
	now := time.Now()
	var deadline time.Time
	if u.idle > 0 {
		deadline = now.Add(u.idle)
		if u.rate > 0 {
			byRate := u.start.Add(u.idle + time.Duration(float64(u.n)/float64(u.rate)*float64(time.Second)))
			if !byRate.After(now) {
				return 0, errUploadTooSlow
			}
			if byRate.Before(deadline) {
				deadline = byRate
			}
		}
	}
	if err := u.rc.SetReadDeadline(deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	return n, err
}
