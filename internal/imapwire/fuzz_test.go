package imapwire_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/inetkit/inetkit/internal/imapwire"
)

// FuzzParseCommand feeds arbitrary input to the decoder, followed by a
// NOOP: it must never panic, never read more than the caps allow, and,
// after an error that is not fatal, Discard must bring it to the NOOP
// unless the input itself holds more commands or an unfinished literal.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"a LOGIN {3}\r\njoe {4+}\r\np ss\r\n",
		"a UID FETCH 1:4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> BINARY[1.2]) (CHANGEDSINCE 1 VANISHED)\r\n",
		"a SEARCH CHARSET utf-8 OR (FROM \"x\" 1:3) NOT SEEN SINCE 1-Feb-2024 UID $\r\n",
		"a UID SEARCH RETURN (MIN COUNT SAVE PARTIAL -1:-100) MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
		"a SORT (REVERSE DATE subject) UTF-8 ALL\r\n",
		"a APPEND x (\\Seen) \" 1-Feb-2024 12:00:00 +0000\" {1+}\r\na ~{2+}\r\nbc\r\n",
		"a APPEND x CATENATE (URL \"/a;uid=1\" TEXT {2+}\r\nhi)\r\n",
		"a LIST (SUBSCRIBED) \"\" (\"%\" inbox) RETURN (CHILDREN STATUS (MESSAGES))\r\n",
		"a SELECT x (QRESYNC (1 2 3:4 (1:5 10:14)))\r\n",
		"a STORE 1 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $x)\r\n",
		"a NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From)])))\r\n",
		"a CREATE &AOQ-&-\r\n", "a SELECT a&b\r\n", "a LOGIN x {3+}\r\nabc y\r\n",
	} {
		f.Add(s)
	}
	opts := &imapwire.Options{MaxLineBytes: 512, MaxLiteralBytes: 256, MaxMessageBytes: 1024,
		MaxCommandBytes: 2048, MaxDiscardBytes: 4096, MaxDepth: 8, MaxTokens: 200}
	f.Fuzz(func(t *testing.T, in string) {
		d := newDecoder(t, in+"\r\nz NOOP\r\n", opts)
		for range 100 {
			before := d.src.n
			_, _, _, err := parseCommand(d.Decoder)
			if err == nil {
				continue
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return
			}
			var ce *imapwire.CommandError
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if ce.Fatal {
				return
			}
			if err := d.Discard(); err != nil {
				var ce *imapwire.CommandError
				if errors.As(err, &ce) && ce.Fatal || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return
				}
				t.Fatalf("Discard: %v", err)
			}
			// A command reads at most its lines, its literals and what
			// Discard may skip; the reader's buffer adds a little.
			if d.src.n-before > 2048+1024*100+4096+8192 {
				t.Fatalf("read %d octets for one command", d.src.n-before)
			}
		}
	})
}

// FuzzUTF7 checks that DecodeUTF7(EncodeUTF7(s)) == s for valid UTF-8,
// and that whatever DecodeUTF7 accepts is what EncodeUTF7 gives back.
func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"", "pää", "&", "a&b", "🐀/台北", "&AOQ-", "&2D3cAA-", "a\tb\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if utf8.ValidString(s) {
			enc := imapwire.EncodeUTF7(s)
			dec, err := imapwire.DecodeUTF7(enc)
			if err != nil || dec != s {
				t.Fatalf("%q: encoded %q, decoded %q, %v", s, enc, dec, err)
			}
			for i := 0; i < len(enc); i++ {
				if enc[i] < 0x20 || enc[i] > 0x7e {
					t.Fatalf("%q: encoded %q is not printable ASCII", s, enc)
				}
			}
		}
		if dec, err := imapwire.DecodeUTF7(s); err == nil {
			if !utf8.ValidString(dec) {
				t.Fatalf("%q decoded to invalid UTF-8 %q", s, dec)
			}
			if enc := imapwire.EncodeUTF7(dec); enc != s {
				t.Fatalf("%q decoded to %q, which encodes as %q", s, dec, enc)
			}
		} else if strings.IndexByte(s, '&') < 0 && isPrintable(s) {
			t.Fatalf("%q refused: %v", s, err)
		}
	})
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
