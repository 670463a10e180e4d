package imapd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

// imapURL is the message or section that an IMAP URL (RFC 5092) names,
// for CATENATE (RFC 4469).
type imapURL struct {
	mailbox     string // UTF-8; "" for the selected mailbox
	uidValidity uint32 // 0 if not given
	uid         uint32
	section     imapwire.Section
	partial     *imapwire.Partial // nil if none
}

// badURLError is a URL that cannot be used, for the reason given: the
// text of its NO [BADURL].
type badURLError string

func (e badURLError) Error() string { return string(e) }

// catenateURL returns the octets that rawURL names, for a URL part of
// CATENATE (RFC 4469 §3): a message or a section of one (RFC 5092
// imessagepart), from a mailbox of the logged-in user, opened read-only
// unless it is the selected one. rawURL is absolute
// ("imap://user@host/...") or relative to the session
// ("/INBOX;UIDVALIDITY=1/;UID=3/;SECTION=1", or ";UID=3" for the selected
// mailbox). A URL that names another server or user, a mailbox whose
// UIDVALIDITY is not the one given, a message that does not exist, or
// that cannot be parsed is answered NO [BADURL rawURL] (RFC 4469 §5).
// NULs are written as 0x80, as FETCH BODY[] writes them.
func (c *conn) catenateURL(rawURL string) ([]byte, error) {
	u, err := c.parseURL(rawURL)
	if err == nil {
		var b []byte
		b, err = c.fetchURL(u)
		if err == nil {
			return b, nil
		}
	}
	// A URL that cannot be used, and a mailbox the backend refuses to
	// open (ErrNonExistent, ErrBadName...), are BADURL; other errors of
	// the backend are its own.
	var bad badURLError
	var e *Error
	switch {
	case errors.As(err, &bad):
		return nil, &Error{Code: "BADURL " + respURL(rawURL), Text: bad.Error()}
	case errors.As(err, &e):
		return nil, &Error{Code: "BADURL " + respURL(rawURL), Text: e.Text}
	}
	return nil, err
}

// respURL returns url as it can be written in a BADURL response code
// (RFC 4469 §6): without "]", controls or spaces, which would end it.
func respURL(url string) string {
	var b strings.Builder
	for i := 0; i < len(url); i++ {
		switch ch := url[i]; {
		case ch == ']' || ch == ' ' || ch < 0x20 || ch >= 0x7f:
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(ch)|0x100, 16)[1:]))
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

// parseURL parses an IMAP URL that names a message or a section of one,
// of this session's user on this server.
func (c *conn) parseURL(s string) (*imapURL, error) {
	path := s
	if len(s) >= 7 && strings.EqualFold(s[:7], "imap://") {
		rest := s[7:]
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			return nil, badURLError("Invalid IMAP URL: no message named")
		}
		if err := c.checkAuthority(rest[:i]); err != nil {
			return nil, err
		}
		path = rest[i:]
	} else if strings.Contains(s, "://") {
		return nil, badURLError("Invalid IMAP URL: not an imap URL")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, badURLError("Invalid IMAP URL: not a message part URL")
	}
	return parseURLPath(strings.TrimPrefix(path, "/"))
}

// checkAuthority checks the iserver of an absolute URL, [user[;AUTH=x]@]
// host[:port]: the user must be the session's, and the host this server
// (its address on this connection, its host name or localhost).
func (c *conn) checkAuthority(auth string) error {
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return badURLError("Invalid IMAP URL: no user named")
	}
	user, host := auth[:at], auth[at+1:]
	if i := strings.IndexByte(user, ';'); i >= 0 {
		if !strings.HasPrefix(strings.ToUpper(user[i:]), ";AUTH=") {
			return badURLError("Invalid IMAP URL: bad user")
		}
		user = user[:i]
	}
	user, err := url.PathUnescape(user)
	if err != nil || user != c.username {
		return badURLError("IMAP URL names another user")
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if !c.isLocalHost(host) {
		return badURLError("IMAP URL names another server")
	}
	return nil
}

