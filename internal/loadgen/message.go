package loadgen

import (
	"strconv"
	"unicode/utf8"
)

// idRoom is the part of a message at its start that is kept ASCII, so that
// the ids written there never cut a multi-byte character in two. The longest
// id prefix, a 6-digit worker and a 20-digit number with their separators,
// fits.
const idRoom = 32

// unicodeText is repeated after idRoom in a message with Unicode: ß becomes SS
// (one byte longer), ΐ three code points (four bytes longer), ﬁ FI (one byte
// shorter), so replies differ from requests in length.
const unicodeText = "straße ΐ ﬁ é "

// A messageGen writes the messages of one worker: "<worker>.<id>." followed by
// lowercase letters (and, with Unicode, unicodeText) up to the message size,
// with an LF as the last byte in line mode and no other LF. Decimal digits and
// '.' are their own uppercase, so a reply starts with the same ids. Messages
// end on a character boundary, so a stream server never holds back a
// character's first bytes waiting for the rest.
type messageGen struct {
	worker   int
	template []byte // a whole message; the ids overwrite its start
	idEnd    int    // the ids may be written in template[:idEnd]
}

func newMessageGen(worker, size int, line, unicode bool) *messageGen {
	body := size
	if line {
		body--
	}
	t := make([]byte, 0, size)
	for len(t) < min(body, idRoom) {
		t = append(t, 'a'+byte(len(t)%26))
	}
	for unicode && len(t) < body {
		n := len(t)
		for _, r := range unicodeText {
			if len(t)+utf8.RuneLen(r) > body {
				break
			}
			t = utf8.AppendRune(t, r)
		}
		if len(t) == n {
			break
		}
	}
	for len(t) < body {
		t = append(t, 'a'+byte(len(t)%26))
	}
	if line {
		t = append(t, '\n')
	}
	return &messageGen{worker: worker, template: t, idEnd: body}
}

// append appends message number id to dst. It does not allocate if dst has
// room for the message.
func (g *messageGen) append(dst []byte, id uint64) []byte {
	start := len(dst)
	dst = append(dst, g.template...)
	var ids [idRoom]byte
	p := strconv.AppendInt(ids[:0], int64(g.worker), 10)
	p = append(p, '.')
	p = strconv.AppendUint(p, id, 10)
	p = append(p, '.')
	copy(dst[start:start+g.idEnd], p)
	return dst
}

// parseID returns the worker and id at the start of a message or reply, and
// whether there were ids to parse.
func parseID(p []byte) (worker int, id uint64, ok bool) {
	w, rest, ok := parseDecimal(p)
	if !ok || w > 1<<31 {
		return 0, 0, false
	}
	id, _, ok = parseDecimal(rest)
	return int(w), id, ok
}

// parseDecimal parses digits up to a '.' and returns the number and what
// follows the '.'.
func parseDecimal(p []byte) (n uint64, rest []byte, ok bool) {
	for i, c := range p {
		switch {
		case c == '.' && i > 0:
			return n, p[i+1:], true
		case c >= '0' && c <= '9' && i < 20:
			n = n*10 + uint64(c-'0')
		default:
			return 0, nil, false
		}
	}
	return 0, nil, false
}
