package imapwire_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapwire"
)

// parseCommand reads one command the way a server would, returning its
// arguments, with message bodies read into strings.
func parseCommand(d *imapwire.Decoder) (tag, name string, args any, err error) {
	tag, name, err = d.ReadCommand()
	if err != nil {
		return tag, name, nil, err
	}
	switch name {
	case "NOOP", "CAPABILITY", "LOGOUT", "IDLE", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "NAMESPACE", "STARTTLS":
		return tag, name, nil, d.End()
	case "FETCH", "UID FETCH":
		if err = d.SP(); err == nil {
			args, err = d.ReadFetch()
		}
	case "SEARCH", "UID SEARCH":
		args, err = d.ReadSearch()
	case "SORT", "UID SORT":
		args, err = d.ReadSort()
	case "THREAD", "UID THREAD":
		args, err = d.ReadThread()
	case "STORE", "UID STORE":
		if err = d.SP(); err == nil {
			args, err = d.ReadStore()
		}
	case "SELECT", "EXAMINE":
		if err = d.SP(); err == nil {
			args, err = d.ReadSelect()
		}
	case "LIST", "LSUB":
		if err = d.SP(); err == nil {
			args, err = d.ReadList(name == "LSUB")
		}
	case "STATUS":
		if err = d.SP(); err == nil {
			var mbox string
			var items []string
			mbox, items, err = d.ReadStatus()
			args = append([]string{mbox}, items...)
		}
	case "LOGIN":
		var u, p string
		if err = d.SP(); err != nil {
			break
		}
		if u, err = d.AString(); err != nil {
			break
		}
		if err = d.SP(); err != nil {
			break
		}
		if p, err = d.AString(); err != nil {
			break
		}
		args, err = []string{u, p}, d.End()
	case "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE":
		var m string
		if err = d.SP(); err != nil {
			break
		}
		if m, err = d.Mailbox(); err != nil {
			break
		}
		args, err = m, d.End()
	case "COPY", "MOVE", "UID COPY", "UID MOVE":
		var s imapwire.SeqSet
		var m string
		if err = d.SP(); err != nil {
			break
		}
		if s, err = d.SeqSet(); err != nil {
			break
		}
		if err = d.SP(); err != nil {
			break
		}
		if m, err = d.Mailbox(); err != nil {
			break
		}
		args, err = []any{s, m}, d.End()
	case "APPEND":
		var m string
		if err = d.SP(); err != nil {
			break
		}
		if m, err = d.Mailbox(); err != nil {
			break
		}
		msgs := []any{m}
		for {
			var msg *imapwire.AppendMessage
			msg, err = d.ReadAppendMessage()
			if err != nil || msg == nil {
				break
			}
			rec := appended{Flags: msg.Flags, Date: msg.Date}
			if msg.Body != nil {
				b, rerr := io.ReadAll(msg.Body)
				if rerr != nil {
					return tag, name, nil, rerr
				}
				rec.Body = string(b)
			} else {
				for {
					var p *imapwire.CatenatePart
					p, err = d.ReadCatenatePart()
					if err != nil || p == nil {
						break
					}
					if p.Text != nil {
						b, _ := io.ReadAll(p.Text)
						rec.Parts = append(rec.Parts, "TEXT "+string(b))
					} else {
						rec.Parts = append(rec.Parts, "URL "+p.URL)
					}
				}
				if err != nil {
					break
				}
			}
			msgs = append(msgs, rec)
		}
		args = msgs
	default:
		args, err = d.Args()
	}
	return tag, name, args, err
}

type appended struct {
	Flags []string
	Date  time.Time
	Body  string
	Parts []string
}

func seq(ranges ...uint32) imapwire.SeqSet {
	var s imapwire.SeqSet
	for i := 0; i+1 < len(ranges); i += 2 {
		s.Ranges = append(s.Ranges, imapwire.SeqRange{Start: ranges[i], Stop: ranges[i+1]})
	}
	return s
}

