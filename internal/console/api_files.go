package console

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"
)

// A apiFileEntry is one entry of a directory listing of GET /api/v1/files.
type apiFileEntry struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
	Dir     bool      `json:"dir"`
}

// A apiDirListing is a directory as GET /api/v1/files answers it.
type apiDirListing struct {
	Path    string         `json:"path"` // "" for the root
	Entries []apiFileEntry `json:"entries"`
}

var errNoFiles = &apiError{http.StatusNotFound, "this console has no file root"}

// filePath returns the {path...} of r as a name of the file root ("." for
// the root). A name with an element that starts with a dot (dotfiles, the
// root's temporary files), or that the file root would refuse, is not
// found: such files are never listed nor served.
func filePath(r *http.Request) (string, error) {
	p := strings.TrimSuffix(r.PathValue("path"), "/")
	if p == "" {
		return ".", nil
	}
	if !fs.ValidPath(p) || strings.ContainsAny(p, "\\\x00") {
		return "", errNotFound
	}
	for el := range strings.SplitSeq(p, "/") {
		if strings.HasPrefix(el, ".") {
			return "", errNotFound
		}
	}
	return p, nil
}

// fileError maps an error of the file root to the API's.
func fileError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrInvalid):
		return errNotFound
	case errors.Is(err, fs.ErrExist):
		return &apiError{http.StatusConflict, "exists"}
	case errors.Is(err, fs.ErrPermission):
		return &apiError{http.StatusForbidden, "permission denied"}
	}
	return err
}

// apiFiles answers GET /api/v1/files/{path...}: a directory as JSON (its
// entries, directories first, then by name, dotfiles left out), a file as
// its content. A file's Content-Type comes from its extension; it is
// served inline only when it is of a type that runs nothing (text/plain,
// images but SVG, ...), as an attachment otherwise (HTML, SVG, ...).
func (s *Server) apiFiles(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Files == nil {
		s.apiFail(w, r, errNoFiles)
		return
	}
	name, err := filePath(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	fi, err := s.cfg.Files.Stat(name)
	if err != nil {
		s.apiFail(w, r, fileError(err))
		return
	}
	if fi.IsDir() {
		des, err := s.cfg.Files.ReadDir(name)
		if err != nil {
			s.apiFail(w, r, fileError(err))
			return
		}
		out := apiDirListing{Path: strings.TrimPrefix(name, "."), Entries: []apiFileEntry{}}
		for _, de := range des {
			if strings.HasPrefix(de.Name(), ".") {
				continue
			}
			info, err := de.Info()
			if err != nil {
				continue // removed meanwhile
			}
			out.Entries = append(out.Entries, apiFileEntry{Name: de.Name(), Size: info.Size(), ModTime: info.ModTime().UTC(), Dir: de.IsDir()})
		}
		slices.SortFunc(out.Entries, func(a, b apiFileEntry) int {
			if a.Dir != b.Dir {
				if a.Dir {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		writeJSON(w, http.StatusOK, out)
		return
	}
	if !fi.Mode().IsRegular() {
		s.apiFail(w, r, errNotFound)
		return
	}
	f, err := s.cfg.Files.Open(name)
	if err != nil {
		s.apiFail(w, r, fileError(err))
		return
	}
	defer f.Close()
	ct := mime.TypeByExtension(strings.ToLower(path.Ext(name)))
	setSafeContent(w.Header(), ct, path.Base(name))
	if rs, ok := f.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", fi.ModTime(), rs)
		return
	}
	io.Copy(w, f)
}

// mayWrite reports whether the user of r may change the file root: a
// logged-in user, or anyone on a console without a login.
func mayWrite(r *http.Request) bool {
	user, all := userOf(r.Context())
	return all || user != ""
}

// apiPutFile answers PUT /api/v1/files/{path...}: the body stored as that
// file, whole or not at all; missing parent directories are made. It
// answers 201 with the file's path and size.
func (s *Server) apiPutFile(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Files == nil {
		s.apiFail(w, r, errNoFiles)
		return
	}
	if !mayWrite(r) {
		s.apiFail(w, r, &apiError{http.StatusForbidden, "log in to change files"})
		return
	}
	name, err := filePath(r)
	if err != nil || name == "." {
		s.apiFail(w, r, badRequest("invalid file name: names cannot start with a dot"))
		return
	}
	if err := s.mkdirAll(path.Dir(name)); err != nil {
		s.apiFail(w, r, err)
		return
	}
	up, err := s.cfg.Files.Create(name)
	if err != nil {
		s.apiFail(w, r, fileError(err))
		return
	}
	n, err := io.Copy(up, r.Body)
	if err != nil {
		up.Abort()
		s.apiFail(w, r, err)
		return
	}
	if err := up.Close(); err != nil {
		s.apiFail(w, r, fileError(err))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"path": name, "size": n})
}

// mkdirAll makes directory dir of the file root and its missing parents.
func (s *Server) mkdirAll(dir string) error {
	if dir == "." {
		return nil
	}
	fi, err := s.cfg.Files.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &apiError{http.StatusConflict, dir + " is a file"}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fileError(err)
	}
	if err := s.mkdirAll(path.Dir(dir)); err != nil {
		return err
	}
	if err := s.cfg.Files.Mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return fileError(err)
	}
	return nil
}

// apiDeleteFile answers DELETE /api/v1/files/{path...}: a file, or an
// empty directory, removed.
func (s *Server) apiDeleteFile(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Files == nil {
		s.apiFail(w, r, errNoFiles)
		return
	}
	if !mayWrite(r) {
		s.apiFail(w, r, &apiError{http.StatusForbidden, "log in to change files"})
		return
	}
	name, err := filePath(r)
	if err != nil || name == "." {
		s.apiFail(w, r, errNotFound)
		return
	}
	if err := s.cfg.Files.Remove(name); err != nil {
		if errors.Is(err, fs.ErrExist) || isNotEmpty(err) {
			err = &apiError{http.StatusConflict, "directory not empty"}
		}
		s.apiFail(w, r, fileError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// isNotEmpty reports whether err is the failure to remove a directory that
// is not empty.
func isNotEmpty(err error) bool {
	return strings.Contains(err.Error(), "not empty")
}
