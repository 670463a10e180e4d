package gopher

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// GophermapName is the name of the file that replaces a folder's generated
// menu.
const GophermapName = "gophermap"

// maxGophermapBytes caps the part of a gophermap that is read.
const maxGophermapBytes = 1 << 20

// FileServerOptions configures FileServer. A nil *FileServerOptions is
// equivalent to the zero value.
type FileServerOptions struct {
	// Search, if not nil, adds a search item (type 7) at the top of the
	// root menu. A request for it with a search string is answered with
	// what Search returns, as a menu of info lines, one per line; one
	// without a search string, or for which Search fails, gets an error.
	Search func(ctx context.Context, query string) (string, error)
	// SearchSelector is the search item's selector; "" means "/search".
	// It takes precedence over a file of that name.
	SearchSelector string
	// SearchDisplay is the search item's display string; "" means
	// "Search".
	SearchDisplay string

	// Description and Admin are the ServerDescription and ServerAdmin of
	// the generated caps.txt; "" leaves them out.
	Description string
	Admin       string

	// Logger receives errors reading the file tree. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// FileServer returns a Handler that serves the files of fsys, a shared file
// root (fileroot.Root) or any fs.FS.
//
// A file's or folder's selector is its path from the root with a leading
// "/": "/docs", "/docs/a.txt". The empty selector and "/" are the root
// menu; a selector without the leading "/", or with a trailing one, names
// the same thing. Selectors are taken literally: no percent-decoding, and a
// selector that is not a valid fs.FS path ("..", a backslash, NUL, an empty
// element) is refused with an error item, as is one naming a dotfile or a
// gophermap. Files are sent as they are, text files included (no "."
// line, no dot-stuffing, line endings untouched).
//
// A folder is answered with a menu. If it holds a file named gophermap,
// that file makes the menu, in the format gophernicus documents: a line
// "Xname<TAB>selector<TAB>host<TAB>port" is an item of type X (a missing
// selector is the name; a relative one is resolved against the folder; a
// missing host and port are the server's), a line without TAB is an info
// line, "#" starts a comment, "!title" is an info line, "-name" hides name
// from the listing, "*" lists the folder (what it has not hidden) and ends
// the map, "." ends it. Other gophernicus directives (":", "=", "~", "%")
// are ignored: nothing is executed or included. Otherwise the menu lists
// the folder: subfolders first, then files, each sorted by name; dotfiles,
// the gophermap and names holding control characters (TAB, CR, LF) or too
// long for a selector are left out. Item types come from the file name's
// extension (0 text, 4 .hqx, 5 archives, 9 binary, g .gif, I other images,
// h HTML, s sound, d PDF and PostScript), else from the first 512 octets
// (text if they are UTF-8 without NUL).
//
// The selectors "caps.txt" and "/caps.txt" are answered with the Gopher
// capabilities file (as gophernicus and bombadillo read it) unless the root
// has a file of that name. A selector starting with "URL:" is answered with
// an HTML page that links to the web address after it (the convention of
// RFC 4266's era for "h" items), for clients that do not follow such links
// themselves.
func FileServer(fsys fs.FS, opts *FileServerOptions) Handler {
	h := &fileServer{fsys: fsys}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.SearchSelector == "" {
		h.opts.SearchSelector = "/search"
	}
	if h.opts.SearchDisplay == "" {
		h.opts.SearchDisplay = "Search"
	}
	if h.opts.Logger == nil {
		h.opts.Logger = slog.Default()
	}
	return h
}

type fileServer struct {
	fsys fs.FS
	opts FileServerOptions
}

func (h *fileServer) ServeGopher(w ResponseWriter, r *Request) {
	sel := r.Selector
	switch {
	case strings.HasPrefix(sel, "URL:"):
		h.serveWebLink(w, sel[len("URL:"):])
		return
	case h.opts.Search != nil && sel == h.opts.SearchSelector:
		h.serveSearch(w, r)
		return
	case sel == "caps.txt" || sel == "/caps.txt":
		if _, err := fs.Stat(h.fsys, "caps.txt"); err != nil {
			io.WriteString(w, h.caps())
			return
		}
	}
	name, ok := fsName(sel)
	if !ok {
		Error(w, "Invalid selector")
		return
	}
	fi, err := fs.Stat(h.fsys, name)
	if err != nil {
		h.notFound(w, name, err)
		return
	}
	switch {
	case fi.IsDir():
		h.serveMenu(w, r, name)
	case fi.Mode().IsRegular():
		h.serveFile(w, name)
	default:
		Error(w, "Not found")
	}
}

// fsName returns the fs.FS name for a selector, and whether it may be
// served.
func fsName(sel string) (string, bool) {
	name := strings.Trim(sel, "/")
	if name == "" {
		return ".", true
	}
	if !fs.ValidPath(name) || strings.ContainsAny(name, "\\\x00") {
		return "", false
	}
	for elem := range strings.SplitSeq(name, "/") {
		if hidden(elem) {
			return "", false
		}
	}
	return name, true
}

// hidden reports whether a file name is neither listed nor served.
func hidden(name string) bool {
	return strings.HasPrefix(name, ".") || name == GophermapName
}

func (h *fileServer) notFound(w ResponseWriter, name string, err error) {
	if !errors.Is(err, fs.ErrNotExist) {
		h.opts.Logger.Info("gopher: file server", "name", name, "err", err)
	}
	Error(w, "Not found")
}

func (h *fileServer) serveFile(w ResponseWriter, name string) {
	f, err := h.fsys.Open(name)
	if err != nil {
		h.notFound(w, name, err)
		return
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		h.opts.Logger.Debug("gopher: sending file", "name", name, "err", err)
	}
}

// dirSelector returns the selector of the folder name.
func dirSelector(name string) string {
	if name == "." {
		return ""
	}
	return "/" + name
}

func (h *fileServer) serveMenu(w ResponseWriter, r *Request, name string) {
	mw := NewMenuWriter(w, r)
	if name == "." && h.opts.Search != nil {
		mw.Item(Item{Type: TypeSearch, Display: h.opts.SearchDisplay, Selector: h.opts.SearchSelector})
	}
	data, err := h.readGophermap(name)
	if err != nil {
		h.listing(mw, name, nil)
	} else {
		h.gophermap(mw, r, name, data)
	}
	mw.Close()
}

func (h *fileServer) readGophermap(dir string) ([]byte, error) {
	name := path.Join(dir, GophermapName)
	fi, err := fs.Stat(h.fsys, name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	f, err := h.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxGophermapBytes))
}