// isLocalHost reports whether host names this server.
func (c *conn) isLocalHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if name, err := os.Hostname(); err == nil && strings.EqualFold(host, name) {
		return true
	}
	if c.lc != nil && c.lc.NetConn() != nil {
		if la := c.lc.NetConn().LocalAddr(); la != nil {
			if h, _, err := net.SplitHostPort(la.String()); err == nil {
				ip, hip := net.ParseIP(h), net.ParseIP(host)
				return ip != nil && hip != nil && ip.Equal(hip)
			}
		}
	}
	return false
}

// parseURLPath parses the path of an IMAP URL after its first "/":
// enc-mailbox [";UIDVALIDITY=" n] "/;UID=" n ["/;SECTION=" s]
// ["/;PARTIAL=" o["." n]] (RFC 5092 §9), parameter names in any case; an
// empty mailbox is the selected one.
func parseURLPath(path string) (*imapURL, error) {
	u := new(imapURL)
	i := strings.IndexByte(path, ';')
	if i < 0 {
		return nil, badURLError("Invalid IMAP URL: no UID")
	}
	mbox, rest := path[:i], path[i+1:]
	mbox, slash := strings.CutSuffix(mbox, "/")
	if mbox != "" {
		name, err := url.PathUnescape(mbox)
		if err != nil || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			return nil, badURLError("Invalid IMAP URL: bad mailbox name")
		}
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		u.mailbox = name
	}
	rest = strings.TrimSuffix(rest, "/")
	for k, p := range strings.Split(rest, "/;") {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			return nil, badURLError("Invalid IMAP URL: bad parameter")
		}
		name = strings.ToUpper(name)
		// UIDVALIDITY follows the mailbox name with no "/" between.
		if (name == "UIDVALIDITY") != (k == 0 && mbox != "" && !slash) {
			return nil, badURLError("Invalid IMAP URL: misplaced " + name)
		}
		if err := u.param(name, value); err != nil {
			return nil, err
		}
	}
	if u.uid == 0 {
		return nil, badURLError("Invalid IMAP URL: no UID")
	}
	return u, nil
}

// param sets the URL parameter name to value.
func (u *imapURL) param(name, value string) error {
	switch name {
	case "UIDVALIDITY":
		n, err := nzNumber(value)
		if err != nil {
			return err
		}
		u.uidValidity = n
	case "UID":
		if u.uid != 0 {
			return badURLError("Invalid IMAP URL: two UIDs")
		}
		n, err := nzNumber(value)
		if err != nil {
			return err
		}
		u.uid = n
	case "SECTION":
		if u.uid == 0 || u.partial != nil || u.section.Part != nil || u.section.Specifier != "" {
			return badURLError("Invalid IMAP URL: misplaced SECTION")
		}
		s, err := url.PathUnescape(value)
		if err != nil {
			return badURLError("Invalid IMAP URL: bad section")
		}
		if u.section, err = parseSection(s); err != nil {
			return err
		}
	case "PARTIAL":
		if u.uid == 0 || u.partial != nil {
			return badURLError("Invalid IMAP URL: misplaced PARTIAL")
		}
		p, err := parsePartial(value)
		if err != nil {
			return err
		}
		u.partial = p
	default:
		// URLAUTH and EXPIRE (RFC 4467) are not offered.
		return badURLError("Invalid IMAP URL: unsupported parameter " + name)
	}
	return nil
}

// nzNumber parses a non-zero 32-bit number (RFC 9051 §9).
func nzNumber(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || s[0] == '+' || s[0] == '0' {
		return 0, badURLError("Invalid IMAP URL: bad number")
	}
	return uint32(n), nil
}

// parsePartial parses partial-range, offset ["." length] (RFC 5092 §9).
func parsePartial(s string) (*imapwire.Partial, error) {
	off, count, dot := strings.Cut(s, ".")
	o, err := strconv.ParseInt(off, 10, 64)
	if err != nil || o < 0 || off == "" || off[0] == '+' {
		return nil, badURLError("Invalid IMAP URL: bad partial")
	}
	p := &imapwire.Partial{Offset: o, Count: 1<<63 - 1}
	if dot {
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil || n <= 0 || count[0] == '+' {
			return nil, badURLError("Invalid IMAP URL: bad partial")
		}
		p.Count = n
	}
	return p, nil
}

