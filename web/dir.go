package web

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// An Entry is one item of a JSON directory listing.
type Entry struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"` // "file" or "dir"
	Size     int64     `json:"size"` // in bytes; 0 for a folder
	Modified time.Time `json:"modified"`
	URL      string    `json:"url"` // absolute path, percent-encoded; a folder's ends in "/"
}

// A Listing is the JSON form of a directory listing, sent for a folder URL
// requested with "Accept: application/json".
type Listing struct {
	Path    string  `json:"path"` // the folder's URL path, percent-encoded
	Entries []Entry `json:"entries"`
}

// listing returns the visible entries of the directory name, folders first,
// then by name. Hidden names are left out, and so are entries that cannot
// be stated through the tree (a symbolic link that leaves the root).
func (h *FileServer) listing(dir fs.File, name string) ([]Entry, error) {
	rd, ok := dir.(fs.ReadDirFile)
	var es []fs.DirEntry
	var err error
	if ok {
		es, err = rd.ReadDir(-1)
	} else {
		es, err = fs.ReadDir(h.FS, name)
	}
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		if hidden(e.Name()) {
			continue
		}
		full := path.Join(name, e.Name())
		var fi fs.FileInfo
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err = fs.Stat(h.FS, full)
		} else {
			fi, err = e.Info()
		}
		if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
			continue
		}
		ent := Entry{Name: e.Name(), Type: "file", Size: fi.Size(), Modified: fi.ModTime().UTC(), URL: urlPath(full, fi.IsDir())}
		if fi.IsDir() {
			ent.Type, ent.Size = "dir", 0
		}
		out = append(out, ent)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Type != b.Type {
			return cmp.Compare(a.Type, b.Type) // "dir" < "file"
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// serveDir serves the listing of the directory name, open as dir.
func (h *FileServer) serveDir(w http.ResponseWriter, r *http.Request, name string, dir fs.File) {
	entries, err := h.listing(dir, name)
	if err != nil {
		h.readError(w, r, err)
		return
	}
	hdr := w.Header()
	hdr.Add("Vary", "Accept")
	hdr.Set("Cache-Control", "no-cache")
	if wantsJSON(r) {
		hdr.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			json.NewEncoder(w).Encode(Listing{Path: urlPath(name, true), Entries: entries})
		}
		return
	}
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", listingCSP)
	hdr.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	title := "/"
	if name != "." {
		title = "/" + name + "/"
	}
	listingTemplate.Execute(w, listingPage{Title: title, Root: name == ".", Style: template.CSS(listingStyle), Entries: entries})
}

// wantsJSON reports whether the Accept header prefers application/json to
// text/html.
func wantsJSON(r *http.Request) bool {
	best, bestQ := "", 0.0
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			q := 1.0
			if s, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(s, 64); err == nil {
					q = f
				}
			}
			if (mt == "application/json" || mt == "text/html") && q > bestQ {
				best, bestQ = mt, q
			}
		}
	}
	return best == "application/json"
}

const listingStyle = `body{font-family:system-ui,sans-serif;margin:2em}` +
	`table{border-collapse:collapse}td,th{padding:.2em 1em;text-align:left}` +
	`td.n{text-align:right;font-variant-numeric:tabular-nums}`

// listingCSP allows nothing but the page's own style sheet, by its hash
// (CSP Level 3): no script, no image, no form, no frame.
var listingCSP = "default-src 'none'; style-src 'sha256-" + styleHash() + "'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(listingStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

type listingPage struct {
	Title   string
	Root    bool
	Style   template.CSS
	Entries []Entry
}

// listingTemplate escapes every name (html/template); each link is "./"
// and the percent-encoded name, so a name with a colon is never read as a
// URL scheme.
var listingTemplate = template.Must(template.New("listing").Funcs(template.FuncMap{
	"href": func(e Entry) string {
		s := "./" + url.PathEscape(e.Name)
		if e.Type == "dir" {
			s += "/"
		}
		return s
	},
	"size": humanSize,
	"date": func(t time.Time) string { return t.Format("2006-01-02 15:04 UTC") },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Index of {{.Title}}</title><style>{{.Style}}</style></head>
<body><h1>Index of {{.Title}}</h1>
<table><thead><tr><th>Name</th><th>Size</th><th>Modified</th></tr></thead><tbody>
{{- if not .Root}}
<tr><td><a href="../">../</a></td><td></td><td></td></tr>
{{- end}}
{{- range .Entries}}
<tr><td><a href="{{href .}}">{{.Name}}{{if eq .Type "dir"}}/{{end}}</a></td><td class="n" title="{{.Size}} bytes">{{if eq .Type "file"}}{{size .Size}}{{else}}-{{end}}</td><td>{{date .Modified}}</td></tr>
{{- end}}
</tbody></table></body></html>
`))

// humanSize formats n bytes with a binary unit.
func humanSize(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, units := float64(n)/1024, "KMGTPE"
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i:i+1] + "iB"
}
