package store

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The fields of a SearchTerm.
const (
	searchFrom    = "from"
	searchTo      = "to"
	searchSubject = "subject"
	searchText    = "text"
	searchIs      = "is"
	searchHas     = "has"
	searchAfter   = "after"
	searchBefore  = "before"
)

// searchDate is the layout of after: and before: values.
const searchDate = "2006-01-02"

// searchSpace reports whether c separates the words of a search.
func searchSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', '\v':
		return true
	}
	return false
}

// ParseSearch parses q. It fails on an unknown field name before a colon
// (a word such as "re:" with no known field is text), a bad date, or an
// unknown is:/has: value. Inside double quotes, \" is a quote and \\ a
// backslash; the text of a quoted phrase is never a field name nor a "-".
// An empty query is a Search with no terms, which matches everything. The
// error is a *SearchError.
func ParseSearch(q string) (*Search, error) {
	s := &Search{}
	for rest := q; ; {
		var lead, word string
		var ok bool
		if lead, word, rest, ok = nextSearchWord(rest); !ok {
			break
		}
		t, err := parseSearchWord(lead, word)
		if err != nil {
			return nil, &SearchError{Query: q, Err: err.Error()}
		}
		if t != nil {
			s.Terms = append(s.Terms, *t)
		}
	}
	return s, nil
}

// nextSearchWord returns the next word of q and what follows it: the word
// with its quotes removed, and lead, the part of it before its first
// quote. ok is false at the end of q.
func nextSearchWord(q string) (lead, word, rest string, ok bool) {
	i := 0
	for i < len(q) && searchSpace(q[i]) {
		i++
	}
	if i == len(q) {
		return "", "", "", false
	}
	var b strings.Builder
	leadEnd := -1
	quoted := false
	for ; i < len(q); i++ {
		c := q[i]
		switch {
		case quoted && c == '\\' && i+1 < len(q) && (q[i+1] == '"' || q[i+1] == '\\'):
			i++
			b.WriteByte(q[i])
		case c == '"':
			if leadEnd < 0 {
				leadEnd = b.Len()
			}
			quoted = !quoted
		case !quoted && searchSpace(c):
			return leadOf(b.String(), leadEnd), b.String(), q[i:], true
		default:
			b.WriteByte(c)
		}
	}
	return leadOf(b.String(), leadEnd), b.String(), "", true
}

func leadOf(word string, end int) string {
	if end < 0 {
		return word
	}
	return word[:end]
}

// parseSearchWord makes a term of a word; nil for a word that is empty.
func parseSearchWord(lead, word string) (*SearchTerm, error) {
	t := &SearchTerm{Field: searchText}
	if strings.HasPrefix(lead, "-") && len(word) > 1 {
		t.Not = true
		lead, word = lead[1:], word[1:]
	}
	value := word
	if i := strings.IndexByte(lead, ':'); i > 0 && isLetters(lead[:i]) && len(word) > i+1 {
		t.Field, value = strings.ToLower(lead[:i]), word[i+1:]
	}
	switch t.Field {
	case searchFrom, searchTo, searchSubject, searchText:
		if value == "" {
			return nil, nil
		}
		t.Value = strings.ToLower(value)
	case searchIs:
		t.Value = strings.ToLower(value)
		if t.Value != "unread" && t.Value != "read" {
			return nil, fmt.Errorf("unknown is:%s (is:unread or is:read)", value)
		}
	case searchHas:
		t.Value = strings.ToLower(value)
		if t.Value != "attachment" {
			return nil, fmt.Errorf("unknown has:%s (has:attachment)", value)
		}
	case searchAfter, searchBefore:
		d, err := time.Parse(searchDate, value)
		if err != nil {
			return nil, fmt.Errorf("bad date %s:%s (YYYY-MM-DD)", t.Field, value)
		}
		t.Value = d.Format(searchDate)
	default:
		return nil, fmt.Errorf("unknown field %q", t.Field)
	}
	return t, nil
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// String returns s in the search syntax: ParseSearch(s.String()) gives s's
// terms back, for a Search that ParseSearch made.
func (s *Search) String() string {
	var b strings.Builder
	for i, t := range s.Terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		if t.Not {
			b.WriteByte('-')
		}
		if t.Field != searchText {
			b.WriteString(t.Field)
			b.WriteByte(':')
			b.WriteString(quoteSearch(t.Value, false))
		} else {
			b.WriteString(quoteSearch(t.Value, true))
		}
	}
	return b.String()
}

// quoteSearch quotes v if it would not read back as one word of its own:
// text (a word with no field) must not look like a field or a "-" either.
func quoteSearch(v string, text bool) string {
	need := v == "" || text && (strings.HasPrefix(v, "-") || strings.Contains(v, ":"))
	for i := 0; !need && i < len(v); i++ {
		need = searchSpace(v[i]) || v[i] == '"'
	}
	if !need {
		return v
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}

// dayStart returns the start (UTC) of the day of an after: or before:
// value, as ParseSearch made it.
func dayStart(v string) time.Time {
	d, _ := time.Parse(searchDate, v)
	return d
}

// A sqlArgs gathers the arguments of a query built as text, each named by
// its number, so that a part of the query can be used twice.
type sqlArgs []any

// add appends v and returns its parameter.
func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "?" + strconv.Itoa(len(*a))
}

// unseenSQL is true for a message m without the \Seen flag.
const unseenSQL = `NOT EXISTS (SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.flag = '\Seen' COLLATE NOCASE)`

// sql returns the condition of s on a message m with meta x, its
// parameters added to args; "" if s has no terms.
func (s *Search) sql(args *sqlArgs) string {
	var conds []string
	for _, t := range s.Terms {
		var c string
		switch t.Field {
		case searchFrom:
			c = "instr(x.from_lc, " + args.add(t.Value) + ") > 0"
		case searchTo:
			c = "instr(x.to_lc, " + args.add(t.Value) + ") > 0"
		case searchSubject:
			c = "instr(x.subject_lc, " + args.add(t.Value) + ") > 0"
		case searchText:
			c = "instr(x.search, " + args.add([]byte(t.Value)) + ") > 0" // BLOBs: compared byte by byte
		case searchIs:
			c = unseenSQL
			if t.Value == "read" {
				c = "NOT " + c
			}
		case searchHas:
			c = "x.attachments > 0"
		case searchAfter:
			c = "coalesce(x.date, m.internal_date / 1000000000) >= " + args.add(dayStart(t.Value).Unix())
		case searchBefore:
			c = "coalesce(x.date, m.internal_date / 1000000000) < " + args.add(dayStart(t.Value).Unix())
		default:
			c = "0"
		}
		if t.Not {
			c = "NOT (" + c + ")"
		}
		conds = append(conds, c)
	}
	return strings.Join(conds, " AND ")
}

// An articleFields is what a search matches of a news article.
type articleFields struct {
	from, subject string // decoded, lower case
	date          time.Time
}

// matchArticle reports whether an article matches every term of s: to:,
// is: and has: match no article.
func (s *Search) matchArticle(a *articleFields) bool {
	for _, t := range s.Terms {
		var ok bool
		switch t.Field {
		case searchFrom:
			ok = strings.Contains(a.from, t.Value)
		case searchSubject:
			ok = strings.Contains(a.subject, t.Value)
		case searchText:
			ok = strings.Contains(a.from, t.Value) || strings.Contains(a.subject, t.Value)
		case searchAfter:
			ok = !a.date.Before(dayStart(t.Value))
		case searchBefore:
			ok = a.date.Before(dayStart(t.Value))
		}
		if ok == t.Not {
			return false
		}
	}
	return true
}
