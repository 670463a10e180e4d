package gopher

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// A URL is a gopher URL (RFC 4266):
// gopher://host:port/Tselector%09search, where T is the item type.
type URL struct {
	// Host is the server, "host" or "host:port"; the port defaults to 70.
	Host string
	// Type is the item type; a URL with an empty path is a menu.
	Type Type
	// Selector is the selector, percent-decoded.
	Selector string
	// Search is the search string of a type 7 item, after the TAB (%09);
	// "" means none.
	Search string
}

// ParseURL parses a gopher URL (RFC 4266 §2.1): the first character of the
// path after "/" is the item type (a menu if the path is empty), the rest
// is the selector, percent-decoded, and an encoded TAB (%09) separates it
// from a search string. Gopher+ fields after a second TAB are dropped. A
// selector or search string holding CR, LF or NUL, which would end the
// request early, is refused. This function doesn't perform I/O.
func ParseURL(s string) (*URL, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || !strings.EqualFold(scheme, "gopher") {
		return nil, fmt.Errorf("gopher: %q is not a gopher URL", s)
	}
	host, path, _ := strings.Cut(rest, "/")
	if host == "" || strings.ContainsAny(host, "@ \t\r\n\x00?#") {
		return nil, fmt.Errorf("gopher: invalid host in %q", s)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		if _, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil {
			return nil, fmt.Errorf("gopher: invalid host in %q", s)
		}
	} else if strings.Contains(host, ":") {
		h, p, err := net.SplitHostPort(host)
		if err != nil || h == "" {
			return nil, fmt.Errorf("gopher: invalid host in %q", s)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("gopher: invalid port in %q", s)
		}
	}
	u := &URL{Host: host, Type: TypeMenu}
	if path == "" {
		return u, nil
	}
	dec, err := unescape(path)
	if err != nil {
		return nil, fmt.Errorf("gopher: %w in %q", err, s)
	}
	u.Type = Type(dec[0])
	if u.Type < 0x21 || u.Type > 0x7e {
		return nil, fmt.Errorf("gopher: invalid item type in %q", s)
	}
	sel, search, _ := strings.Cut(dec[1:], "\t")
	search, _, _ = strings.Cut(search, "\t")
	if strings.ContainsAny(sel, "\r\n\x00") || strings.ContainsAny(search, "\r\n\x00") {
		return nil, fmt.Errorf("gopher: CR, LF or NUL in the selector of %q", s)
	}
	u.Selector, u.Search = sel, search
	return u, nil
}

// String returns the URL in the form ParseURL reads, with the selector and
// search string percent-encoded.
func (u *URL) String() string {
	var b strings.Builder
	b.WriteString("gopher://")
	b.WriteString(u.Host)
	b.WriteByte('/')
	t := u.Type
	if t == 0 {
		t = TypeMenu
	}
	if t == TypeMenu && u.Selector == "" && u.Search == "" {
		return b.String()
	}
	b.WriteString(escape(string([]byte{byte(t)})))
	b.WriteString(escape(u.Selector))
	if u.Search != "" {
		b.WriteString("%09")
		b.WriteString(escape(u.Search))
	}
	return b.String()
}

// Addr returns the host and port to dial: Host, with port 70 if it has
// none.
func (u *URL) Addr() string {
	if _, _, err := net.SplitHostPort(u.Host); err == nil {
		return u.Host
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(DefaultPort))
}

// joinHostPort returns host:port, or host alone for the default port.
func joinHostPort(host string, port int) string {
	if port == DefaultPort || port == 0 {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

var errEscape = errors.New("invalid percent-encoding")

func unescape(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errEscape
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// escape percent-encodes every octet but the unreserved characters of RFC
// 3986 and "/".
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