// parseSection parses a section-text as FETCH's BODY[] takes it (RFC 9051
// §6.4.5): part numbers, then HEADER, HEADER.FIELDS (...),
// HEADER.FIELDS.NOT (...), TEXT or MIME.
func parseSection(s string) (imapwire.Section, error) {
	var sec imapwire.Section
	bad := badURLError("Invalid IMAP URL: bad section")
	for s != "" && s[0] >= '0' && s[0] <= '9' {
		i := strings.IndexByte(s, '.')
		num := s
		if i >= 0 {
			num = s[:i]
		}
		n, err := nzNumber(num)
		if err != nil {
			return sec, bad
		}
		sec.Part = append(sec.Part, n)
		if i < 0 {
			return sec, nil
		}
		s = s[i+1:]
		if s == "" {
			return sec, bad
		}
	}
	if s == "" {
		return sec, nil
	}
	spec, list, hasList := strings.Cut(s, " ")
	sec.Specifier = strings.ToUpper(spec)
	switch sec.Specifier {
	case "HEADER", "TEXT":
	case "MIME":
		if len(sec.Part) == 0 {
			return sec, bad
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if !hasList || len(list) < 2 || list[0] != '(' || list[len(list)-1] != ')' {
			return sec, bad
		}
		for _, f := range strings.Fields(list[1 : len(list)-1]) {
			sec.Fields = append(sec.Fields, strings.Trim(f, `"`))
		}
		if len(sec.Fields) == 0 {
			return sec, bad
		}
		return sec, nil
	default:
		return sec, bad
	}
	if hasList {
		return sec, bad
	}
	return sec, nil
}

// fetchURL returns the octets that u names.
func (c *conn) fetchURL(u *imapURL) ([]byte, error) {
	mbox, closeIt, err := c.urlMailbox(u.mailbox)
	if err != nil {
		return nil, err
	}
	if closeIt {
		defer mbox.Close()
	}
	if u.uidValidity != 0 && u.uidValidity != mbox.UIDValidity() {
		return nil, badURLError("Invalid UIDVALIDITY")
	}
	var out []byte
	found := false
	err = mbox.Fetch(c.ctx, []uint32{u.uid}, func(m *Message) error {
		if m.UID != u.uid {
			return nil
		}
		found = true
		msg := make([]byte, m.Size)
		if n, err := m.Body.ReadAt(msg, 0); n < len(msg) {
			if err == nil || err == io.EOF {
				err = errShortMessage
			}
			return err
		}
		out = urlSection(msg, u.section, u.partial)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, badURLError("Message not found")
	}
	return out, nil
}

// urlMailbox returns the mailbox name, the selected one if it is that or
// "", else the mailbox opened read-only, which the caller closes.
func (c *conn) urlMailbox(name string) (mbox Mailbox, opened bool, err error) {
	if c.sel != nil && (name == "" || name == c.sel.name) {
		return c.sel.mbox, false, nil
	}
	if name == "" {
		return nil, false, badURLError("Mailbox-relative IMAP URL, but no mailbox selected")
	}
	mbox, err = c.user.Open(c.ctx, name, true)
	if err != nil {
		return nil, false, err
	}
	return mbox, true, nil
}

// urlSection returns BODY[s]<p> of msg, NULs written as 0x80.
func urlSection(msg []byte, s imapwire.Section, p *imapwire.Partial) []byte {
	var b []byte
	if len(s.Part) == 0 && s.Specifier == "" {
		b = msg
	} else {
		r, ok := imapmsg.Parse(msg).Section(s)
		b = msg[r.Offset : r.Offset+r.Length]
		if ok && (s.Specifier == "HEADER.FIELDS" || s.Specifier == "HEADER.FIELDS.NOT") {
			b = filterHeader(nil, b, s)
		}
	}
	off, n := partial(int64(len(b)), p)
	b = bytes.Clone(b[off : off+n])
	noNUL(b)
	return b
}
