package nntp

import (
	"bytes"
	"strings"
)

// A headerField is one field of an article's header: its name as written,
// its value unfolded and trimmed, and its lines as they are (CRLF
// included).
type headerField struct {
	name  string
	value string
	raw   []byte
}

// splitArticle splits an article with CRLF line endings into its header
// section (each line ending in CRLF, without the empty line) and body. An
// article without an empty line is all header.
func splitArticle(data []byte) (header, body []byte) {
	if bytes.HasPrefix(data, []byte("\r\n")) {
		return nil, data[2:]
	}
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		return data[:i+2], data[i+4:]
	}
	if len(data) > 0 && !bytes.HasSuffix(data, []byte("\r\n")) {
		data = append(data[:len(data):len(data)], '\r', '\n')
	}
	return data, nil
}

// parseHeader parses a header section with CRLF line endings into its
// fields. It returns the reason if the header is malformed: a line that is
// neither a field nor the continuation of one, or a field name with
// characters RFC 5322 §2.2 does not allow.
func parseHeader(header []byte) ([]headerField, string) {
	var fields []headerField
	for len(header) > 0 {
		i := bytes.Index(header, []byte("\r\n"))
		if i < 0 {
			i = len(header)
		} else {
			i += 2
		}
		line := header[:i]
		header = header[i:]
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, "NUL in header"
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(fields) == 0 {
				return nil, "header starts with a continuation line"
			}
			f := &fields[len(fields)-1]
			f.raw = append(f.raw, line...)
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return nil, "malformed header line"
		}
		for _, c := range line[:colon] {
			if c <= ' ' || c >= 0x7f {
				return nil, "malformed header field name"
			}
		}
		fields = append(fields, headerField{name: string(line[:colon]), raw: append([]byte(nil), line...)})
	}
	for i := range fields {
		f := &fields[i]
		v := f.raw[len(f.name)+1:]
		v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
		f.value = strings.TrimSpace(string(v))
	}
	return fields, ""
}

// fieldValue returns the value of the first field called name (compared
// without regard to case) and how many such fields there are.
func fieldValue(fields []headerField, name string) (string, int) {
	var v string
	n := 0
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			if n == 0 {
				v = f.value
			}
			n++
		}
	}
	return v, n
}

// countLines returns the number of lines of a body with CRLF line endings.
func countLines(body []byte) int64 {
	n := int64(bytes.Count(body, []byte("\n")))
	if len(body) > 0 && body[len(body)-1] != '\n' {
		n++
	}
	return n
}

