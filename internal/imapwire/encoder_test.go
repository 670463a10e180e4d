package imapwire_test

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
)

func TestEncoder(t *testing.T) {
	d := time.Date(2024, 2, 1, 15, 4, 5, 0, time.FixedZone("", -(7*3600+30*60)))
	tests := []struct {
		f    func(e *imapwire.Encoder)
		want string
	}{
		{func(e *imapwire.Encoder) { e.StatusResponse("a1", "OK", "UIDNEXT 4", "SELECT completed") }, "a1 OK [UIDNEXT 4] SELECT completed\r\n"},
		{func(e *imapwire.Encoder) { e.StatusResponse("", "BAD", "", "bad\r\nline") }, "* BAD bad  line\r\n"},
		{func(e *imapwire.Encoder) { e.StatusResponse("a", "OK", "", "") }, "a OK OK\r\n"},
		{func(e *imapwire.Encoder) {
			e.AString("atom").SP().AString("").SP().AString("a b").SP().AString(`q"\`).SP().AString("nil").SP().AString("x]")
		}, `atom "" "a b" "q\"\\" "nil" x]`},
		{func(e *imapwire.Encoder) {
			e.String("atom").SP().String("ä").SP().String("a\r\nb").SP().NString("", false)
		}, "\"atom\" {2}\r\nä {4}\r\na\r\nb NIL"},
		{func(e *imapwire.Encoder) { e.SetUTF8(true); e.String("ä").SP().Mailbox("pää") }, `"ä" "pää"`},
		{func(e *imapwire.Encoder) { e.Mailbox("pää").SP().Mailbox("a&b").SP().Mailbox("inbox") }, `p&AOQA5A- a&-b inbox`},
		{func(e *imapwire.Encoder) { e.Flags([]string{`\Seen`, "$Junk"}).SP().Flags(nil) }, `(\Seen $Junk) ()`},
		{func(e *imapwire.Encoder) { e.SeqSet(imapwire.SeqSetOf(5, 1, 2, 3, 9, 10, 3)) }, "1:3,5,9:10"},
		{func(e *imapwire.Encoder) { e.DateTime(d).SP().Date(d) }, `"01-Feb-2024 15:04:05 -0730" 1-Feb-2024`},
		{func(e *imapwire.Encoder) {
			e.Literal(strings.NewReader("abcdef"), 3).SP().Literal8(strings.NewReader("\x00"), 1)
		}, "{3}\r\nabc ~{1}\r\n\x00"},
		{func(e *imapwire.Encoder) { e.Continuation("Ready") }, "+ Ready\r\n"},
		{func(e *imapwire.Encoder) {
			e.FetchItemName(imapwire.FetchItem{Kind: imapwire.FetchBodySection, Peek: true,
				Section: imapwire.Section{Part: []uint32{1}, Specifier: "HEADER.FIELDS", Fields: []string{"From", "x y"}}, Partial: &imapwire.Partial{Offset: 5, Count: 10}})
		}, `BODY[1.HEADER.FIELDS (From "x y")]<5>`},
		{func(e *imapwire.Encoder) { e.FetchItemName(imapwire.FetchItem{Kind: imapwire.FetchRFC822Size}) }, "RFC822.SIZE"},
	}
	for i, tt := range tests {
		if got := encode(tt.f); got != tt.want {
			t.Errorf("%d: got %q, want %q", i, got, tt.want)
		}
	}
	e := imapwire.NewEncoder(bufio.NewWriter(io.Discard))
	if err := e.Literal(strings.NewReader("ab"), 3).CRLF(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short literal: %v", err)
	}
}

func TestUTF7(t *testing.T) {
	for _, tt := range []struct{ utf8, utf7 string }{
		{"", ""}, {"INBOX", "INBOX"}, {"&", "&-"}, {"a&b", "a&-b"}, {"pää", "p&AOQA5A-"},
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"}, {"🐀", "&2D3cAA-"}, {"a\tb", "a&AAk-b"},
		{"ä&ö", "&AOQ-&-&APY-"},
	} {
		if got := imapwire.EncodeUTF7(tt.utf8); got != tt.utf7 {
			t.Errorf("EncodeUTF7(%q) = %q, want %q", tt.utf8, got, tt.utf7)
		}
		if got, err := imapwire.DecodeUTF7(tt.utf7); got != tt.utf8 || err != nil {
			t.Errorf("DecodeUTF7(%q) = %q, %v", tt.utf7, got, err)
		}
	}
	for _, bad := range []string{"&", "a&b", "&-&", "&AOQ", "&AOQ-&AOQ-", "&AGE-", "&2D0-", "&3AA-", "&AOR-", "&AOQA-", "&-\x7f", "\xc3\xa4", "&A-", "&*-", "a\tb"} {
		if got, err := imapwire.DecodeUTF7(bad); err == nil {
			t.Errorf("DecodeUTF7(%q) = %q, want an error", bad, got)
		}
	}
}

func TestSeqSet(t *testing.T) {
	s := seq(5, 3, 10, 0, 1, 1)
	for _, tt := range []struct {
		n, max uint32
		want   bool
	}{{1, 20, true}, {2, 20, false}, {4, 20, true}, {10, 20, true}, {20, 20, true}, {21, 20, false}, {0, 20, false}, {7, 7, true}} {
		if got := s.Contains(tt.n, tt.max); got != tt.want {
			t.Errorf("Contains(%d, %d) = %v", tt.n, tt.max, got)
		}
	}
	if got := s.Normalize(12).String(); got != "1,3:5,10:12" {
		t.Errorf("Normalize = %q", got)
	}
	if got := s.Normalize(4).String(); got != "1,3:4" {
		t.Errorf("Normalize(4) = %q", got)
	}
	if got := seq(7, 0).Normalize(5).String(); got != "5" { // UID n:* past the end
		t.Errorf("7:* over 5 = %q", got)
	}
	var nums []uint32
	for n := range s.All(11) {
		nums = append(nums, n)
	}
	if !reflect.DeepEqual(nums, []uint32{1, 3, 4, 5, 10, 11}) || s.Len(11) != 6 {
		t.Errorf("All = %v", nums)
	}
	if got := imapwire.SeqSetOf(4294967295, 4294967295, 1).String(); got != "1,4294967295" {
		t.Errorf("SeqSetOf = %q", got)
	}
}

// TestRoundTrip encodes values and decodes them back.
func TestRoundTrip(t *testing.T) {
	names := []string{"INBOX", "a&b", "pää", "x y", `q"\`, "🐀/台北", "", "]"}
	sets := []imapwire.SeqSet{seq(1, 1), seq(1, 0, 5, 7), imapwire.SeqSetOf(1, 2, 3, 7, 9, 10), {Saved: true}}
	keys := []string{
		`OR (FROM "x" 1:3) NOT SEEN`,
		`HEADER "X-A" "{}" SINCE 1-Feb-2024 UID 4:*`,
		`TEXT {3}` + "\r\na\r\n" + ` LARGER 5`,
		`MODSEQ "/flags/\\draft" all 5 KEYWORD $x OR OR ALL DELETED (NEW OLD)`,
	}
	for _, utf8 := range []bool{false, true} {
		var in strings.Builder
		for _, n := range names {
			in.WriteString(encode(func(e *imapwire.Encoder) {
				e.SetUTF8(utf8)
				e.Atom("a CREATE ").Mailbox(n).CRLF()
			}))
		}
		d := newDecoder(t, in.String(), &imapwire.Options{UTF8: utf8})
		for _, n := range names {
			_, _, got, err := parseCommand(d.Decoder)
			if err != nil || got != n {
				t.Errorf("utf8 %v: mailbox %q came back as %q, %v", utf8, n, got, err)
			}
		}
	}
	for _, s := range sets {
		d := newDecoder(t, encode(func(e *imapwire.Encoder) { e.Atom("a COPY ").SeqSet(s).Atom(" x").CRLF() }), nil)
		_, _, got, err := parseCommand(d.Decoder)
		if err != nil || !reflect.DeepEqual(got.([]any)[0], s) {
			t.Errorf("set %v came back as %v, %v", s, got, err)
		}
	}
	for _, k := range keys {
		d := newDecoder(t, "a SEARCH "+k+"\r\n", nil)
		_, _, got, err := parseCommand(d.Decoder)
		if err != nil {
			t.Errorf("%q: %v", k, err)
			continue
		}
		key := got.(*imapwire.SearchArgs).Key
		d = newDecoder(t, "a SEARCH "+key.String()+"\r\n", nil)
		_, _, again, err := parseCommand(d.Decoder)
		if err != nil || !reflect.DeepEqual(again.(*imapwire.SearchArgs).Key, key) {
			t.Errorf("%q: encoded as %q, came back as %+v, %v", k, key.String(), again, err)
		}
	}
}
