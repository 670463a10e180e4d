package ftp

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

var errAddress = errors.New("ftp: malformed host-port")

// parsePORT parses the argument of PORT and the address of a 227 reply:
// six decimal numbers h1,h2,h3,h4,p1,p2 of 0 to 255, the IPv4 address
// h1.h2.h3.h4 and port p1*256+p2 (RFC 959 §4.1.2).
func parsePORT(s string) (netip.AddrPort, error) {
	var b [6]byte
	for i := range b {
		var field string
		if i < 5 {
			var ok bool
			field, s, ok = strings.Cut(s, ",")
			if !ok {
				return netip.AddrPort{}, errAddress
			}
		} else {
			field = s
		}
		n, err := decimal(strings.TrimSpace(field), 255)
		if err != nil {
			return netip.AddrPort{}, errAddress
		}
		b[i] = byte(n)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])), nil
}

// formatPORT formats an IPv4 address and port as PORT and 227 write it.
func formatPORT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap().As4()
	p := ap.Port()
	var sb strings.Builder
	for _, n := range []int{int(a[0]), int(a[1]), int(a[2]), int(a[3]), int(p >> 8), int(p & 0xff)} {
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Itoa(n))
	}
	return sb.String()
}

// parsePASVReply finds the host-port in the text of a 227 reply. RFC 959
// gives no format for it; servers write "Entering Passive Mode
// (h1,h2,h3,h4,p1,p2)", with or without the parentheses, so the address is
// the first run of six comma-separated numbers.
func parsePASVReply(text string) (netip.AddrPort, error) {
	for i := 0; i < len(text); i++ {
		if !isDigit(text[i]) || (i > 0 && isDigit(text[i-1])) {
			continue
		}
		j := i
		for j < len(text) && (isDigit(text[j]) || text[j] == ',' || text[j] == ' ') {
			j++
		}
		if ap, err := parsePORT(strings.TrimRight(text[i:j], ", ")); err == nil {
			return ap, nil
		}
	}
	return netip.AddrPort{}, errAddress
}

// EPRT's network protocol numbers (RFC 2428 §2).
const (
	protoIPv4 = 1
	protoIPv6 = 2
)

// parseEPRT parses the argument of EPRT, <d><net-prt><d><net-addr><d><tcp-port><d>,
// where the delimiter d is any printable ASCII character (RFC 2428 §2).
// The protocol must match the address: 1 for IPv4, 2 for IPv6.
func parseEPRT(s string) (netip.AddrPort, error) {
	if len(s) < 7 || s[0] < 33 || s[0] > 126 {
		return netip.AddrPort{}, errAddress
	}
	d := s[:1]
	parts := strings.Split(s[1:], d)
	if len(parts) != 4 || parts[3] != "" {
		return netip.AddrPort{}, errAddress
	}
	proto, err := decimal(parts[0], 2)
	if err != nil {
		return netip.AddrPort{}, errAddress
	}
	addr, err := netip.ParseAddr(parts[1])
	if err != nil || addr.Zone() != "" {
		return netip.AddrPort{}, errAddress
	}
	if (proto == protoIPv4) != addr.Is4() || (proto == protoIPv6) != addr.Is6() {
		return netip.AddrPort{}, errAddress
	}
	port, err := decimal(parts[2], 65535)
	if err != nil || port == 0 {
		return netip.AddrPort{}, errAddress
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// formatEPRT formats an address and port as the argument of EPRT, with "|"
// as the delimiter.
func formatEPRT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	proto := protoIPv4
	if a.Is6() {
		proto = protoIPv6
	}
	return "|" + strconv.Itoa(proto) + "|" + a.String() + "|" + strconv.Itoa(int(ap.Port())) + "|"
}

// parseEPSVReply finds the port in the text of a 229 reply:
// "(<d><d><d><tcp-port><d>)" (RFC 2428 §3).
func parseEPSVReply(text string) (uint16, error) {
	i := strings.IndexByte(text, '(')
	j := strings.LastIndexByte(text, ')')
	if i < 0 || j < i+6 {
		return 0, errAddress
	}
	s := text[i+1 : j]
	d := s[0]
	if d < 33 || d > 126 || s[1] != d || s[2] != d || s[len(s)-1] != d {
		return 0, errAddress
	}
	port, err := decimal(s[3:len(s)-1], 65535)
	if err != nil || port == 0 {
		return 0, errAddress
	}
	return uint16(port), nil
}

// decimal parses a non-empty run of at most 5 decimal digits no greater
// than max.
func decimal(s string, max int) (int, error) {
	if s == "" || len(s) > 5 {
		return 0, errAddress
	}
	n := 0
	for i := range len(s) {
		if !isDigit(s[i]) {
			return 0, errAddress
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > max {
		return 0, errAddress
	}
	return n, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
