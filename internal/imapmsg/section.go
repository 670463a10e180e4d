package imapmsg

import (
	"bytes"
	"errors"
	"strings"

	"github.com/inetkit/inetkit/internal/imapwire"
)

// A Range is a run of octets of the stored message.
type Range struct {
	Offset, Length int64
}

// Find returns the part that a part number names (RFC 3501 §6.4.5) in the
// message p: 1, 2, … are the parts of a multipart; the body of a
// message that is not multipart is its part 1; the parts of a
// message/rfc822 part are those of the message it holds. An empty path
// is p itself.
func (p *Part) Find(path []uint32) (*Part, bool) {
	cur := p
	entered := true // cur is a message whose body part numbers address
	for _, n := range path {
		if !entered && cur.Kind == KindMessage {
			cur, entered = cur.Message, true
		}
		switch {
		case cur.Kind == KindMultipart:
			if n == 0 || int(n) > len(cur.Parts) {
				return nil, false
			}
			cur, entered = cur.Parts[n-1], false
		case entered && n == 1:
			entered = false
		default:
			return nil, false
		}
	}
	return cur, true
}

// Section returns the octets of BODY[s] in the message p (RFC 3501
// §6.4.5): the whole message, a part's body, its MIME header, or the
// header or text of the message or of a message/rfc822 part. For
// HEADER.FIELDS and HEADER.FIELDS.NOT it returns the header, which
// [FilterHeader] then filters. It reports false if the section does not
// exist; the server then returns an empty string, as RFC 3501 allows.
func (p *Part) Section(s imapwire.Section) (Range, bool) {
	p, ok := p.Find(s.Part)
	if !ok {
		return Range{}, false
	}
	switch s.Specifier {
	case "":
		if len(s.Part) == 0 {
			return Range{p.Start, p.End - p.Start}, true
		}
		return Range{p.BodyStart, p.End - p.BodyStart}, true
	case "MIME":
		if len(s.Part) == 0 {
			return Range{}, false
		}
		return Range{p.Start, p.BodyStart - p.Start}, true
	case "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT":
		if len(s.Part) > 0 {
			if p.Kind != KindMessage {
				return Range{}, false
			}
			p = p.Message
		}
		if s.Specifier == "TEXT" {
			return Range{p.BodyStart, p.End - p.BodyStart}, true
		}
		return Range{p.Start, p.BodyStart - p.Start}, true
	}
	return Range{}, false
}

// FilterHeader appends to dst the fields of header (a header as Section
// returns it) whose names are in names, or not in names if not is set
// (HEADER.FIELDS and HEADER.FIELDS.NOT), each with its continuation lines,
// then the blank line that ends a header.
func FilterHeader(dst, header []byte, names []string, not bool) []byte {
	keep := false
	for len(header) > 0 {
		i := bytes.IndexByte(header, '\n')
		line := header
		if i >= 0 {
			line = header[:i+1]
		}
		header = header[len(line):]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			keep = false
			if c := bytes.IndexByte(line, ':'); c > 0 {
				name := string(bytes.TrimRight(line[:c], " \t"))
				in := false
				for _, n := range names {
					if strings.EqualFold(n, name) {
						in = true
						break
					}
				}
				keep = in != not
			}
		}
		if keep {
			dst = append(dst, line...)
			if line[len(line)-1] != '\n' {
				dst = append(dst, '\r', '\n')
			}
		}
	}
	return append(dst, '\r', '\n')
}

// ErrUnknownEncoding is returned by [Decode] for a Content-Transfer-Encoding
// it does not know; the server answers NO [UNKNOWN-CTE] (RFC 3516 §4.3).
var ErrUnknownEncoding = errors.New("imapmsg: unknown Content-Transfer-Encoding")

// Binary returns the octets of BINARY[part] (RFC 3516) before decoding,
// and the Content-Transfer-Encoding to decode them with ("" for none):
// the whole message for an empty part number, else the part's body.
func (p *Part) Binary(part []uint32) (r Range, encoding string, ok bool) {
	p, ok = p.Find(part)
	if !ok {
		return Range{}, "", false
	}
	if len(part) == 0 {
		return Range{p.Start, p.End - p.Start}, "", true
	}
	if p.Encoding != nil && p.Kind != KindMultipart && p.Kind != KindMessage {
		encoding = *p.Encoding
	}
	return Range{p.BodyStart, p.End - p.BodyStart}, encoding, true
}

// Decode appends to dst the content of src decoded from encoding: none,
// 7bit, 8bit and binary are the identity; base64 and quoted-printable
// (RFC 2045 §6.7, §6.8) are decoded leniently (whitespace and octets
// outside the alphabet skipped, a stray "=" kept). Another encoding is
// ErrUnknownEncoding. BINARY.SIZE is the length of the result.
func Decode(dst, src []byte, encoding string) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "7bit", "8bit", "binary":
		return append(dst, src...), nil
	case "base64":
		return decodeBase64(dst, src), nil
	case "quoted-printable":
		return decodeQP(dst, src), nil
	}
	return dst, ErrUnknownEncoding
}

func b64val(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}

func decodeBase64(dst, src []byte) []byte {
	var acc uint32
	n := 0
	for _, c := range src {
		if c == '=' {
			break
		}
		v := b64val(c)
		if v < 0 {
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	switch n {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	return dst
}

func hexval(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

func decodeQP(dst, src []byte) []byte {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		line, nl := src, false
		if i >= 0 {
			line, nl = src[:i], true
			src = src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		line = bytes.TrimRight(line, " \t") // RFC 2045 §6.8 rule 3
		soft := false
		for j := 0; j < len(line); j++ {
			c := line[j]
			if c != '=' {
				dst = append(dst, c)
				continue
			}
			if j == len(line)-1 {
				soft = true
				break
			}
			if j+2 < len(line) {
				h, l := hexval(line[j+1]), hexval(line[j+2])
				if h >= 0 && l >= 0 {
					dst = append(dst, byte(h<<4|l))
					j += 2
					continue
				}
			}
			dst = append(dst, '=')
		}
		if nl && !soft {
			dst = append(dst, '\r', '\n')
		}
	}
	return dst
}
