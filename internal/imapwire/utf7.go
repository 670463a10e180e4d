package imapwire

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The modified base64 alphabet of RFC 3501 §5.1.3: "," instead of "/".
const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

var b64index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b64); i++ {
		t[b64[i]] = int8(i)
	}
	return t
}()

// EncodeUTF7 returns name, which must be valid UTF-8, in modified UTF-7
// (RFC 3501 §5.1.3): printable US-ASCII but "&" as itself, "&" as "&-", and
// each run of other characters as one "&" base64(UTF-16BE) "-" sequence.
// Invalid UTF-8 is encoded as U+FFFD. This function doesn't perform I/O.
func EncodeUTF7(name string) string {
	i := 0
	for i < len(name) && name[i] >= 0x20 && name[i] < 0x7f && name[i] != '&' {
		i++
	}
	if i == len(name) {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 8)
	b.WriteString(name[:i])
	for i < len(name) {
		c := name[i]
		if c >= 0x20 && c < 0x7f {
			if c == '&' {
				b.WriteString("&-")
			} else {
				b.WriteByte(c)
			}
			i++
			continue
		}
		// A run of characters outside printable ASCII.
		b.WriteByte('&')
		var bits uint32
		var n uint
		for i < len(name) && (name[i] < 0x20 || name[i] >= 0x7f) {
			r, size := utf8.DecodeRuneInString(name[i:])
			i += size
			var units [2]uint16
			u := units[:1]
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				units[0], units[1], u = uint16(r1), uint16(r2), units[:2]
			} else {
				units[0] = uint16(r)
			}
			for _, w := range u {
				bits = bits<<16 | uint32(w)
				n += 16
				for n >= 6 {
					n -= 6
					b.WriteByte(b64[(bits>>n)&0x3f])
				}
			}
		}
		if n > 0 {
			b.WriteByte(b64[(bits<<(6-n))&0x3f])
		}
		b.WriteByte('-')
	}
	return b.String()
}

// DecodeUTF7 returns the UTF-8 form of a modified UTF-7 mailbox name
// (RFC 3501 §5.1.3), or ErrMailboxName if it is not in the one form
// EncodeUTF7 gives: characters outside printable US-ASCII not encoded, "&"
// not followed by "-" or a base64 sequence ended by "-", a base64 sequence
// that encodes printable US-ASCII, leaves non-zero or 6 or more bits over,
// holds a broken surrogate pair, or directly follows another. This function
// doesn't perform I/O.
func DecodeUTF7(name string) (string, error) {
	i := strings.IndexByte(name, '&')
	if i < 0 {
		i = len(name)
	}
	for j := 0; j < i; j++ {
		if name[j] < 0x20 || name[j] >= 0x7f {
			return "", ErrMailboxName
		}
	}
	if i == len(name) {
		return name, nil
	}
	var b strings.Builder
	b.Grow(len(name))
	b.WriteString(name[:i])
	afterShift := false
	for i < len(name) {
		c := name[i]
		if c < 0x20 || c >= 0x7f {
			return "", ErrMailboxName
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			afterShift = false
			continue
		}
		i++
		if i < len(name) && name[i] == '-' {
			b.WriteByte('&')
			i++
			afterShift = false
			continue
		}
		if afterShift {
			return "", ErrMailboxName // two sequences must be one
		}
		var bits uint32
		var n uint
		var hi rune // pending high surrogate
		units := 0
		for {
			if i == len(name) {
				return "", ErrMailboxName // no "-"
			}
			c := name[i]
			i++
			if c == '-' {
				break
			}
			v := b64index[c]
			if v < 0 {
				return "", ErrMailboxName
			}
			bits = bits<<6 | uint32(v)
			n += 6
			if n < 16 {
				continue
			}
			n -= 16
			w := rune(bits>>n) & 0xffff
			bits &= 1<<n - 1
			units++
			switch {
			case hi != 0:
				if !utf16.IsSurrogate(w) || w < 0xdc00 {
					return "", ErrMailboxName
				}
				b.WriteRune(utf16.DecodeRune(hi, w))
				hi = 0
			case w >= 0xd800 && w < 0xdc00:
				hi = w
			case w >= 0xdc00 && w < 0xe000:
				return "", ErrMailboxName
			case w >= 0x20 && w < 0x7f:
				return "", ErrMailboxName // must be written as itself
			default:
				b.WriteRune(w)
			}
		}
		if units == 0 || hi != 0 || n >= 6 || bits != 0 {
			return "", ErrMailboxName
		}
		afterShift = true
	}
	return b.String(), nil
}