func TestDecoder_commands(t *testing.T) {
	date := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		name string
		want any
	}{
		{"a1 NOOP\r\n", "NOOP", nil},
		{"a1 noop\n", "NOOP", nil},
		{"a LOGIN joe \"pa\\\"ss\\\\\"\r\n", "LOGIN", []string{"joe", `pa"ss\`}},
		{"a LOGIN {3}\r\njoe {4+}\r\np ss\r\n", "LOGIN", []string{"joe", "p ss"}},
		{"a LOGIN \"\" ]x\r\n", "LOGIN", []string{"", "]x"}},
		{"a login {0}\r\n {0}\r\n\r\n", "LOGIN", []string{"", ""}},
		{"a SELECT inbox\r\n", "SELECT", &imapwire.SelectArgs{Mailbox: "INBOX"}},
		{"a SELECT \"InBoX\" (CONDSTORE)\r\n", "SELECT", &imapwire.SelectArgs{Mailbox: "INBOX", CondStore: true}},
		{"a SELECT x (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n", "SELECT",
			&imapwire.SelectArgs{Mailbox: "x", QResync: &imapwire.QResyncArgs{UIDValidity: 67890007, ModSeq: 20050715194045000, KnownUIDs: seq(41, 41, 43, 211, 214, 541)}}},
		{"a EXAMINE x (QRESYNC (1 2 (1:5 10:14)))\r\n", "EXAMINE",
			&imapwire.SelectArgs{Mailbox: "x", QResync: &imapwire.QResyncArgs{UIDValidity: 1, ModSeq: 2, KnownSeqs: seq(1, 5), KnownSeqUIDs: seq(10, 14)}}},
		{"a CREATE p&AOQA5A-\r\n", "CREATE", "pää"},
		{"a CREATE &-\r\n", "CREATE", "&"},
		{"a COPY 1:*,$ x\r\n", "COPY", nil}, // invalid: "$" only alone
		{"a UID MOVE 4:2,7 Trash\r\n", "UID MOVE", []any{seq(4, 2, 7, 7), "Trash"}},
		{"a COPY $ x\r\n", "COPY", []any{imapwire.SeqSet{Saved: true}, "x"}},
		{"a STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", "STATUS", []string{"blurdybloop", "UIDNEXT", "MESSAGES"}},
		{"a STATUS x ()\r\n", "STATUS", []string{"x"}},
		{"a STATUS x (size highestmodseq APPENDLIMIT)\r\n", "STATUS", []string{"x", "SIZE", "HIGHESTMODSEQ", "APPENDLIMIT"}},
		{"a LIST \"\" %\r\n", "LIST", &imapwire.ListArgs{Patterns: []string{"%"}}},
		{"a LIST \"\" ~foo\r\n", "LIST", &imapwire.ListArgs{Patterns: []string{"~foo"}}},
		{"a LIST \"\" !#$$&'+,-.0123456789:;<=>?@^_`|[}%*\r\n", "LIST", &imapwire.ListArgs{Patterns: []string{"!#$$&'+,-.0123456789:;<=>?@^_`|[}%*"}}},
		{"a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" inbox) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))\r\n", "LIST",
			&imapwire.ListArgs{Select: []string{"SUBSCRIBED", "RECURSIVEMATCH"}, Patterns: []string{"%", "INBOX"}, Return: []string{"CHILDREN"}, Status: []string{"MESSAGES", "UNSEEN"}, Extended: true}},
		{"a LIST \"\" \"\" RETURN ()\r\n", "LIST", &imapwire.ListArgs{Patterns: []string{""}, Return: []string{}, Extended: true}},
		{"a LSUB \"#news.\" comp.mail.*\r\n", "LSUB", &imapwire.ListArgs{Reference: "#news.", Patterns: []string{"comp.mail.*"}}},
		{"a FETCH 1:* ALL\r\n", "FETCH", &imapwire.FetchArgs{Seq: seq(1, 0), Items: []imapwire.FetchItem{{Kind: imapwire.FetchFlags}, {Kind: imapwire.FetchInternalDate}, {Kind: imapwire.FetchRFC822Size}, {Kind: imapwire.FetchEnvelope}}}},
		{"a FETCH 2 body\r\n", "FETCH", &imapwire.FetchArgs{Seq: seq(2, 2), Items: []imapwire.FetchItem{{Kind: imapwire.FetchBody}}}},
		{"a UID FETCH 1:4 (UID FLAGS BODY.PEEK[HEADER.FIELDS (From \"To\")]<0.100> BINARY[1.2] BINARY.SIZE[] BODY[1.2.MIME] RFC822.HEADER) (CHANGEDSINCE 12345 VANISHED)\r\n", "UID FETCH",
			&imapwire.FetchArgs{Seq: seq(1, 4), ChangedSince: 12345, HasChangedSince: true, Vanished: true, Items: []imapwire.FetchItem{
				{Kind: imapwire.FetchUID}, {Kind: imapwire.FetchFlags},
				{Kind: imapwire.FetchBodySection, Peek: true, Section: imapwire.Section{Specifier: "HEADER.FIELDS", Fields: []string{"From", "To"}}, Partial: &imapwire.Partial{Offset: 0, Count: 100}},
				{Kind: imapwire.FetchBinarySection, Section: imapwire.Section{Part: []uint32{1, 2}}},
				{Kind: imapwire.FetchBinarySize},
				{Kind: imapwire.FetchBodySection, Section: imapwire.Section{Part: []uint32{1, 2}, Specifier: "MIME"}},
				{Kind: imapwire.FetchRFC822Header, Peek: true},
			}}},
		{"a FETCH 1 BODY[]\r\n", "FETCH", &imapwire.FetchArgs{Seq: seq(1, 1), Items: []imapwire.FetchItem{{Kind: imapwire.FetchBodySection}}}},
		{"a FETCH 1 (BODY[3] BODY[TEXT])\r\n", "FETCH", &imapwire.FetchArgs{Seq: seq(1, 1), Items: []imapwire.FetchItem{{Kind: imapwire.FetchBodySection, Section: imapwire.Section{Part: []uint32{3}}}, {Kind: imapwire.FetchBodySection, Section: imapwire.Section{Specifier: "TEXT"}}}}},
		{"a STORE 2:4 +FLAGS (\\deleted $Junk)\r\n", "STORE", &imapwire.StoreArgs{Seq: seq(2, 4), Op: '+', Flags: []string{`\Deleted`, "$Junk"}}},
		{"a UID STORE 1 (UNCHANGEDSINCE 0) -flags.silent \\Seen \\Answered\r\n", "UID STORE", &imapwire.StoreArgs{Seq: seq(1, 1), Op: '-', Silent: true, Conditional: true, Flags: []string{`\Seen`, `\Answered`}}},
		{"a STORE 1 FLAGS ()\r\n", "STORE", &imapwire.StoreArgs{Seq: seq(1, 1), Flags: []string{}}},
		{"a SEARCH CHARSET utf-8 OR (FROM \"x\" 1:3) NOT SEEN SINCE 1-Feb-2024 UID $\r\n", "SEARCH", &imapwire.SearchArgs{Charset: "UTF-8", Key: and(
			imapwire.SearchKey{Kind: imapwire.SearchOr, Keys: []imapwire.SearchKey{
				and(imapwire.SearchKey{Kind: imapwire.SearchFrom, Text: "x"}, imapwire.SearchKey{Kind: imapwire.SearchSeqSet, Seq: seq(1, 3)}),
				{Kind: imapwire.SearchNot, Keys: []imapwire.SearchKey{{Kind: imapwire.SearchSeen}}}}},
			imapwire.SearchKey{Kind: imapwire.SearchSince, Date: date},
			imapwire.SearchKey{Kind: imapwire.SearchUID, Seq: imapwire.SeqSet{Saved: true}})}},
		{"a UID SEARCH RETURN (MIN COUNT SAVE PARTIAL -1:-100) MODSEQ \"/flags/\\\\draft\" all 620162338\r\n", "UID SEARCH", &imapwire.SearchArgs{
			Return: imapwire.SearchReturn{Given: true, Min: true, Count: true, Save: true, Partial: &imapwire.PartialRange{First: -1, Last: -100}},
			Key:    and(imapwire.SearchKey{Kind: imapwire.SearchModSeq, Field: `/flags/\draft`, EntryType: "all", Num: 620162338})}},
		{"a SEARCH RETURN () HEADER X-Foo {3}\r\nbar LARGER 10 KEYWORD $x\r\n", "SEARCH", &imapwire.SearchArgs{Return: imapwire.SearchReturn{Given: true},
			Key: and(imapwire.SearchKey{Kind: imapwire.SearchHeader, Field: "X-Foo", Text: "bar"}, imapwire.SearchKey{Kind: imapwire.SearchLarger, Num: 10}, imapwire.SearchKey{Kind: imapwire.SearchKeyword, Text: "$x"})}},
		{"a SORT (REVERSE DATE subject) UTF-8 ALL\r\n", "SORT", &imapwire.SearchArgs{Charset: "UTF-8",
			Sort: []imapwire.SortCriterion{{Key: "DATE", Reverse: true}, {Key: "SUBJECT"}}, Key: and(imapwire.SearchKey{Kind: imapwire.SearchAll})}},
		{"a UID THREAD references US-ASCII SEEN\r\n", "UID THREAD", &imapwire.SearchArgs{Charset: "US-ASCII", Thread: "REFERENCES", Key: and(imapwire.SearchKey{Kind: imapwire.SearchSeen})}},
		{"a APPEND saved-messages (\\Seen) \"05-Jul-1994 02:56:00 -0700\" {5}\r\nhello\r\n", "APPEND",
			[]any{"saved-messages", appended{Flags: []string{`\Seen`}, Date: time.Date(1994, 7, 5, 2, 56, 0, 0, time.FixedZone("", -7*3600)), Body: "hello"}}},
		{"a APPEND x {1+}\r\na {2}\r\nbc ~{3}\r\nd\x00f\r\n", "APPEND", []any{"x", appended{Body: "a"}, appended{Body: "bc"}, appended{Body: "d\x00f"}}},
		{"a APPEND x CATENATE (URL \"/a;uid=1\" TEXT {2+}\r\nhi)\r\n", "APPEND", []any{"x", appended{Parts: []string{"URL /a;uid=1", "TEXT hi"}}}},
		{"a ID (\"name\" \"imaplib\" \"x\" NIL)\r\n", "ID", []imapwire.Arg{{Kind: imapwire.ArgList, List: []imapwire.Arg{
			{Kind: imapwire.ArgString, Value: "name"}, {Kind: imapwire.ArgString, Value: "imaplib"}, {Kind: imapwire.ArgString, Value: "x"}, {Kind: imapwire.ArgAtom, Value: "NIL"}}}}},
		{"a NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (From)])))\r\n", "NOTIFY", []imapwire.Arg{{Kind: imapwire.ArgAtom, Value: "SET"},
			{Kind: imapwire.ArgList, List: []imapwire.Arg{{Kind: imapwire.ArgAtom, Value: "selected"}, {Kind: imapwire.ArgList, List: []imapwire.Arg{{Kind: imapwire.ArgAtom, Value: "MessageNew"},
				{Kind: imapwire.ArgList, List: []imapwire.Arg{{Kind: imapwire.ArgAtom, Value: "UID"}, {Kind: imapwire.ArgAtom, Value: "BODY.PEEK[HEADER.FIELDS (From)]"}}}}}}}}},
	}
	for _, tt := range tests {
		d := newDecoder(t, tt.in+"z NOOP\r\n", nil)
		tag, name, args, err := parseCommand(d.Decoder)
		if tt.want == nil && name != "NOOP" {
			if err == nil {
				t.Errorf("%q: no error, args %+v", tt.in, args)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if tag != "a" && tag != "a1" || name != tt.name {
			t.Errorf("%q: tag %q name %q", tt.in, tag, name)
		}
		if tt.want != nil && !reflect.DeepEqual(args, tt.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tt.in, args, tt.want)
		}
		if tag, name, _, err := parseCommand(d.Decoder); tag != "z" || name != "NOOP" || err != nil {
			t.Errorf("%q: next command: %q %q %v", tt.in, tag, name, err)
		}
	}
}

