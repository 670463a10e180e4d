package imapmsg_test

import (
	"bufio"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

// crlf turns the LF line endings of a test message into CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// render returns what write writes with an Encoder.
func render(t testing.TB, utf8 bool, write func(e *imapwire.Encoder)) string {
	t.Helper()
	var sb strings.Builder
	w := bufio.NewWriter(&sb)
	e := imapwire.NewEncoder(w)
	e.SetUTF8(utf8)
	write(e)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func envelope(t testing.TB, msg string) string {
	t.Helper()
	p := imapmsg.Parse([]byte(msg))
	return render(t, false, func(e *imapwire.Encoder) { imapmsg.WriteEnvelope(e, p.Envelope) })
}

func bodyStructure(t testing.TB, msg string, extended bool) string {
	t.Helper()
	p := imapmsg.Parse([]byte(msg))
	return render(t, false, func(e *imapwire.Encoder) { imapmsg.WriteBodyStructure(e, p, extended) })
}
