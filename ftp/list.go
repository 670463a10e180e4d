package ftp

import (
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxListEntries caps the entries of one listing (LIST, NLST, MLSD, STAT):
// a directory of a million files is listed in part, never held in memory.
const maxListEntries = 100_000

// readDirChunk is how many entries a listing reads, sorts and writes at a
// time.
const readDirChunk = 1024

// listFormat is how a listing writes each entry.
type listFormat int

const (
	formatLIST listFormat = iota // ls -l
	formatNLST                   // names only
	formatMLSD                   // RFC 3659 facts
)

// A lister writes the listing of a directory, or of one file, to w.
type lister struct {
	fsys     fs.FS
	writable bool
	facts    factSet
	format   listFormat
	now      time.Time
}

// listTarget is what LIST, NLST, MLSD and STAT list: a directory's entries
// whose names match pattern (all without one), or one file.
type listTarget struct {
	dir     string // the name in the tree of the directory listed
	pattern string // path.Match pattern of the last element, or ""
	file    fs.FileInfo
	name    string // for file: the name of the file as listed
}

// writeTarget writes the listing of t to w, at most maxListEntries lines.
func (l *lister) writeTarget(w io.Writer, t listTarget) error {
	if t.file != nil {
		_, err := io.WriteString(w, l.line(t.file, t.name, t.dir, ""))
		return err
	}
	if l.format == formatMLSD {
		if fi, err := fs.Stat(l.fsys, t.dir); err == nil {
			if _, err := io.WriteString(w, l.line(fi, ".", t.dir, "cdir")); err != nil {
				return err
			}
		}
	}
	return l.eachEntry(t.dir, t.pattern, func(fi fs.FileInfo) error {
		_, err := io.WriteString(w, l.line(fi, fi.Name(), path.Join(t.dir, fi.Name()), ""))
		return err
	})
}

// eachEntry calls f for the entries of dir that match pattern, reading the
// directory a chunk at a time, each chunk sorted by name, up to
// maxListEntries entries. Names with control characters, which cannot be
// written on a line nor named by a command, are skipped.
func (l *lister) eachEntry(dir, pattern string, f func(fs.FileInfo) error) error {
	d, err := l.fsys.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	rd, ok := d.(fs.ReadDirFile)
	if !ok {
		return &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrInvalid}
	}
	count := 0
	for count < maxListEntries {
		es, err := rd.ReadDir(min(readDirChunk, maxListEntries-count))
		slices.SortFunc(es, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
		for _, e := range es {
			if !listable(e.Name()) {
				continue
			}
			if pattern != "" {
				if ok, _ := path.Match(pattern, e.Name()); !ok {
					continue
				}
			}
			fi, ierr := l.info(dir, e)
			if ierr != nil {
				continue
			}
			count++
			if err := f(fi); err != nil {
				return err
			}
		}
		if err == io.EOF || len(es) == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// info returns the FileInfo of entry e of dir, that of its target for a
// symbolic link that stays inside the tree.
func (l *lister) info(dir string, e fs.DirEntry) (fs.FileInfo, error) {
	fi, err := e.Info()
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if target, err := fs.Stat(l.fsys, path.Join(dir, e.Name())); err == nil {
			return renamed{target, e.Name()}, nil
		}
	}
	return fi, nil
}

// renamed is a FileInfo with another name: a link's target listed under
// the link's name.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

func listable(name string) bool {
	return !strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// line formats one entry of a listing: name as listed; for MLSD, id is
// the entry's name in the tree (for the unique fact) and kind, if not "",
// its type fact ("cdir").
func (l *lister) line(fi fs.FileInfo, name, id, kind string) string {
	switch l.format {
	case formatNLST:
		return name + "\r\n"
	case formatMLSD:
		return l.factsOf(fi, id, kind) + " " + name + "\r\n"
	}
	return lsLine(fi, name, l.now) + "\r\n"
}

// lsLine formats fi as "ls -l" does, the form every FTP client parses
// from LIST: "-rw-r--r-- 1 ftp ftp 1234 Jan  2 15:04 name", with the year
// in place of the time for a date more than six months ago or in the
// future. Times are UTC.
func lsLine(fi fs.FileInfo, name string, now time.Time) string {
	mode := fi.Mode()
	kind := byte('-')
	switch {
	case mode.IsDir():
		kind = 'd'
	case mode&fs.ModeSymlink != 0:
		kind = 'l'
	case !mode.IsRegular():
		kind = '?'
	}
	perm := fs.FileMode(mode.Perm()).String()[1:]
	t := fi.ModTime().UTC()
	when := t.Format("Jan _2 15:04")
	if t.After(now) || now.Sub(t) > 182*24*time.Hour {
		when = t.Format("Jan _2  2006")
	}
	return fmt.Sprintf("%c%s 1 ftp ftp %12d %s %s", kind, perm, fi.Size(), when, name)
}

// A factSet is the MLST facts a session shows (RFC 3659 §7.8: OPTS MLST
// chooses them).
type factSet uint8

const (
	factType factSet = 1 << iota
	factSize
	factModify
	factPerm
	factUnique
	factUnixMode
)

// factNames are the facts in the order FEAT and MLSx show them.
var factNames = []struct {
	name string
	bit  factSet
}{
	{"type", factType}, {"size", factSize}, {"modify", factModify},
	{"perm", factPerm}, {"unique", factUnique}, {"unix.mode", factUnixMode},
}

// defaultFacts are those shown until OPTS MLST.
const defaultFacts = factType | factSize | factModify | factPerm | factUnique

// parseFacts parses the argument of OPTS MLST, "type;size;": unknown facts
// are ignored (RFC 3659 §7.9).
func parseFacts(s string) factSet {
	var set factSet
	for f := range strings.SplitSeq(s, ";") {
		for _, fn := range factNames {
			if strings.EqualFold(f, fn.name) {
				set |= fn.bit
			}
		}
	}
	return set
}

// String returns the facts of set as OPTS MLST echoes them: "type;size;".
func (set factSet) String() string {
	var b strings.Builder
	for _, fn := range factNames {
		if set&fn.bit != 0 {
			b.WriteString(fn.name + ";")
		}
	}
	return b.String()
}

// feat returns the MLST line of FEAT: every fact, those shown starred.
func (set factSet) feat() string {
	var b strings.Builder
	for _, fn := range factNames {
		b.WriteString(fn.name)
		if set&fn.bit != 0 {
			b.WriteByte('*')
		}
		b.WriteByte(';')
	}
	return b.String()
}

// factsOf formats the facts of fi (RFC 3659 §7): id is the entry's name in
// the tree; kind, if not "", its type ("cdir" for the directory listed).
func (l *lister) factsOf(fi fs.FileInfo, id, kind string) string {
	var b strings.Builder
	set := l.facts
	if set&factType != 0 {
		switch {
		case kind != "":
		case fi.IsDir():
			kind = "dir"
		case !fi.Mode().IsRegular():
			kind = "OS.unix=special"
		default:
			kind = "file"
		}
		b.WriteString("type=" + kind + ";")
	}
	if set&factSize != 0 {
		b.WriteString("size=" + strconv.FormatInt(fi.Size(), 10) + ";")
	}
	if set&factModify != 0 {
		b.WriteString("modify=" + fi.ModTime().UTC().Format(timeVal) + ";")
	}
	if set&factPerm != 0 {
		b.WriteString("perm=" + permFact(fi.IsDir(), l.writable) + ";")
	}
	if set&factUnique != 0 {
		b.WriteString("unique=" + uniqueFact(fi, id) + ";")
	}
	if set&factUnixMode != 0 {
		b.WriteString("unix.mode=0" + strconv.FormatUint(uint64(fi.Mode().Perm()), 8) + ";")
	}
	return b.String()
}

// timeVal is the time-val of RFC 3659 §2.3, as MDTM and "modify" show it.
const timeVal = "20060102150405"

// permFact returns the "perm" fact (RFC 3659 §7.5.5).
func permFact(dir, writable bool) string {
	switch {
	case dir && writable:
		return "elcmpfd"
	case dir:
		return "el"
	case writable:
		return "radfw"
	}
	return "r"
}

// uniqueFact returns the "unique" fact (RFC 3659 §7.5.2): device and inode
// where the tree is on disk, else a hash of the name.
func uniqueFact(fi fs.FileInfo, id string) string {
	if sys := fi.Sys(); sys != nil {
		v := reflect.Indirect(reflect.ValueOf(sys))
		if v.Kind() == reflect.Struct {
			dev, ino := v.FieldByName("Dev"), v.FieldByName("Ino")
			if dev.IsValid() && ino.IsValid() && dev.CanUint() && ino.CanUint() {
				return strconv.FormatUint(dev.Uint(), 16) + "U" + strconv.FormatUint(ino.Uint(), 16)
			}
		}
	}
	h := fnv.New64a()
	io.WriteString(h, id)
	return strconv.FormatUint(h.Sum64(), 16)
}