func and(keys ...imapwire.SearchKey) imapwire.SearchKey {
	return imapwire.SearchKey{Kind: imapwire.SearchAnd, Keys: keys}
}

// TestDecoder_invalid checks that each invalid command is refused with the
// expected reply type, and that the decoder then reads the next command.
func TestDecoder_invalid(t *testing.T) {
	tests := []struct {
		in, typ string
	}{
		{"\r\n", "BAD"},
		{"+ NOOP\r\n", "BAD"},
		{"a\r\n", "BAD"},
		{"a  NOOP\r\n", "BAD"},
		{"a NOOP x\r\n", "BAD"},
		{"a LOGIN \"unterminated\r\n", "BAD"},
		{"a LOGIN \"bad\\escape\" x\r\n", "BAD"},
		{"a LOGIN {3}x\r\n", "BAD"},
		{"a LOGIN x {3+}\r\nabc y\r\n", "BAD"},                  // junk after the literal
		{"a LOGIN x {3+}\r\na\x00c\r\n", "BAD"},                 // NUL in literal
		{"a LOGIN {1+}\r\n\x00 {1+}\r\nx {1+}\r\ny\r\n", "BAD"}, // chained literals skipped
		{"a LOGIN x ~{3+}\r\nabc\r\n", "BAD"},
		{"a LOGIN x \"a\x00\"\r\n", "BAD"},
		{"a SELECT \"IN\rBOX\"\r\n", "BAD"}, // CR is not a QUOTED-CHAR
		{"a CREATE \"a\rb\"\r\n", "BAD"},
		{"a SELECT &\r\n", "NO"},
		{"a SELECT a&b\r\n", "NO"},
		{"a SELECT &AGE-\r\n", "NO"},            // "a" encoded
		{"a SELECT &AOQ-&AOQ-\r\n", "NO"},       // two sequences
		{"a SELECT &2D0-\r\n", "NO"},            // lone high surrogate
		{"a SELECT &AOQ\r\n", "NO"},             // no "-"
		{"a SELECT &AOR-\r\n", "NO"},            // non-zero bits over
		{"a CREATE {2+}\r\n\xc3\xa4\r\n", "NO"}, // 8-bit without UTF8=ACCEPT
		{"a SELECT x (FOO)\r\n", "BAD"},
		{"a FETCH 1 (FOO)\r\n", "BAD"},
		{"a FETCH 0 FLAGS\r\n", "BAD"},
		{"a FETCH 1: FLAGS\r\n", "BAD"},
		{"a FETCH 1,,2 FLAGS\r\n", "BAD"},
		{"a FETCH 4294967296 FLAGS\r\n", "BAD"},
		{"a FETCH 1 BODY[MIME]\r\n", "BAD"},
		{"a FETCH 1 BODY[1.]\r\n", "BAD"},
		{"a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "BAD"},
		{"a FETCH 1 BODY[]<0.0>\r\n", "BAD"},
		{"a FETCH 1 BINARY[TEXT]\r\n", "BAD"},
		{"a FETCH 1 BODY.PEEK\r\n", "BAD"},
		{"a FETCH 1 (FLAGS\r\n", "BAD"},
		{"a FETCH 1 FLAGS (CHANGEDSINCE x)\r\n", "BAD"},
		{"a STORE 1 FLAGZ (\\Seen)\r\n", "BAD"},
		{"a STORE 1 +FLAGS (\\)\r\n", "BAD"},
		{"a SEARCH\r\n", "BAD"},
		{"a SEARCH FOO\r\n", "BAD"},
		{"a SEARCH FROM\r\n", "BAD"},
		{"a SEARCH OR SEEN\r\n", "BAD"},
		{"a SEARCH ()\r\n", "BAD"},
		{"a SEARCH SINCE 31-Feb-2024\r\n", "BAD"},
		{"a SEARCH SINCE 1-Foo-2024\r\n", "BAD"},
		{"a SEARCH RETURN (BOGUS) ALL\r\n", "BAD"},
		{"a SEARCH " + strings.Repeat("NOT ", 100) + "ALL\r\n", "BAD"},
		{"a SEARCH " + strings.Repeat("(", 100) + "ALL" + strings.Repeat(")", 100) + "\r\n", "BAD"},
		{"a SORT () UTF-8 ALL\r\n", "BAD"},
		{"a SORT (FOO) UTF-8 ALL\r\n", "BAD"},
		{"a STATUS x (BOGUS)\r\n", "BAD"},
		{"a APPEND x (\\Seen) \"31-Feb-2024 00:00:00 +0000\" {1}\r\n", "BAD"},
		{"a APPEND x\r\n", "BAD"},
		{"a APPEND x {200+}\r\n" + strings.Repeat("x", 200) + "\r\n", "NO"},
		{"a LIST \"\" (\r\n", "BAD"},
		{"a LIST \"\" x RETURN\r\n", "BAD"},
		{"a ID (\"x\"\r\n", "BAD"},
	}
	for _, tt := range tests {
		d := newDecoder(t, tt.in+"z NOOP\r\n", &imapwire.Options{MaxMessageBytes: 100, MaxDiscardBytes: 1 << 10})
		tag, _, args, err := parseCommand(d.Decoder)
		var ce *imapwire.CommandError
		if !errors.As(err, &ce) {
			t.Errorf("%q: got %v, %+v; want a CommandError", tt.in, err, args)
			continue
		}
		if ce.Type != tt.typ || ce.Fatal {
			t.Errorf("%q: got %v; want %s", tt.in, ce, tt.typ)
		}
		if tag == "" && strings.HasPrefix(tt.in, "a ") {
			t.Errorf("%q: no tag", tt.in)
		}
		if err := d.Discard(); err != nil {
			t.Errorf("%q: Discard: %v", tt.in, err)
			continue
		}
		if tag, name, _, err := parseCommand(d.Decoder); tag != "z" || name != "NOOP" || err != nil {
			t.Errorf("%q: after Discard: %q %q %v", tt.in, tag, name, err)
		}
	}
}

func TestDecoder_literals(t *testing.T) {
	// A synchronizing literal asks for a continuation; a non-synchronizing
	// one does not.
	d := newDecoder(t, "a LOGIN {1}\r\nx {1+}\r\ny\r\n", nil)
	if _, _, args, err := parseCommand(d.Decoder); err != nil || !reflect.DeepEqual(args, []string{"x", "y"}) {
		t.Fatalf("got %v, %v", args, err)
	}
	if *d.conts != 1 {
		t.Errorf("%d continuation requests, want 1", *d.conts)
	}

	// A refused synchronizing literal is not read: the client does not
	// send it.
	d = newDecoder(t, "a LOGIN {70000}\r\nz NOOP\r\n", nil)
	if _, _, _, err := parseCommand(d.Decoder); err == nil {
		t.Fatal("70000-octet literal accepted")
	}
	if *d.conts != 0 {
		t.Error("continuation request for a refused literal")
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if tag, _, _, err := parseCommand(d.Decoder); tag != "z" || err != nil {
		t.Fatalf("after refused literal: %q %v", tag, err)
	}

	// LITERAL-: a non-synchronizing literal over 4096 octets is BAD
	// [TOOBIG], and skipped.
	big := strings.Repeat("x", 5000)
	d = newDecoder(t, "a LOGIN {5000+}\r\n"+big+" x\r\nz NOOP\r\n", &imapwire.Options{LiteralMinus: true})
	_, _, _, err := parseCommand(d.Decoder)
	var ce *imapwire.CommandError
	if !errors.As(err, &ce) || ce.Code != "TOOBIG" {
		t.Fatalf("LITERAL- violation: %v", err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if tag, _, _, err := parseCommand(d.Decoder); tag != "z" || err != nil {
		t.Fatalf("after LITERAL- violation: %q %v", tag, err)
	}

	// A non-synchronizing literal too large to skip is fatal, and the
	// decoder does not read it.
	d = newDecoder(t, "a APPEND x {100000000+}\r\n"+big, &imapwire.Options{MaxMessageBytes: 1000, MaxDiscardBytes: 2000})
	_, _, _, err = parseCommand(d.Decoder)
	if !errors.As(err, &ce) || ce.Type != "NO" || ce.Code != "TOOBIG" {
		t.Fatalf("huge APPEND: %v", err)
	}
	if err := d.Discard(); !errors.As(err, &ce) || !ce.Fatal {
		t.Fatalf("Discard of a huge literal: %v", err)
	}
	if d.src.n > 4096+100 {
		t.Errorf("read %d octets", d.src.n)
	}

	// A line too long is fatal.
	d = newDecoder(t, "a LOGIN "+strings.Repeat("x", 2000)+"\r\n", &imapwire.Options{MaxLineBytes: 1000})
	if _, _, _, err := parseCommand(d.Decoder); !errors.As(err, &ce) || !ce.Fatal {
		t.Fatalf("line too long: %v", err)
	}

	// A streamed message the server does not read is skipped.
	d = newDecoder(t, "a APPEND x {5}\r\nhello\r\nz NOOP\r\n", nil)
	d.ReadCommand()
	d.SP()
	d.Mailbox()
	msg, err := d.ReadAppendMessage()
	if err != nil || msg.Body.Size() != 5 {
		t.Fatal(err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if tag, _, _, err := parseCommand(d.Decoder); tag != "z" || err != nil {
		t.Fatalf("after unread APPEND: %q %v", tag, err)
	}
}

func TestDecoder_limits(t *testing.T) {
	// Too many tokens.
	d := newDecoder(t, "a SEARCH"+strings.Repeat(" ALL", 200)+"\r\nz NOOP\r\n", &imapwire.Options{MaxTokens: 100})
	var ce *imapwire.CommandError
	if _, _, _, err := parseCommand(d.Decoder); !errors.As(err, &ce) || ce.Code != "LIMIT" {
		t.Fatalf("too many tokens: %v", err)
	}
	// A command made long by literals.
	in := "a ID (" + strings.Repeat("{1+}\r\nx ", 2000) + ")\r\nz NOOP\r\n"
	d = newDecoder(t, in, &imapwire.Options{MaxCommandBytes: 4096})
	if _, _, _, err := parseCommand(d.Decoder); !errors.As(err, &ce) || ce.Code != "LIMIT" {
		t.Fatalf("long command: %v", err)
	}
	if err := d.Discard(); err != nil {
		t.Fatal(err)
	}
	if tag, _, _, err := parseCommand(d.Decoder); tag != "z" || err != nil {
		t.Fatalf("after long command: %q %v", tag, err)
	}
}

func TestDecoder_utf8(t *testing.T) {
	d := newDecoder(t, "a CREATE \"pää\"\r\nb CREATE &AOQ-\r\nc CREATE \"\xff\"\r\n", &imapwire.Options{UTF8: true})
	for _, want := range []string{"pää", "&AOQ-"} {
		if _, _, args, err := parseCommand(d.Decoder); err != nil || args != want {
			t.Errorf("got %v, %v; want %q", args, err, want)
		}
	}
	if _, _, _, err := parseCommand(d.Decoder); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

// TestDecoder_clients checks commands exactly as imaplib and imaptest send
// them.
func TestDecoder_clients(t *testing.T) {
	in := strings.Join([]string{
		// Python imaplib
		"KDEF1 CAPABILITY",
		"KDEF2 LOGIN user \"p@ss word\"",
		"KDEF3 SELECT INBOX",
		"KDEF4 UID SEARCH ALL",
		"KDEF5 FETCH 1 (RFC822)",
		"KDEF6 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])",
		"KDEF7 STORE 1 +FLAGS (\\Deleted)",
		"KDEF8 APPEND INBOX () \" 1-Feb-2024 12:00:00 +0000\" {3}\r\nabc",
		"KDEF9 LIST \"\" \"*\"",
		"KDEF10 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)",
		"KDEF11 SEARCH CHARSET UTF-8 SUBJECT {4}\r\n\xc3\xa4\xc3\xa4",
		"KDEF12 ID NIL",
		// imaptest
		"1 search or 1 uid 3",
		"2 search (3) uid 4",
		"3 search *:3",
		"4 fetch 1:2 (uid body.peek[])",
		"5 uid fetch 1:* (flags) (changedsince 1)",
		"6 append box (\\seen \\flagged) catenate (url \"/box/;uid=1/;section=header\" text {6}\r\nsuffix)",
		"7 append box {5}\r\nbody1 {5}\r\nbody2",
		"8 notify set status (mailboxes box2 (MessageNew MessageExpunge FlagChange))",
		"9 store 2 +flags \\deleted",
		"10 search 1,4,*",
		"11 list () \"/\" \"box/test4\"",
		"12 fetch 1 (binary.peek[1]<0.10> binary.size[1])",
		"13 esearch",
		"14 search return (partial 1:10) all",
		"15 sort return (count) (arrival) us-ascii all",
		"16 search modseq 5",
		"17 thread orderedsubject utf-8 all",
		"18 enable qresync condstore",
		"19 select box (qresync (1 1))",
		"",
	}, "\r\n")
	d := newDecoder(t, in, nil)
	for {
		tag, name, _, err := parseCommand(d.Decoder)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && name != "ESEARCH" {
			t.Errorf("%s %s: %v", tag, name, err)
			if err := d.Discard(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestDecoder_searchDepth checks that the default depth lets clients nest
// 100 parenthesized lists (one level each) and chain 99 ORs, as go-imap's
// client writes an OR of many keys, and refuses one level more.
func TestDecoder_searchDepth(t *testing.T) {
	tests := []struct {
		name, keys string
		ok         bool
	}{
		{"99 lists", strings.Repeat("(", 99) + "ALL" + strings.Repeat(")", 99), true},
		{"101 lists", strings.Repeat("(", 101) + "ALL" + strings.Repeat(")", 101), false},
		{"99 ORs", strings.Repeat("OR FROM a ", 99) + "ALL", true},
		{"100 ORs", strings.Repeat("OR FROM a ", 100) + "ALL", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDecoder(t, "a SEARCH "+tc.keys+"\r\n", nil)
			_, _, _, err := parseCommand(d.Decoder)
			if tc.ok && err != nil {
				t.Fatalf("SEARCH %s: %v; want it read", tc.name, err)
			}
			var ce *imapwire.CommandError
			if !tc.ok && (!errors.As(err, &ce) || ce.Type != "BAD") {
				t.Fatalf("SEARCH %s: %v; want BAD", tc.name, err)
			}
		})
	}
}
