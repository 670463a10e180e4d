package imapd

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func init() {
	register("APPEND", stateLoggedIn, cmdAppend)
}

var (
	errAppendNUL = &Error{Code: "UNKNOWN-CTE", Text: "NUL in a message sent as a literal: send it as a literal8 (BINARY)"}
	errTryCreate = &Error{Code: "TRYCREATE", Text: "Mailbox doesn't exist."}
)

// cmdAppend answers APPEND (RFC 9051 §6.3.12) with MULTIAPPEND (RFC 3502),
// CATENATE (RFC 4469), BINARY's literal8 (RFC 3516 §4.4) and APPENDUID (RFC
// 4315). Every message is read before any is stored, and they are stored
// together or not at all. Each literal has LiteralReadTimeout to arrive.
func cmdAppend(c *conn, tag string) error {
	if err := c.dec.SP(); err != nil {
		return err
	}
	name, err := c.dec.Mailbox()
	if err != nil {
		return err
	}
	var msgs []*AppendMessage
	var total int64
	for {
		m, err := c.dec.ReadAppendMessage()
		if err != nil {
			return err
		}
		if m == nil {
			break
		}
		flags, err := appendFlags(m.Flags)
		if err != nil {
			return err
		}
		body, err := c.appendBody(m, c.appendLimit()-total)
		if err != nil {
			return c.appendFailed(name, err)
		}
		total += int64(len(body))
		msgs = append(msgs, &AppendMessage{Flags: flags, Date: m.Date, Body: body})
	}
	res, err := c.user.Append(c.ctx, name, msgs)
	if errors.Is(err, ErrNonExistent) {
		return errTryCreate
	}
	if err != nil {
		return err
	}
	code := ""
	if res != nil && len(res.Dest) > 0 {
		code = "APPENDUID " + strconv.FormatUint(uint64(res.UIDValidity), 10) + " " + imapwire.SeqSetOf(res.Dest...).String()
	}
	return c.ok(tag, code, "Append completed.")
}

// appendFlags returns flags without \Recent, which a client cannot set
// (RFC 3501 §2.3.2). A "\" flag that is not a system flag is refused, as
// Dovecot does.
func appendFlags(flags []string) ([]string, error) {
	out := flags[:0:0]
	for _, f := range flags {
		switch f {
		case `\Recent`:
		case `\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`:
			out = append(out, f)
		default:
			if strings.HasPrefix(f, `\`) {
				return nil, &Error{Type: "BAD", Text: "Invalid system flag " + f}
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// appendFailed returns the answer to an APPEND to name whose message
// could not be read as err says: TRYCREATE if name does not exist, which
// Dovecot checks first (a CATENATE URL is not looked at before the
// mailbox), else err.
func (c *conn) appendFailed(name string, err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Type == "BAD" {
		return err
	}
	if _, serr := c.user.Status(c.ctx, name); errors.Is(serr, ErrNonExistent) {
		return errTryCreate
	}
	return err
}

// appendBody reads the message of m: its literal, or its CATENATE parts
// joined. A message over limit octets is TOOBIG.
func (c *conn) appendBody(m *imapwire.AppendMessage, limit int64) ([]byte, error) {
	if m.Body != nil {
		return c.readLiteral(m.Body, limit)
	}
	var buf []byte
	for {
		p, err := c.dec.ReadCatenatePart()
		if err != nil {
			return nil, err
		}
		if p == nil {
			return buf, nil
		}
		var part []byte
		if p.Text != nil {
			part, err = c.readLiteral(p.Text, limit-int64(len(buf)))
		} else {
			part, err = c.catenateURL(p.URL)
			if err == nil && int64(len(buf)+len(part)) > limit {
				err = ErrTooBig
			}
		}
		if err != nil {
			return nil, err
		}
		buf = append(buf, part...)
	}
}

// readLiteral reads a streamed literal of at most limit octets within
// LiteralReadTimeout. A literal (not a literal8) must hold no NUL (RFC
// 9051 §4.3).
func (c *conn) readLiteral(lr *imapwire.LiteralReader, limit int64) ([]byte, error) {
	if lr.Size() > limit {
		return nil, ErrTooBig
	}
	r := c.lc.Reader()
	r.SetDeadline(time.Now().Add(c.srv.literalReadTimeout()))
	// Grown as the octets arrive, not allocated at the announced size: a
	// client that announces a large literal and sends nothing costs
	// nothing.
	buf, err := io.ReadAll(lr)
	r.SetDeadline(time.Time{})
	if err != nil {
		return nil, err
	}
	if int64(len(buf)) != lr.Size() {
		return nil, io.ErrUnexpectedEOF
	}
	if !lr.Binary() {
		if bytes.IndexByte(buf, 0) >= 0 {
			return nil, errAppendNUL
		}
		// A message is text in RFC 5322 form, whose lines end in CRLF, and
		// RFC822.SIZE and the sections count it so (RFC 9051 §2.3.4):
		// bare LF line ends are made CRLF, as Dovecot serves them. A
		// literal8 is kept as sent.
		buf = crlfLines(buf)
	}
	return buf, nil
}

// crlfLines returns b with every bare LF made CRLF; b itself if it has
// none.
func crlfLines(b []byte) []byte {
	bare := 0
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			bare++
		}
	}
	if bare == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+bare)
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}