// gophermap writes the menu a gophermap describes.
func (h *fileServer) gophermap(mw *MenuWriter, r *Request, dir string, data []byte) {
	dirSel := dirSelector(dir)
	var hide map[string]bool
	for len(data) > 0 {
		var b []byte
		b, data, _ = bytes.Cut(data, []byte("\n"))
		line := string(bytes.TrimSuffix(b, []byte("\r")))
		if !strings.Contains(line, "\t") {
			switch {
			case line == "":
				mw.Info("")
			case line == ".":
				return
			case line[0] == '*':
				h.listing(mw, dir, hide)
				return
			case line[0] == '#', strings.IndexByte(":=~%", line[0]) >= 0:
			case line[0] == '!':
				mw.Info(line[1:])
			case line[0] == '-':
				if hide == nil {
					hide = make(map[string]bool)
				}
				hide[line[1:]] = true
			default:
				mw.Info(line)
			}
			continue
		}
		mapItem(mw, r, dirSel, line)
	}
}

// mapItem writes the item of a gophermap line holding a TAB.
func mapItem(mw *MenuWriter, r *Request, dirSel, line string) {
	fields := strings.Split(line, "\t")
	if fields[0] == "" {
		return // a line starting with TAB has no type
	}
	typ, display := Type(line[0]), fields[0][1:]
	switch typ {
	case TypeInfo:
		mw.Info(display)
		return
	case TypeError:
		mw.Error(display)
		return
	}
	field := func(i int) string {
		if i < len(fields) {
			return strings.TrimSpace(fields[i])
		}
		return ""
	}
	it := Item{Type: typ, Display: display, Selector: field(1), Host: field(2)}
	if it.Selector == "" {
		it.Selector = display
	}
	port, err := strconv.Atoi(field(3))
	if err != nil || port <= 0 || port > 65535 {
		port = 0
	}
	if it.Host == "" {
		it.Host, it.Port = r.Host, r.Port
		if !strings.HasPrefix(it.Selector, "/") && !strings.HasPrefix(it.Selector, "URL:") && !strings.HasPrefix(it.Selector, "GET ") {
			it.Selector = path.Join("/"+strings.TrimPrefix(dirSel, "/"), it.Selector)
		}
	}
	if port != 0 {
		it.Port = port
	}
	mw.Item(it) // an item that cannot be written (a NUL in its selector) is left out
}

// listing writes the items of folder dir, less the names in hide.
func (h *fileServer) listing(mw *MenuWriter, dir string, hide map[string]bool) {
	entries, err := fs.ReadDir(h.fsys, dir)
	if err != nil {
		h.opts.Logger.Warn("gopher: listing a folder", "name", dir, "err", err)
		mw.Error("Cannot list this folder")
		return
	}
	dirSel := dirSelector(dir)
	var dirs, files []Item
	for _, e := range entries {
		name := e.Name()
		sel := dirSel + "/" + name
		if hidden(name) || hide[name] || hasControl(name) || len(sel) > MaxSelectorBytes {
			continue
		}
		full := path.Join(dir, name)
		isDir := e.IsDir()
		if e.Type()&fs.ModeType != 0 && !isDir {
			fi, err := fs.Stat(h.fsys, full) // a symbolic link: its target, if inside the root
			if err != nil || !fi.IsDir() && !fi.Mode().IsRegular() {
				continue
			}
			isDir = fi.IsDir()
		}
		if isDir {
			dirs = append(dirs, Item{Type: TypeMenu, Display: name, Selector: sel})
			continue
		}
		files = append(files, Item{Type: h.fileType(full), Display: name, Selector: sel})
	}
	for _, it := range slices.Concat(dirs, files) {
		mw.Item(it)
	}
}

