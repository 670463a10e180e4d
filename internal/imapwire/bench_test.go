package imapwire_test

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
	"github.com/inetkit/inetkit/lineproto"
)

// repeatReader returns the same command forever.
type repeatReader struct {
	s string
	i int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.i:])
		n += c
		r.i = (r.i + c) % len(r.s)
	}
	return n, nil
}

func benchParse(b *testing.B, cmd string) {
	r := lineproto.NewReader(fakeConn{}, &repeatReader{s: cmd}, 0, 0, 0)
	d := imapwire.NewDecoder(r, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(cmd)))
	for b.Loop() {
		if _, _, _, err := parseCommand(d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseFetch(b *testing.B) {
	benchParse(b, "a12 FETCH 1:100 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.PEEK[HEADER.FIELDS (From To Subject Date)])\r\n")
}

func BenchmarkParseUIDFetch(b *testing.B) {
	benchParse(b, "a13 UID FETCH 4827:4925 (UID FLAGS BODY.PEEK[]) (CHANGEDSINCE 12345)\r\n")
}

func BenchmarkParseSearch(b *testing.B) {
	benchParse(b, "a14 UID SEARCH RETURN (COUNT) CHARSET UTF-8 OR FROM \"alice\" SUBJECT \"report\" SINCE 1-Feb-2024 NOT DELETED\r\n")
}

// BenchmarkEncodeFetch writes the FETCH response of a message of 10 KB.
func BenchmarkEncodeFetch(b *testing.B) {
	body := strings.Repeat("x", 10<<10)
	w := bufio.NewWriterSize(io.Discard, 4096)
	e := imapwire.NewEncoder(w)
	flags := []string{`\Seen`, "$Forwarded"}
	date := time.Date(2024, 2, 1, 15, 4, 5, 0, time.UTC)
	item := imapwire.FetchItem{Kind: imapwire.FetchBodySection, Peek: true}
	r := strings.NewReader(body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r.Reset(body)
		e.Star().Number(12).Atom(" FETCH (UID ").Number(4827).Atom(" FLAGS ").Flags(flags).
			Atom(" INTERNALDATE ").DateTime(date).Atom(" RFC822.SIZE ").Uint(uint64(len(body))).SP().
			FetchItemName(item).SP().Literal(r, int64(len(body))).Special(')')
		if err := e.CRLF(); err != nil {
			b.Fatal(err)
		}
	}
}
