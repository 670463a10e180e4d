package ftp

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

var errMLSxEntry = errors.New("ftp: malformed MLSx entry")

// parseMLSxEntry parses one entry of an MLSD listing or of an MLST reply
// (RFC 3659 §7.2): facts, each "name=value;", then a space and the path
// name, which is the rest of the line and may hold spaces, ";" and "=".
// A fact's value runs to the next ";" and may hold "=" ("type=OS.unix=
// slink:/x"). Fact names are returned lower-cased. The type facts "cdir"
// and "pdir" give EntryDir; the caller skips them in a listing. Facts it
// cannot read (a size that is not a number, a bad modify time) leave Size
// at -1 and ModTime zero but stay in Facts.
func parseMLSxEntry(line string) (Entry, error) {
	e := Entry{Size: -1, Facts: map[string]string{}}
	s := line
	for {
		if s == "" {
			return Entry{}, errMLSxEntry
		}
		if s[0] == ' ' {
			e.Name = s[1:]
			break
		}
		eq := strings.IndexAny(s, "=; ")
		if eq <= 0 || s[eq] != '=' {
			return Entry{}, errMLSxEntry
		}
		semi := strings.IndexByte(s[eq:], ';')
		if semi < 0 {
			return Entry{}, errMLSxEntry
		}
		e.Facts[strings.ToLower(s[:eq])] = s[eq+1 : eq+semi]
		s = s[eq+semi+1:]
	}
	if e.Name == "" {
		return Entry{}, errMLSxEntry
	}
	e.Type = mlsxType(e.Facts["type"])
	size, ok := e.Facts["size"]
	if !ok {
		size = e.Facts["sizd"]
	}
	if n, err := strconv.ParseInt(size, 10, 64); err == nil && n >= 0 {
		e.Size = n
	}
	if t, err := parseFactTime(e.Facts["modify"]); err == nil {
		e.ModTime = t
	}
	return e, nil
}

// mlsxType maps the value of a type fact (RFC 3659 §7.5.1) to an
// EntryType; "OS.unix=slink:target" and "OS.unix=symlink" are links.
func mlsxType(v string) EntryType {
	v = strings.ToLower(v)
	switch {
	case v == "file":
		return EntryFile
	case v == "dir" || v == "cdir" || v == "pdir":
		return EntryDir
	case strings.HasPrefix(v, "os.unix=slink") || strings.HasPrefix(v, "os.unix=symlink"):
		return EntryLink
	}
	return EntryOther
}

// isSelfOrParent reports whether e is the "cdir" or "pdir" entry of an
// MLSD listing, or a "." or ".." of a LIST.
func isSelfOrParent(e Entry) bool {
	if t := strings.ToLower(e.Facts["type"]); t == "cdir" || t == "pdir" {
		return true
	}
	return e.Name == "." || e.Name == ".."
}

// parseFactTime parses a time-val of RFC 3659 §2.3, YYYYMMDDHHMMSS with an
// optional fraction of a second, in UTC, as MDTM and the modify fact give
// it.
func parseFactTime(s string) (time.Time, error) {
	whole, frac, hasFrac := strings.Cut(s, ".")
	if len(whole) != 14 || !isAllDigits(whole) || (hasFrac && (frac == "" || len(frac) > 9 || !isAllDigits(frac))) {
		return time.Time{}, errors.New("ftp: malformed time-val " + strconv.Quote(s))
	}
	t, err := time.Parse("20060102150405", whole)
	if err != nil {
		return time.Time{}, errors.New("ftp: malformed time-val " + strconv.Quote(s))
	}
	if hasFrac {
		ns, _ := strconv.Atoi((frac + "000000000")[:9])
		t = t.Add(time.Duration(ns))
	}
	return t, nil
}

func isAllDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// listField is a run of non-blank bytes of a line and where it starts and ends.
type listField struct {
	s          string
	start, end int
}

// splitListFields splits line at runs of spaces and tabs, as strings.Fields
// does, keeping each listField's offsets.
func splitListFields(line string) []listField {
	var fs []listField
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			fs = append(fs, listField{line[i:j], i, j})
		}
		i = j
	}
	return fs
}

// parseListLine parses one line of a LIST reply in the two formats servers
// without MLSD use: Unix "ls -l" (vsftpd, ProFTPD, Pure-FTPd) and DOS (IIS).
// now is the time the listing was made, to give a year to the dates "ls"
// writes without one. The times of a LIST are in the server's zone, which
// the client cannot know; they are returned as if UTC. It returns false for
// a line that is neither ("total 12", a blank line).
func parseListLine(line string, now time.Time) (Entry, bool) {
	line = strings.TrimSuffix(line, "\r")
	fs := splitListFields(line)
	if e, ok := parseUnixLine(line, fs, now); ok {
		return e, true
	}
	return parseDOSLine(line, fs)
}

