package web

import (
	"net/url"
	"strings"
)

// pathStatus is the outcome of resolving a URL path to a name.
type pathStatus int

const (
	pathOK       pathStatus = iota
	pathRedirect            // valid, but not in canonical form: redirect to canonical
	pathHidden              // an element starts with ".": 404
	pathBad                 // NUL, backslash, or not an absolute path: 400
)

// resolvePath maps the decoded URL path p to a name in the file root ("."
// for the root) and reports whether p ended in a slash. Empty elements
// ("//") are dropped, and the result is then pathRedirect. Elements that
// start with "." (which includes "." and "..") make the path hidden; NUL,
// backslash and a path not starting with "/" make it bad. This function
// doesn't perform I/O.
func resolvePath(p string) (name string, slash bool, st pathStatus) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\x00\\") {
		return "", false, pathBad
	}
	if p == "/" {
		return ".", true, pathOK
	}
	st = pathOK
	elems := strings.Split(p[1:], "/")
	slash = len(p) > 1 && strings.HasSuffix(p, "/")
	if slash {
		elems = elems[:len(elems)-1]
	}
	kept := elems[:0]
	for _, e := range elems {
		switch {
		case e == "":
			st = pathRedirect
			continue
		case e[0] == '.':
			return "", false, pathHidden
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return ".", true, st
	}
	return strings.Join(kept, "/"), slash, st
}

// urlPath returns the escaped absolute URL path of name, with a trailing
// slash if dir. This function doesn't perform I/O.
func urlPath(name string, dir bool) string {
	if name == "." {
		return "/"
	}
	var b strings.Builder
	for e := range strings.SplitSeq(name, "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(e))
	}
	if dir {
		b.WriteByte('/')
	}
	return b.String()
}

// hidden reports whether the base name is hidden.
func hidden(base string) bool { return strings.HasPrefix(base, ".") }
