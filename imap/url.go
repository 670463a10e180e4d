package imap

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// URL is a parsed IMAP URL (RFC 5092):
//
//	imap://user;AUTH=PLAIN@host:143/INBOX;UIDVALIDITY=7/;UID=42/;SECTION=1.2
//
// curl's forms are accepted too: a password in the user information
// ("user:pass@"), and parameters right after the mailbox ("/INBOX;UID=42").
//
// The query is an IMAP search program, percent-encoded ("?SUBJECT%20hello"
// or "?OR%20(FROM%20alice)%20(FROM%20bob)", RFC 5092 §6; "+" is a plus, not a
// space). It may also be written as KEY=VALUE pairs joined by "&", each
// value one argument ("?SUBJECT=hello%20world&UNSEEN", "?HEADER=X-Test:yes",
// "?NOT=SEEN"), which ParseURL turns into the program
// (SUBJECT "hello world" UNSEEN). [ParseSearch] parses the program.
type URL struct {
	Scheme      string // "imap" or "imaps" (implicit TLS)
	User        string // "" if none
	Password    string
	Auth        string // the ";AUTH=" mechanism, "*" for any; "" if none
	Host        string // host:port; the port defaults to 143 or 993
	Mailbox     string // "" if the URL names the server only
	UIDValidity uint32 // 0 if not given
	UID         imap.UID
	Section     string
	Search      string // the search program of the query, unescaped; "" if none
}

// ParseURL parses an imap:// or imaps:// URL. Percent-escapes are decoded in
// the user, password, mailbox and parameters. This function doesn't perform
// I/O.
func ParseURL(s string) (*URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("imap: %w", err)
	}
	out := &URL{Scheme: strings.ToLower(u.Scheme)}
	port := "143"
	switch out.Scheme {
	case "imap":
	case "imaps":
		port = "993"
	default:
		return nil, fmt.Errorf("imap: URL scheme %q is not imap or imaps", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("imap: URL %q has no host", s)
	}
	if h := u.Hostname(); strings.Contains(h, ":") {
		if _, err := netip.ParseAddr(h); err != nil {
			return nil, fmt.Errorf("imap: invalid host in %q", s)
		}
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			return nil, fmt.Errorf("imap: invalid port in %q", s)
		}
		port = p
	}
	out.Host = net.JoinHostPort(u.Hostname(), port)
	if u.User != nil {
		if err := out.parseUserinfo(u.User.String()); err != nil {
			return nil, err
		}
	}
	if out.Search, err = parseQuery(u.RawQuery); err != nil {
		return nil, fmt.Errorf("imap: invalid search in %q: %w", s, err)
	}
	if err := out.parsePath(u.EscapedPath()); err != nil {
		return nil, err
	}
	return out, nil
}

// parseQuery returns the search program of a URL's query: the query
// unescaped, or the program its KEY=VALUE pairs make.
func parseQuery(raw string) (string, error) {
	n := 0
	for n < len(raw) && ('A' <= raw[n] && raw[n] <= 'Z' || 'a' <= raw[n] && raw[n] <= 'z') {
		n++
	}
	if n == 0 || n == len(raw) || raw[n] != '=' && raw[n] != '&' {
		return url.PathUnescape(raw)
	}
	var prog []string
	for _, item := range strings.Split(raw, "&") {
		if item == "" {
			continue
		}
		rawKey, rawVal, hasVal := strings.Cut(item, "=")
		key, err := url.PathUnescape(rawKey)
		if err != nil {
			return "", err
		}
		val, err := url.PathUnescape(rawVal)
		if err != nil {
			return "", err
		}
		if key == "" || strings.ContainsAny(key, " \t()\"") {
			return "", fmt.Errorf("invalid search key %q", key)
		}
		prog = append(prog, key)
		if !hasVal {
			continue
		}
		switch strings.ToUpper(key) {
		case "HEADER":
			field, v, ok := strings.Cut(val, ":")
			if !ok {
				return "", fmt.Errorf("HEADER=%s: want HEADER=FIELD:VALUE", val)
			}
			prog = append(prog, searchString(strings.TrimSpace(field)), searchString(strings.TrimLeft(v, " \t")))
		case "NOT", "OR":
			prog = append(prog, val) // search keys, as they are
		default:
			prog = append(prog, searchString(val))
		}
	}
	return strings.Join(prog, " "), nil
}

