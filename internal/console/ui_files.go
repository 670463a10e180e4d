package console

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"
)

// filesPage is the data of files.html: a directory of the file root.
type filesPage struct {
	page
	Dir      string // "" for the root
	DirURL   string
	Crumbs   []crumb
	Entries  []fileEntry
	CanWrite bool
}

// A crumb is one directory of the path above a listing.
type crumb struct {
	Name string
	URL  string
}

// A fileEntry is one line of a directory listing.
type fileEntry struct {
	Name    string
	URL     string
	Dir     bool
	Size    int64
	ModTime time.Time
}

// fileURL returns the console URL of name in the file root ("." or "" for
// the root).
func fileURL(name string) string {
	if name == "" || name == "." {
		return "/files"
	}
	var b strings.Builder
	b.WriteString("/files")
	for _, e := range strings.Split(name, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(e))
	}
	return b.String()
}

// fileName returns the file root name of the request's {path}: "." for
// the root. Hidden names (dotfiles, and every name below a dot directory)
// are not found, as on the HTTP file server.
func fileName(r *http.Request) (string, bool) {
	p := strings.TrimSuffix(r.PathValue("path"), "/")
	if p == "" {
		return ".", true
	}
	if !fs.ValidPath(p) {
		return "", false
	}
	for _, e := range strings.Split(p, "/") {
		if strings.HasPrefix(e, ".") {
			return "", false
		}
	}
	return p, true
}

// mayWriteFiles reports whether the user of ctx may upload and delete
// files: a logged-in user, or anyone on a console without a login.
func mayWriteFiles(r *http.Request) bool {
	user, all := userOf(r.Context())
	return user != "" || all
}

// handleFiles lists a directory of the file root or downloads a file: GET
// /files/{path...}.
func (s *Server) handleFiles(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Files == nil {
		s.notFound(w, r)
		return
	}
	name, ok := fileName(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	fi, err := s.cfg.Files.Stat(name)
	if err != nil {
		s.fileFail(w, r, err)
		return
	}
	if !fi.IsDir() {
		s.download(w, r, name, fi)
		return
	}
	ents, err := s.cfg.Files.ReadDir(name)
	if err != nil {
		s.fileFail(w, r, err)
		return
	}
	dir := name
	if dir == "." {
		dir = ""
	}
	title := "Files"
	if dir != "" {
		title = path.Base(dir) + " · Files"
	}
	d := &filesPage{page: s.newPage(r, "files", title), Dir: dir, DirURL: fileURL(dir), CanWrite: mayWriteFiles(r)}
	d.Crumbs = append(d.Crumbs, crumb{Name: "Files", URL: "/files"})
	if dir != "" {
		parts := strings.Split(dir, "/")
		for i := range parts {
			d.Crumbs = append(d.Crumbs, crumb{Name: parts[i], URL: fileURL(strings.Join(parts[:i+1], "/"))})
		}
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		fe := fileEntry{Name: e.Name(), URL: fileURL(path.Join(dir, e.Name())), Dir: info.IsDir(), ModTime: info.ModTime()}
		if !fe.Dir {
			fe.Size = info.Size()
		}
		d.Entries = append(d.Entries, fe)
	}
	slices.SortFunc(d.Entries, func(a, b fileEntry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	s.render(w, r, http.StatusOK, "files.html", d)
}

// download serves the file name of the file root as an attachment, under
// a CSP that runs nothing, so that an uploaded HTML or SVG file never runs
// with the console's origin.
func (s *Server) download(w http.ResponseWriter, r *http.Request, name string, fi fs.FileInfo) {
	f, err := s.cfg.Files.Open(name)
	if err != nil {
		s.fileFail(w, r, err)
		return
	}
	defer f.Close()
	h := w.Header()
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Disposition", attachment(path.Base(name), "download"))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", fi.ModTime(), rs)
		return
	}
	io.Copy(w, f)
}

// fileFail shows a file root error: a name that does not exist (or that
// may not be named) as a 404, a refusal as a 403, a conflict (not empty,
// exists) with its reason.
func (s *Server) fileFail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *fs.PathError
	switch {
	case errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not empty"):
		// ENOTEMPTY, which errors.Is also takes for fs.ErrExist.
		s.fail(w, r, http.StatusConflict, userError("The folder is not empty."))
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrInvalid):
		s.notFound(w, r)
	case errors.Is(err, fs.ErrPermission):
		s.fail(w, r, http.StatusForbidden, userError("Permission denied."))
	case errors.Is(err, fs.ErrExist):
		s.fail(w, r, http.StatusConflict, userError("A file or folder of that name exists."))
	default:
		s.fail(w, r, http.StatusInternalServerError, err)
	}
}