// normalizeCRLF makes every line ending of data CRLF: a bare LF gets a CR.
func normalizeCRLF(data []byte) []byte {
	bare := false
	for i, c := range data {
		if c == '\n' && (i == 0 || data[i-1] != '\r') {
			bare = true
			break
		}
	}
	if !bare {
		return data
	}
	out := make([]byte, 0, len(data)+len(data)/32)
	for i, c := range data {
		if c == '\n' && (i == 0 || data[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// checkedArticle is an article the server has checked: the Posting to
// hand to the Backend, and the groups it names.
type checkedArticle struct {
	p          Posting
	newsgroups []string // as named, without duplicates
}

// articleOptions are what checkArticle needs from the server.
type articleOptions struct {
	host      string // for Path and a Message-ID made here
	newID     func() string
	now       func() string // a Date field value
	transfer  bool          // IHAVE: the article comes from a peer
	messageID string        // IHAVE's argument, which the article must carry
}

// checkArticle checks an article received by POST or IHAVE (CRLF line
// endings, dot-stuffing removed) and completes it: an Xref field is
// removed, the server's name is put in front of the Path (which is made if
// missing), and Date and Message-ID are added if missing (RFC 5537 §3.5,
// RFC 3977 §6.3.1). It returns the reason for a 441 (437) reply if the
// article is refused.
func checkArticle(data []byte, o articleOptions) (*checkedArticle, string) {
	header, body := splitArticle(data)
	fields, reason := parseHeader(header)
	if reason != "" {
		return nil, reason
	}
	for _, name := range []string{"From", "Subject", "Newsgroups", "Message-ID", "Date", "Path", "References"} {
		v, n := fieldValue(fields, name)
		if n > 1 {
			return nil, "duplicate " + name + " header field"
		}
		if n == 0 && (name == "From" || name == "Subject" || name == "Newsgroups") {
			return nil, "missing " + name + " header field"
		}
		if n == 1 && v == "" && name != "References" {
			return nil, "empty " + name + " header field"
		}
	}
	c := &checkedArticle{}
	ngs, _ := fieldValue(fields, "Newsgroups")
	seen := make(map[string]bool)
	for g := range strings.SplitSeq(ngs, ",") {
		g = strings.TrimSpace(g)
		if !validGroupName(g) {
			return nil, "invalid newsgroup name in Newsgroups"
		}
		if !seen[g] {
			seen[g] = true
			c.newsgroups = append(c.newsgroups, g)
			if len(c.newsgroups) > MaxNewsgroups {
				return nil, "too many newsgroups"
			}
		}
	}
	id, hasID := fieldValue(fields, "Message-ID")
	switch {
	case hasID > 0 && !validMessageID(id):
		return nil, "malformed Message-ID"
	case hasID > 0 && o.messageID != "" && id != o.messageID:
		return nil, "Message-ID differs from the one offered"
	case hasID == 0 && o.messageID != "":
		id = o.messageID
	case hasID == 0:
		id = o.newID()
	}
	date, hasDate := fieldValue(fields, "Date")
	if hasDate == 0 {
		date = o.now()
	}
	path, hasPath := fieldValue(fields, "Path")
	if hasPath == 0 {
		path = "not-for-mail"
	}
	var h bytes.Buffer
	h.Grow(len(header) + 128)
	h.WriteString("Path: " + o.host + "!" + path + "\r\n")
	for _, f := range fields {
		if strings.EqualFold(f.name, "Xref") || strings.EqualFold(f.name, "Path") {
			continue
		}
		h.Write(f.raw)
	}
	if hasDate == 0 {
		h.WriteString("Date: " + date + "\r\n")
	}
	if hasID == 0 {
		h.WriteString("Message-ID: " + id + "\r\n")
	}
	subject, _ := fieldValue(fields, "Subject")
	from, _ := fieldValue(fields, "From")
	refs, _ := fieldValue(fields, "References")
	c.p = Posting{
		Header:     h.Bytes(),
		Body:       body,
		MessageID:  id,
		Subject:    subject,
		From:       from,
		Date:       date,
		References: refs,
		Bytes:      int64(h.Len() + 2 + len(body)),
		Lines:      countLines(body),
		Transfer:   o.transfer,
	}
	return c, ""
}

// peeker is what reading an article needs of a lineproto.Reader.
type peeker interface {
	Peek() ([]byte, error)
	Skip(n int)
}

// States of reading a dot-stuffed article.
const (
	artLineStart = iota // after CRLF, or at the start
	artDot              // a dot at the start of a line
	artDotCR            // ".\r" at the start of a line
	artText             // inside a line
	artCR               // a CR inside a line
	artEnd              // CRLF.CRLF seen
)

// readArticle reads a dot-stuffed article (RFC 3977 §3.1.1) from r up to
// and including its terminating line, and returns it without the
// dot-stuffing. Only a line holding a single "." after a CRLF (or at the
// start), and ended by CRLF, ends it: a dot line with a bare LF or CR is
// data. It stores at most max octets and reports, with tooBig, an article
// of more than max octets on the wire (terminating line excluded): the rest
// of such an article is read and thrown away, so that the session goes on.
// before is called before each read that may block.
func readArticle(r peeker, max int64, before func()) (data []byte, tooBig bool, err error) {
	var out bytes.Buffer
	var wire int64
	st := artLineStart
	emit := func(b ...byte) {
		if !tooBig {
			out.Write(b)
		}
	}
	for st != artEnd {
		before()
		buf, err := r.Peek()
		if err != nil {
			return nil, tooBig, err
		}
		i := 0
		for i < len(buf) && st != artEnd {
			ch := buf[i]
			i++
			switch st {
			case artLineStart:
				switch ch {
				case '.':
					st = artDot
				case '\r':
					st = artCR
				default:
					emit(ch)
					st = artText
				}
			case artDot:
				switch ch {
				case '\r':
					st = artDotCR
				default:
					emit(ch) // a stuffed dot is dropped
					st = artText
				}
			case artDotCR:
				if ch == '\n' {
					st = artEnd
					break
				}
				emit('\r')
				if ch == '\r' {
					st = artCR
				} else {
					emit(ch)
					st = artText
				}
			case artText:
				if ch == '\r' {
					st = artCR
				} else {
					emit(ch)
				}
			case artCR:
				switch ch {
				case '\n':
					emit('\r', '\n')
					st = artLineStart
				case '\r':
					emit('\r')
				default:
					emit('\r', ch)
					st = artText
				}
			}
		}
		r.Skip(i)
		wire += int64(i)
		pending := int64(2) // at most ".\r" of a terminating line not yet complete
		if st == artEnd {
			pending = 3
		}
		if !tooBig && wire-pending > max {
			tooBig = true
			out = bytes.Buffer{}
		}
	}
	if tooBig {
		return nil, true, nil
	}
	return out.Bytes(), false, nil
}
