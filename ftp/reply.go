package ftp

import (
	"bufio"
	"errors"
	"io"
	"net/textproto"
	"strconv"
	"strings"
)

// The limits of one reply a client reads: a server that sends more is
// broken or hostile, and the connection is given up.
const (
	maxReadReplyBytes = 1 << 20
	maxReadReplyLines = 10000
)

// readReply reads one reply (RFC 959 §4.2): either a single line
// "123 text", or a multi-line reply that starts with "123-text" and ends
// with the first line that starts with the same code and a space, "123
// text"; the lines between may start with anything. A line may end in
// CRLF or in LF alone. The text returned is the text of the first line,
// each line between as it was sent, and the text of the last line, joined
// by "\n". A reply that is malformed, longer than maxReadReplyBytes or has
// more than maxReadReplyLines lines is a textproto.ProtocolError; EOF within a
// reply is io.ErrUnexpectedEOF.
func readReply(r *bufio.Reader) (code int, text string, err error) {
	budget := maxReadReplyBytes
	line, err := readReplyLine(r, &budget)
	if err != nil {
		return 0, "", err
	}
	code, ok := parseReplyCode(line)
	if !ok || (len(line) > 3 && line[3] != ' ' && line[3] != '-') {
		return 0, "", badReplyLine("malformed reply", line)
	}
	if len(line) <= 3 || line[3] == ' ' {
		return code, replyText(line), nil
	}
	var sb strings.Builder
	sb.WriteString(line[4:])
	for n := 1; ; n++ {
		if n >= maxReadReplyLines {
			return 0, "", textproto.ProtocolError("ftp: reply of more than " + strconv.Itoa(maxReadReplyLines) + " lines")
		}
		next, err := readReplyLine(r, &budget)
		if err != nil {
			return 0, "", err
		}
		sb.WriteByte('\n')
		if isLastReplyLine(next, line[:3]) {
			sb.WriteString(replyText(next))
			return code, sb.String(), nil
		}
		sb.WriteString(next)
	}
}

// isLastReplyLine reports whether line ends a multi-line reply with code: it
// is the code followed by a space, or the code alone (as some servers end
// one).
func isLastReplyLine(line, code string) bool {
	return strings.HasPrefix(line, code) && (len(line) == 3 || line[3] == ' ')
}

func replyText(line string) string {
	if len(line) <= 4 {
		return ""
	}
	return line[4:]
}

// parseReplyCode parses the three digits that start a reply line: the first of
// 1 to 5, the second of 0 to 5 (RFC 959 §4.2), the third any.
func parseReplyCode(line string) (int, bool) {
	if len(line) < 3 {
		return 0, false
	}
	a, b, c := line[0], line[1], line[2]
	if a < '1' || a > '5' || b < '0' || b > '5' || !isDigit(c) {
		return 0, false
	}
	return int(a-'0')*100 + int(b-'0')*10 + int(c-'0'), true
}

// readReplyLine reads one line, without its LF or CRLF, taking its length
// from *budget.
func readReplyLine(r *bufio.Reader, budget *int) (string, error) {
	var buf []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(frag) > *budget {
			return "", textproto.ProtocolError("ftp: reply longer than " + strconv.Itoa(maxReadReplyBytes) + " bytes")
		}
		*budget -= len(frag)
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	buf = buf[:len(buf)-1]
	if n := len(buf); n > 0 && buf[n-1] == '\r' {
		buf = buf[:n-1]
	}
	return string(buf), nil
}

// badReplyLine returns a ProtocolError holding what, and line quoted and cut to
// a readable length.
func badReplyLine(what, line string) error {
	if len(line) > 80 {
		line = line[:80] + "..."
	}
	return textproto.ProtocolError("ftp: " + what + " " + strconv.Quote(line))
}