// parseUnixLine parses a line of "ls -l":
//
//	-rw-r--r--    1 ftp      ftp          1234 Dec 03 11:20 name
//	drwxr-xr-x    2 0        0            4096 Jan  5  2023 dir
//	lrwxrwxrwx    1 0        0               6 2024-01-02 15:04 link -> target
//
// The group, and the link count, may be missing: the size is the listField
// before the date. The name is the rest of the line after the date and one
// space; " -> target" is cut from the name of a link.
func parseUnixLine(line string, fs []listField, now time.Time) (Entry, bool) {
	if len(fs) < 5 || !isUnixMode(fs[0].s) {
		return Entry{}, false
	}
	for i := 2; i+1 < len(fs); i++ {
		size, err := strconv.ParseInt(fs[i-1].s, 10, 64)
		if err != nil || size < 0 {
			continue
		}
		t, last, ok := unixDate(fs, i, now)
		if !ok || fs[last].end == len(line) {
			continue
		}
		name := line[fs[last].end+1:]
		if name == "" {
			continue
		}
		e := Entry{Name: name, Size: size, ModTime: t}
		switch fs[0].s[0] {
		case '-':
			e.Type = EntryFile
		case 'd':
			e.Type = EntryDir
		case 'l':
			e.Type = EntryLink
			if n, _, ok := strings.Cut(name, " -> "); ok && n != "" {
				e.Name = n
			}
		default:
			e.Type = EntryOther
		}
		return e, true
	}
	return Entry{}, false
}

// unixDate parses the date at fs[i]: "Mon DD HH:MM", "Mon DD YYYY" or
// "YYYY-MM-DD HH:MM", and returns it with the offset of its end in fs.
func unixDate(fs []listField, i int, now time.Time) (time.Time, int, bool) {
	if t, err := time.Parse("2006-01-02", fs[i].s); err == nil {
		h, m, ok := parseClock(fs[i+1].s)
		if !ok {
			return time.Time{}, 0, false
		}
		return t.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute), i + 1, true
	}
	if i+2 >= len(fs) {
		return time.Time{}, 0, false
	}
	month, ok := monthOf(fs[i].s)
	if !ok {
		return time.Time{}, 0, false
	}
	day, err := strconv.Atoi(fs[i+1].s)
	if err != nil || day < 1 || day > 31 {
		return time.Time{}, 0, false
	}
	ty := fs[i+2].s
	if h, m, ok := parseClock(ty); ok {
		// ls writes the time, not the year, of dates within the last
		// six monthNames: the date is in the current year unless that puts
		// it in the future (two days allow for the zones of server and
		// client).
		now = now.UTC()
		t := time.Date(now.Year(), month, day, h, m, 0, 0, time.UTC)
		if t.After(now.Add(48 * time.Hour)) {
			t = t.AddDate(-1, 0, 0)
		}
		return t, i + 2, true
	}
	year, err := strconv.Atoi(ty)
	if err != nil || len(ty) != 4 {
		return time.Time{}, 0, false
	}
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC), i + 2, true
}

// parseClock parses "HH:MM" of a 24-hour parseClock.
func parseClock(s string) (h, m int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 || !isAllDigits(hs) || !isAllDigits(ms) {
		return 0, 0, false
	}
	h, _ = strconv.Atoi(hs)
	m, _ = strconv.Atoi(ms)
	return h, m, h < 24 && m < 60
}

var monthNames = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

func monthOf(s string) (time.Month, bool) {
	if len(s) != 3 {
		return 0, false
	}
	s = strings.ToLower(s)
	for i, m := range monthNames {
		if s == m {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// isUnixMode reports whether s looks like the mode of "ls -l": a type
// letter and nine permission letters, perhaps followed by "+", "@" or "."
// (ACLs, extended attributes, SELinux).
func isUnixMode(s string) bool {
	if len(s) < 10 || len(s) > 11 || !strings.ContainsRune("-dlbcpsDn?", rune(s[0])) {
		return false
	}
	for i := 1; i < 10; i++ {
		if !strings.ContainsRune("rwxsStTlL-", rune(s[i])) {
			return false
		}
	}
	return len(s) == 10 || strings.ContainsRune("+@.", rune(s[10]))
}

// parseDOSLine parses a line of a DOS-style listing, as IIS writes it:
//
//	01-02-24  03:04PM       <DIR>          name
//	01-02-2024  15:04              1234 name with spaces
//
// Two-digit years are 1970 to 2069. The name is the rest of the line after
// the blanks that follow the size.
func parseDOSLine(line string, fs []listField) (Entry, bool) {
	if len(fs) < 4 {
		return Entry{}, false
	}
	date := strings.Split(fs[0].s, "-")
	if len(date) != 3 {
		return Entry{}, false
	}
	month, err1 := strconv.Atoi(date[0])
	day, err2 := strconv.Atoi(date[1])
	year, err3 := strconv.Atoi(date[2])
	if err1 != nil || err2 != nil || err3 != nil || len(date[0]) != 2 || len(date[1]) != 2 ||
		(len(date[2]) != 2 && len(date[2]) != 4) || month < 1 || month > 12 || day < 1 || day > 31 {
		return Entry{}, false
	}
	if len(date[2]) == 2 {
		year += 1900
		if year < 1970 {
			year += 100
		}
	}
	tm := strings.ToUpper(fs[1].s)
	pm := strings.HasSuffix(tm, "PM")
	if pm || strings.HasSuffix(tm, "AM") {
		tm = tm[:len(tm)-2]
	}
	h, m, ok := parseClock(tm)
	if !ok {
		return Entry{}, false
	}
	if len(tm) != len(fs[1].s) {
		if h < 1 || h > 12 {
			return Entry{}, false
		}
		h %= 12
		if pm {
			h += 12
		}
	}
	e := Entry{Size: -1}
	if strings.EqualFold(fs[2].s, "<DIR>") {
		e.Type = EntryDir
	} else {
		n, err := strconv.ParseInt(fs[2].s, 10, 64)
		if err != nil || n < 0 {
			return Entry{}, false
		}
		e.Type, e.Size = EntryFile, n
	}
	e.Name = line[fs[3].start:]
	e.ModTime = time.Date(year, time.Month(month), day, h, m, 0, 0, time.UTC)
	return e, true
}