// extTypes maps file name extensions to item types.
var extTypes = map[string]Type{
	".txt": TypeText, ".text": TypeText, ".md": TypeText, ".asc": TypeText,
	".log": TypeText, ".csv": TypeText, ".conf": TypeText, ".ini": TypeText,
	".go": TypeText, ".c": TypeText, ".h": TypeText, ".py": TypeText,
	".sh": TypeText, ".json": TypeText, ".gmi": TypeText, ".diff": TypeText,
	".patch": TypeText,
	".hqx":   TypeBinHex,
	".zip":   TypeDOS, ".tar": TypeDOS, ".tgz": TypeDOS, ".gz": TypeDOS,
	".bz2": TypeDOS, ".xz": TypeDOS, ".zst": TypeDOS, ".7z": TypeDOS,
	".rar": TypeDOS, ".lzh": TypeDOS, ".lha": TypeDOS, ".arj": TypeDOS,
	".uu": TypeUUEncode, ".uue": TypeUUEncode,
	".gif": TypeGIF,
	".png": TypeImage, ".jpg": TypeImage, ".jpeg": TypeImage, ".bmp": TypeImage,
	".webp": TypeImage, ".tif": TypeImage, ".tiff": TypeImage, ".ico": TypeImage,
	".svg":  TypeImage,
	".html": TypeHTML, ".htm": TypeHTML, ".xhtml": TypeHTML,
	".wav": TypeSound, ".mp3": TypeSound, ".ogg": TypeSound, ".flac": TypeSound,
	".au": TypeSound, ".aiff": TypeSound, ".mid": TypeSound, ".midi": TypeSound,
	".m4a": TypeSound, ".opus": TypeSound,
	".pdf": TypeDocument, ".ps": TypeDocument,
	".exe": TypeBinary, ".bin": TypeBinary, ".iso": TypeBinary, ".img": TypeBinary,
}

// fileType returns the item type of the file name: by extension, else by
// content.
func (h *fileServer) fileType(name string) Type {
	if t, ok := extTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	f, err := h.fsys.Open(name)
	if err != nil {
		return TypeBinary
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := io.ReadFull(f, buf)
	return sniff(buf[:n])
}

// sniff returns the item type of a file that starts with b.
func sniff(b []byte) Type {
	lower := bytes.ToLower(b[:min(len(b), 64)])
	switch {
	case bytes.HasPrefix(b, []byte("GIF8")):
		return TypeGIF
	case bytes.HasPrefix(b, []byte("\x89PNG")), bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return TypeImage
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return TypeDocument
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("\x1f\x8b")):
		return TypeDOS
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")):
		return TypeHTML
	case bytes.IndexByte(b, 0) >= 0:
		return TypeBinary
	}
	// A character cut by the 512-octet window is not a reason for binary.
	for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	if utf8.Valid(b) {
		return TypeText
	}
	return TypeBinary
}

func (h *fileServer) serveSearch(w ResponseWriter, r *Request) {
	if r.Search == "" {
		Error(w, "Search string required")
		return
	}
	res, err := h.opts.Search(r.Context(), r.Search)
	if err != nil {
		h.opts.Logger.Warn("gopher: search", "err", err)
		Error(w, "Search failed")
		return
	}
	mw := NewMenuWriter(w, r)
	mw.Info(res)
	mw.Close()
}

// webSchemes are the schemes of the web addresses a "URL:" selector may
// lead to.
var webSchemes = []string{"http", "https", "gopher", "ftp", "mailto", "news", "nntp", "telnet"}

func (h *fileServer) serveWebLink(w ResponseWriter, u string) {
	scheme, _, ok := strings.Cut(u, ":")
	if !ok || !slices.Contains(webSchemes, strings.ToLower(scheme)) {
		Error(w, "Invalid URL")
		return
	}
	q := html.EscapeString(u)
	io.WriteString(w, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"+
		"<meta http-equiv=\"refresh\" content=\"1;url="+q+"\">\n<title>Web link</title></head>\n"+
		"<body><p>This Gopher link leads to the web: <a href=\""+q+"\">"+q+"</a></p></body></html>\n")
}

// caps returns the Gopher capabilities file.
func (h *fileServer) caps() string {
	// The key names, misspellings included, are the format's.
	var b strings.Builder
	b.WriteString("CAPS\r\n\r\nCapsVersion=1\r\nExpireCapsAfter=3600\r\n\r\n" +
		"PathDelimeter=/\r\nPathIdentity=.\r\nPathParent=..\r\nPathParentDouble=FALSE\r\n" +
		"PathKeepPreDelimeter=TRUE\r\n\r\nServerSoftware=inetkit\r\n")
	if d := clean(h.opts.Description); d != "" {
		b.WriteString("ServerDescription=" + d + "\r\n")
	}
	if a := clean(h.opts.Admin); a != "" {
		b.WriteString("ServerAdmin=" + a + "\r\n")
	}
	return b.String()
}