// validNewName reports whether a user may create name in a directory: a
// plain name, not hidden.
func validNewName(name string) bool {
	return name != "" && !strings.HasPrefix(name, ".") && !strings.ContainsAny(name, "/\\\x00") &&
		fs.ValidPath(name) && len(name) <= 255
}

// handleFilesPost changes the file root: POST /files/{path...} with
// ?op=upload (a multipart form of files, into the directory path), op=mkdir
// (a form with name, in the directory path) or op=delete (the file or
// empty directory path).
func (s *Server) handleFilesPost(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Files == nil {
		s.notFound(w, r)
		return
	}
	if !mayWriteFiles(r) {
		s.fail(w, r, http.StatusForbidden, userError("Log in to change files."))
		return
	}
	name, ok := fileName(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	dir := name
	if dir == "." {
		dir = ""
	}
	switch r.URL.Query().Get("op") {
	case "upload":
		s.upload(w, r, dir)
	case "mkdir":
		n := strings.TrimSpace(r.PostFormValue("name"))
		if !validNewName(n) {
			s.badRequest(w, r, "A folder name cannot be empty, start with a dot or contain a slash.")
			return
		}
		if err := s.cfg.Files.Mkdir(path.Join(dir, n)); err != nil {
			s.fileFail(w, r, err)
			return
		}
		redirectDone(w, r, fileURL(dir), "mkdir", -1)
	case "delete":
		if dir == "" {
			s.badRequest(w, r, "The root cannot be deleted.")
			return
		}
		if err := s.cfg.Files.Remove(name); err != nil {
			s.fileFail(w, r, err)
			return
		}
		redirectDone(w, r, fileURL(path.Dir(name)), "fdeleted", -1)
	default:
		s.badRequest(w, r, "Unknown operation.")
	}
}

// upload stores the files of a multipart form in dir, each streamed into
// an Upload of the file root that Close makes visible whole or Abort
// discards (a cut or refused upload leaves nothing).
func (s *Server) upload(w http.ResponseWriter, r *http.Request, dir string) {
	if fi, err := s.cfg.Files.Stat(path.Join(".", dir)); err != nil || !fi.IsDir() {
		s.notFound(w, r)
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		s.badRequest(w, r, "An upload must be a multipart form.")
		return
	}
	n := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.uploadFail(w, r, err)
			return
		}
		fn := p.FileName()
		if p.FormName() != "file" || fn == "" {
			p.Close()
			continue
		}
		// Some browsers have sent a whole path; only its last element is
		// the name.
		fn = fn[strings.LastIndexAny(fn, "/\\")+1:]
		if !validNewName(fn) {
			s.badRequest(w, r, "A file name cannot start with a dot or contain a slash: "+fn)
			return
		}
		name := path.Join(dir, fn)
		up, err := s.cfg.Files.Create(name)
		if err != nil {
			s.fileFail(w, r, err)
			return
		}
		_, err = io.Copy(up, p)
		if err != nil {
			up.Abort()
			s.uploadFail(w, r, err)
			return
		}
		if err := up.Close(); err != nil {
			s.fileFail(w, r, err)
			return
		}
		n++
	}
	if n == 0 {
		s.badRequest(w, r, "Choose at least one file to upload.")
		return
	}
	redirectDone(w, r, fileURL(dir), "uploaded", n)
}

// uploadFail answers an upload whose body failed: too large (413), or cut.
func (s *Server) uploadFail(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.fail(w, r, http.StatusRequestEntityTooLarge, userError("The upload is larger than this console accepts."))
		return
	}
	s.badRequest(w, r, "The upload was cut short.")
}
