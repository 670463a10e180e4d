package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/inetkit/inetkit/fileroot"
)

// Defaults for the zero values of [FileServer] fields.
const (
	// DefaultMaxUploadBytes caps one PUT body: 10 GiB, room for a disk image
	// or a video, small enough that one client cannot fill a disk unnoticed.
	DefaultMaxUploadBytes = 10 << 30
	// DefaultUploadIdleTimeout is the longest one read of a PUT body may
	// wait for data.
	DefaultUploadIdleTimeout = time.Minute
	// DefaultMinUploadRate is the slowest average rate, in bytes per second,
	// that a PUT body may arrive at once DefaultUploadIdleTimeout has passed
	// (Postfix's smtpd_min_data_rate is 500).
	DefaultMinUploadRate = 500
	// DefaultAuthFailureDelay is how long a request with wrong credentials
	// waits for its 401 reply (Dovecot, vsftpd and mox wait 1 to 2 s).
	DefaultAuthFailureDelay = time.Second
	// maxOtherBodyBytes caps the body of every request that is not a PUT:
	// none of them takes one.
	maxOtherBodyBytes = 64 << 10
)

// ErrAuthFailed is returned by a [FileServer.Auth] function for wrong
// credentials; the client gets 401 Unauthorized.
var ErrAuthFailed = errors.New("web: authentication failed")

// A FileServer is an [http.Handler] that serves the file tree FS: GET and
// HEAD for everyone and, when FS is a [fileroot.FS] and Auth allows it,
// PUT and DELETE. See the package documentation for what it implements.
//
// The handler's request path is the path in the tree: to serve the tree
// under a prefix, use [http.StripPrefix]. Fields must not be changed once
// the FileServer serves requests. A FileServer is safe for concurrent use.
type FileServer struct {
	// FS is the tree served. It is required. Writes need a [fileroot.FS];
	// any other fs.FS (such as [fileroot.ReadOnly]) is served read-only
	// and PUT and DELETE get 405 Method Not Allowed.
	FS fs.FS
	// Auth checks the user name and password of a PUT or DELETE request,
	// sent with Basic authentication (RFC 7617). It returns whether the user
	// may write, or ErrAuthFailed (possibly wrapped) for wrong credentials;
	// any other error is logged and gives 503 Service Unavailable. ctx is
	// the request's context; [ClientAddr] returns the client's address from
	// it. Nil means nobody may write.
	Auth func(ctx context.Context, user, pass string) (write bool, err error)
	// Realm is the Basic authentication realm (RFC 7617 §2); "" means
	// "inetkit".
	Realm string
	// AuthFailureDelay delays the reply to wrong credentials. Zero means
	// DefaultAuthFailureDelay; a negative value means none.
	AuthFailureDelay time.Duration

	// MaxUploadBytes caps the body of one PUT; a larger one gets 413
	// Content Too Large. Zero means DefaultMaxUploadBytes; a negative value
	// means no limit.
	MaxUploadBytes int64
	// UploadIdleTimeout is the longest one read of a PUT body may wait.
	// Zero means DefaultUploadIdleTimeout; a negative value means no limit.
	UploadIdleTimeout time.Duration
	// MinUploadRate is the slowest average rate, in bytes per second, that
	// a PUT body may keep after its first UploadIdleTimeout. Zero means
	// DefaultMinUploadRate; a negative value means no limit.
	MinUploadRate int64

	// Logger receives errors that are the server's, not the client's.
	// Nil means slog.Default().
	Logger *slog.Logger
}

var _ http.Handler = (*FileServer)(nil)

func (h *FileServer) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}

func durationOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func int64Or(n, def int64) int64 {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

const allowRead = "GET, HEAD, OPTIONS"
const allowWrite = "GET, HEAD, OPTIONS, PUT, DELETE"

// allow returns the methods h supports, for the Allow header.
func (h *FileServer) allow() string {
	if _, ok := h.FS.(fileroot.FS); ok && h.Auth != nil {
		return allowWrite
	}
	return allowRead
}

// ServeHTTP serves a request for the file or folder named by r.URL.Path.
func (h *FileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodPut && !h.drainBody(w, r) {
		return
	}
	name, slash, st := resolvePath(r.URL.Path)
	switch st {
	case pathBad:
		httpError(w, http.StatusBadRequest)
		return
	case pathHidden:
		if r.Method == http.MethodPut {
			httpError(w, http.StatusForbidden)
		} else {
			httpError(w, http.StatusNotFound)
		}
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if st == pathRedirect {
			redirect(w, r, urlPath(name, slash))
			return
		}
		h.serveRead(w, r, name, slash)
	case http.MethodPut:
		h.servePut(w, r, name, slash)
	case http.MethodDelete:
		h.serveDelete(w, r, name)
	case http.MethodOptions:
		w.Header().Set("Allow", h.allow())
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", h.allow())
		httpError(w, http.StatusMethodNotAllowed)
	}
}

// drainBody refuses the body of a request that should have none: over
// maxOtherBodyBytes it replies 413 Content Too Large and returns false.
func (h *FileServer) drainBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	if r.ContentLength > maxOtherBodyBytes {
		w.Header().Set("Connection", "close")
		httpError(w, http.StatusRequestEntityTooLarge)
		return false
	}
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxOtherBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		httpError(w, http.StatusRequestEntityTooLarge)
		return false
	}
	return err == nil
}

// serveRead serves GET and HEAD for name.
func (h *FileServer) serveRead(w http.ResponseWriter, r *http.Request, name string, slash bool) {
	f, fi, err := openInfo(h.FS, name)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	defer f.Close()
	switch {
	case fi.IsDir() && !slash:
		redirect(w, r, urlPath(name, true))
	case fi.IsDir():
		h.serveDir(w, r, name, f)
	case !fi.Mode().IsRegular():
		httpError(w, http.StatusNotFound)
	case slash:
		httpError(w, http.StatusNotFound)
	default:
		h.serveFile(w, r, name, f, fi)
	}
}

// openInfo opens name in fsys and returns its information, with one stat
// where fsys already has it (fileroot.Root's OpenInfo).
func openInfo(fsys fs.FS, name string) (fs.File, fs.FileInfo, error) {
	if o, ok := fsys.(interface {
		OpenInfo(name string) (fs.File, fs.FileInfo, error)
	}); ok {
		return o.OpenInfo(name)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// readError replies to a failed Open or Stat. A name that does not exist,
// is invalid, or is a symbolic link that leaves the root is not found; any
// other failure is the server's and is logged.
func (h *FileServer) readError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrInvalid),
		errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP),
		errors.Is(err, syscall.ENAMETOOLONG), escapesRoot(err):
		httpError(w, http.StatusNotFound)
	case errors.Is(err, fs.ErrPermission):
		httpError(w, http.StatusForbidden)
	default:
		h.logger().Error("web: read failed", "path", r.URL.Path, "err", err)
		httpError(w, http.StatusInternalServerError)
	}
}

// escapesRoot reports whether err is os.Root's refusal of a name or
// symbolic link that leads outside the root, which has no exported value.
func escapesRoot(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// httpError replies with the status and its text, as http.Error does.
func httpError(w http.ResponseWriter, code int) {
	http.Error(w, fmt.Sprintf("%d %s", code, http.StatusText(code)), code)
}

// redirect replies 301 Moved Permanently to the escaped path target,
// keeping the query. target starts with exactly one slash, so it can never
// name another host.
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusMovedPermanently)
}
