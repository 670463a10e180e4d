package store

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxAddressBytes is the longest address (RFC 5321 §4.5.3.1.3: a path is at
// most 256 octets, the angle brackets included).
const maxAddressBytes = 254

// ValidateAddress reports whether address is a mail address that the store
// makes a user for on its own: in any-login mode at a first login, and for
// a recipient of mail. It accepts the Mailbox of RFC 5321 §4.1.2 with the
// UTF-8 of RFC 6531 §3.3, local@domain, at most 254 octets:
//
//   - the local part is a Dot-string: atoms of letters, digits,
//     !#$%&'*+-/=?^_`{|}~ and printable non-ASCII characters, joined by
//     single dots. The Quoted-string form ("john doe"@example.org) is
//     refused: RFC 5321 §4.1.2 asks receivers not to define such mailboxes;
//   - the domain is a dot-separated list of labels of letters, digits,
//     hyphens (not first or last) and printable non-ASCII characters, or an
//     address literal ([192.0.2.1], [IPv6:2001:db8::1]).
//
// Invalid UTF-8, control characters, spaces and a missing @ are refused.
// The error says what is wrong.
func ValidateAddress(address string) error {
	bad := func(why string) error { return fmt.Errorf("store: invalid address %q: %s", address, why) }
	switch {
	case address == "":
		return bad("empty")
	case !utf8.ValidString(address):
		return bad("not valid UTF-8")
	case len(address) > maxAddressBytes:
		return bad(fmt.Sprintf("longer than %d octets", maxAddressBytes))
	}
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return bad("no @ (want local@domain)")
	}
	local, domain := address[:at], address[at+1:]
	if why := checkLocalPart(local); why != "" {
		return bad(why)
	}
	if why := checkDomain(domain); why != "" {
		return bad(why)
	}
	return nil
}

// checkLocalPart returns what is wrong with a Dot-string local part, or "".
func checkLocalPart(local string) string {
	if local == "" {
		return "empty local part"
	}
	if strings.HasPrefix(local, `"`) {
		return "quoted local parts are not accepted"
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return "a dot at the start or end of the local part, or two in a row"
		}
		for _, r := range atom {
			if !isAtext(r) {
				return fmt.Sprintf("%q is not allowed in the local part", r)
			}
		}
	}
	return ""
}

// isAtext reports whether r may be in an atom (RFC 5321 §4.1.2 atext,
// RFC 6531 §3.3 UTF8-non-ascii); of the non-ASCII characters only the
// printable ones, so no control, space, or format character such as a
// bidirectional override, and not U+FFFD, the mark of a decoding error.
func isAtext(r rune) bool {
	switch {
	case r >= utf8.RuneSelf:
		return unicode.IsPrint(r) && r != utf8.RuneError
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

// checkDomain returns what is wrong with the domain of an address, or "".
func checkDomain(domain string) string {
	if domain == "" {
		return "empty domain"
	}
	if strings.HasPrefix(domain, "[") {
		return checkAddressLiteral(domain)
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" {
			return "an empty label in the domain"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a domain label starts or ends with a hyphen"
		}
		ascii := true
		for _, r := range label {
			switch {
			case r >= utf8.RuneSelf:
				ascii = false
				if !unicode.IsPrint(r) || r == utf8.RuneError {
					return fmt.Sprintf("%q is not allowed in the domain", r)
				}
			case r != '-' && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'):
				return fmt.Sprintf("%q is not allowed in the domain", r)
			}
		}
		if ascii && len(label) > 63 {
			return "a domain label longer than 63 octets"
		}
	}
	return ""
}

// checkAddressLiteral checks an address literal (RFC 5321 §4.1.3): an IPv4
// address, or a tagged one such as IPv6:2001:db8::1.
func checkAddressLiteral(lit string) string {
	if !strings.HasSuffix(lit, "]") {
		return "an address literal without its closing ]"
	}
	inner := lit[1 : len(lit)-1]
	if tag, addr, ok := strings.Cut(inner, ":"); ok {
		if strings.EqualFold(tag, "IPv6") {
			if ip, err := netip.ParseAddr(addr); err != nil || !ip.Is6() || ip.Zone() != "" {
				return "not an IPv6 address literal"
			}
			return ""
		}
		// General-address-literal: a tag and printable ASCII but [ \ ].
		for _, r := range addr {
			if r < '!' || r > '~' || r == '[' || r == '\\' || r == ']' {
				return "not an address literal"
			}
		}
		if tag == "" || addr == "" || strings.Trim(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return "not an address literal"
		}
		return ""
	}
	if ip, err := netip.ParseAddr(inner); err != nil || !ip.Is4() {
		return "not an IPv4 address literal"
	}
	return ""
}