// searchString returns s as an atom if it can be one, else quoted.
func searchString(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`(){%*"\]`, r)
	}) {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (u *URL) parseUserinfo(raw string) error {
	userPart, pass, hasPass := strings.Cut(raw, ":")
	if i := strings.Index(strings.ToUpper(userPart), ";AUTH="); i >= 0 {
		auth, err := url.PathUnescape(userPart[i+len(";AUTH="):])
		if err != nil || auth == "" {
			return fmt.Errorf("imap: invalid ;AUTH= in URL")
		}
		u.Auth = auth
		userPart = userPart[:i]
	}
	var err error
	if u.User, err = url.PathUnescape(userPart); err != nil {
		return fmt.Errorf("imap: invalid user in URL: %w", err)
	}
	if hasPass {
		if u.Password, err = url.PathUnescape(pass); err != nil {
			return fmt.Errorf("imap: invalid password in URL: %w", err)
		}
	}
	return nil
}

func (u *URL) parsePath(p string) error {
	p = strings.TrimPrefix(p, "/")
	mbox, params, _ := strings.Cut(p, ";")
	mbox = strings.TrimSuffix(mbox, "/")
	var err error
	if u.Mailbox, err = url.PathUnescape(mbox); err != nil {
		return fmt.Errorf("imap: invalid mailbox in URL: %w", err)
	}
	if params == "" {
		return nil
	}
	for _, param := range strings.Split(params, ";") {
		param = strings.TrimSuffix(param, "/")
		key, val, ok := strings.Cut(param, "=")
		if !ok {
			return fmt.Errorf("imap: invalid URL parameter %q", param)
		}
		val, err = url.PathUnescape(val)
		if err != nil {
			return fmt.Errorf("imap: invalid URL parameter %q", param)
		}
		switch strings.ToUpper(key) {
		case "UIDVALIDITY":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("imap: invalid UIDVALIDITY %q", val)
			}
			u.UIDValidity = uint32(n)
		case "UID":
			n, err := strconv.ParseUint(val, 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("imap: invalid UID %q", val)
			}
			u.UID = imap.UID(n)
		case "SECTION":
			u.Section = val
		case "PARTIAL":
			// not used
		default:
			return fmt.Errorf("imap: unknown URL parameter %q", key)
		}
	}
	return nil
}

// String returns the URL in RFC 5092 form (with the password, if any, in
// curl's form, and the search program percent-encoded).
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteString("://")
	if u.User != "" || u.Auth != "" || u.Password != "" {
		b.WriteString(escape(u.User, false))
		if u.Auth != "" {
			b.WriteString(";AUTH=")
			b.WriteString(escape(u.Auth, false))
		}
		if u.Password != "" {
			b.WriteString(":")
			b.WriteString(escape(u.Password, false))
		}
		b.WriteString("@")
	}
	// The host as net/url writes it: "%" (of an IPv6 zone, say) is "%25".
	b.WriteString(strings.TrimPrefix((&url.URL{Host: u.Host}).String(), "//"))
	b.WriteString("/")
	mbox := escape(u.Mailbox, true)
	if strings.HasSuffix(mbox, "/") { // parsePath would take it for "/;UID="
		mbox = mbox[:len(mbox)-1] + "%2F"
	}
	b.WriteString(mbox)
	if u.UIDValidity != 0 {
		fmt.Fprintf(&b, ";UIDVALIDITY=%d", u.UIDValidity)
	}
	if u.UID != 0 {
		fmt.Fprintf(&b, "/;UID=%d", u.UID)
		if u.Section != "" {
			b.WriteString("/;SECTION=")
			b.WriteString(escape(u.Section, false))
		}
	}
	if u.Search != "" {
		b.WriteString("?")
		b.WriteString(escape(u.Search, false))
	}
	return b.String()
}

// escape percent-encodes all but unreserved characters (and "/" in a
// mailbox, the usual hierarchy delimiter).
func escape(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || slash && c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
