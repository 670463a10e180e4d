package store

import (
	"encoding/json"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseMessageMeta(t *testing.T) {
	date := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		msg  string
		want messageMeta
	}{{
		name: "plain",
		msg: "From: Bob <bob@example.org>\r\nTo: alice@example.org, Carol <carol@example.org>\r\nCc: dave@example.org\r\n" +
			"Subject: Hello there\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n" +
			"The quick\r\n\r\n  brown fox.\r\n",
		want: messageMeta{
			from:      []Address{{Name: "Bob", Address: "bob@example.org"}},
			to:        []Address{{Address: "alice@example.org"}, {Name: "Carol", Address: "carol@example.org"}},
			cc:        []Address{{Address: "dave@example.org"}},
			subject:   "Hello there",
			date:      date,
			messageID: "1@example.org",
			snippet:   "The quick brown fox.",
			search:    []byte("bob bob@example.org alice@example.org carol carol@example.org dave@example.org hello there the quick brown fox."),
		},
	}, {
		name: "encoded words",
		msg: "From: =?UTF-8?Q?Zo=C3=AB?= <zoe@example.org>\r\nSubject: =?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?bWVudQ==?=\r\n" +
			"To: =?windows-1252?Q?J=FCrgen?= <j@example.org>\r\n\r\nx\r\n",
		want: messageMeta{
			from:    []Address{{Name: "Zoë", Address: "zoe@example.org"}},
			to:      []Address{{Name: "Jürgen", Address: "j@example.org"}},
			subject: "Cafémenu",
			snippet: "x",
			search:  []byte("zoë zoe@example.org jürgen j@example.org  cafémenu x"),
		},
	}, {
		name: "raw latin-1 header",
		msg:  "From: J\xfcrgen <j@example.org>\r\nSubject: Gr\xfc\xdfe\r\n\r\nbody\r\n",
		want: messageMeta{
			from:    []Address{{Name: "Jürgen", Address: "j@example.org"}},
			subject: "Grüße",
			snippet: "body",
			search:  []byte("jürgen j@example.org   grüße body"),
		},
	}, {
		name: "multipart with attachment",
		msg: "From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n" +
			"--XX\r\nContent-Type: multipart/alternative; boundary=\"YY\"\r\n\r\n" +
			"--YY\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 au =\r\nlait\r\n" +
			"--YY\r\nContent-Type: text/html\r\n\r\n<p>ignored</p>\r\n--YY--\r\n" +
			"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n" +
			"--XX\r\nContent-Type: image/png; name=b.png\r\n\r\nPNG\r\n" +
			"--XX--\r\nepilogue\r\n",
		want: messageMeta{
			from:        []Address{{Address: "a@example.org"}},
			subject:     "parts",
			attachments: 2,
			snippet:     "Café au lait",
			search:      []byte("a@example.org   parts café au lait"),
		},
	}, {
		name: "html only",
		msg: "From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			"PGh0bWw+PGhlYWQ+PHRpdGxlPlQ8L3RpdGxlPjxzdHlsZT5we2NvbG9yOnJlZH08L3N0eWxlPjwvaGVhZD4KPGJvZHk+PHA+SGVsbG8mbmJzcDs8Yj5Xb3JsZDwvYj4mYW1wOzwvcD48cD5OZXh0PC9wPjwvYm9keT48L2h0bWw+\r\n",
		want: messageMeta{
			from:    []Address{{Address: "a@example.org"}},
			snippet: "Hello World& Next",
			search:  []byte("a@example.org    hello world& next"),
		},
	}, {
		name: "text attachment is no text",
		msg: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nfile\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nreal text\r\n--b--\r\n",
		want: messageMeta{attachments: 1, snippet: "real text", search: []byte("    real text")},
	}, {
		name: "bad from and date",
		msg:  "From: Bob's mail <bob@\r\nDate: yesterday\r\nSubject: x\r\n\r\n",
		want: messageMeta{from: []Address{{Name: "Bob's mail <bob@"}}, subject: "x", search: []byte("bob's mail <bob@   x ")},
	}, {
		name: "no header",
		msg:  "\r\nJust a body",
		want: messageMeta{snippet: "Just a body", search: []byte("    just a body")},
	}, {
		name: "no body",
		msg:  "Subject: only",
		want: messageMeta{subject: "only", search: []byte("   only ")},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseMessageMeta([]byte(tc.msg))
			want := tc.want
			want.encode()
			if diff := cmp.Diff(&want, got, cmp.AllowUnexported(messageMeta{}), cmpopts.IgnoreFields(messageMeta{}, "sort")); diff != "" {
				t.Errorf("parseMessageMeta: (-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseMessageMeta_bounds(t *testing.T) {
	long := "Subject: " + strings.Repeat("é", 100) + "\r\n\r\n" + strings.Repeat("Word ", 40<<10)
	m := parseMessageMeta([]byte(long))
	if n := utf8.RuneCountInString(m.snippet); n != maxSnippetRunes {
		t.Errorf("snippet of %d characters; want %d", n, maxSnippetRunes)
	}
	if len(m.search) > maxSearchBytes || len(m.search) < maxSearchBytes-8 || !utf8.Valid(m.search) {
		t.Errorf("search text of %d bytes (valid UTF-8: %v); want about %d", len(m.search), utf8.Valid(m.search), maxSearchBytes)
	}
	// A message of many parts stops being walked after maxMetaParts.
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 3 * maxMetaParts {
		b.WriteString("--b\r\nContent-Disposition: attachment\r\n\r\nx\r\n")
	}
	if m := parseMessageMeta([]byte(b.String())); m.attachments != maxMetaParts-1 {
		t.Errorf("%d attachments counted; want %d", m.attachments, maxMetaParts-1)
	}
}

func FuzzMessageMeta(f *testing.F) {
	for _, s := range []string{
		"From: Bob <bob@example.org>\r\nSubject: =?UTF-8?Q?Caf=C3=A9?=\r\n\r\nhello\r\n",
		"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\na\r\n--XX\r\nContent-Disposition: attachment; filename=x\r\n\r\nb\r\n--XX--\r\n",
		"Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\n--a--",
		"Content-Type: text/html; charset=koi8-r\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>=C1=\r\n<style>x",
		"Content-Type: text/plain; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n//5oAGkA\r\n",
		"To: \xff\xfe, =?x?B?====?=\r\nDate: Mon, 02 Jan 2006 15:04:05\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var m messageMeta
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("parse panicked: %v", r)
				}
			}()
			m.parse(msg)
		}()
		m.encode()
		if utf8.RuneCountInString(m.snippet) > maxSnippetRunes {
			t.Errorf("snippet of %d characters", utf8.RuneCountInString(m.snippet))
		}
		if len(m.search) > maxSearchBytes {
			t.Errorf("search text of %d bytes", len(m.search))
		}
		for _, s := range []string{m.subject, m.snippet, string(m.search), m.messageID, m.fromJSON, m.toJSON, m.ccJSON} {
			if !utf8.ValidString(s) {
				t.Errorf("%q is not UTF-8", s)
			}
		}
		for _, s := range []string{m.subject, m.snippet} {
			if strings.ContainsAny(s, "\r\n") {
				t.Errorf("%q holds a line break", s)
			}
		}
		if strings.ToLower(string(m.search)) != string(m.search) {
			t.Errorf("search text %q is not lower case", m.search)
		}
	})
}

// The meta is parsed outside the store's lock; what the parse costs
// beside a delivery of the same message (BenchmarkStoreDeliver in mailtest
// delivers the first).
func BenchmarkParseMessageMeta(b *testing.B) {
	for _, tc := range []struct{ name, msg string }{
		{"10KB-text", "From: bench@example.org\r\nTo: rcpt@example.org\r\nSubject: benchmark\r\n\r\n" +
			strings.Repeat(strings.Repeat("x", 78)+"\r\n", (10<<10)/80)},
		{"notification", "Received: from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.com with ESMTPS id abc123\r\n" +
			"\tfor <rcpt@example.org>; Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
			"From: \"Example Service\" <noreply@example.org>\r\nTo: Some User <rcpt@example.org>\r\nSubject: Reset your password\r\n" +
			"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <20060102150405.abc123@example.org>\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" +
			strings.Repeat("Hello, someone asked to reset the password of your account. Follow the link below.\r\n", 10) +
			"https://example.org/reset?token=0123456789abcdef0123456789abcdef\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			msg := []byte(tc.msg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				parseMessageMeta(msg)
			}
		})
	}
}

// collapseReference is collapseSpace written plainly, for valid UTF-8.
func collapseReference(s string, lower bool) string {
	out := strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 || r >= 0x2000 && r <= 0x200a || r == 0x2028 || r == 0x2029 || r == 0x3000
	}), " ")
	if lower {
		out = strings.ToLower(out)
	}
	return out
}

// collapseSpace, which copies printable ASCII eight bytes at a time, gives
// what the plain way gives.
func FuzzCollapseSpace(f *testing.F) {
	for _, s := range []string{
		"", " ", "Hello,   World!\r\n\tNext LINE", strings.Repeat("AbCdEfGhIj", 5) + "\x7f" + strings.Repeat("Z", 17),
		"Ünïcödé\u00a0spaces\u2003and\u3000ȺȾ", "@[`{ AZaz\x01\x1f~",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, lower bool) {
		if !utf8.ValidString(s) {
			return
		}
		want := collapseReference(s, lower)
		got := string(collapseSpace([]byte("prefix "), []byte(s), len(s)*2+16, lower))
		if got != "prefix "+want {
			t.Fatalf("collapseSpace(%q, %v) = %q; want %q", s, lower, got, "prefix "+want)
		}
		// A bound cuts the same text short.
		if n := len(want) / 2; n > 0 {
			cut := string(collapseSpace(nil, []byte(s), n, lower))
			if len(cut) < n || len(cut) > n+2*utf8.UTFMax || !strings.HasPrefix(want+" ", cut) && !strings.HasPrefix(want, cut) {
				t.Fatalf("collapseSpace(%q, %v) bound %d = %q; want a prefix of %q of about that length", s, lower, n, cut, want)
			}
		}
	})
}

// simpleAddress parses as net/mail does what it parses.
func FuzzSimpleAddress(f *testing.F) {
	for _, s := range []string{
		"bob@example.org", "<bob@example.org>", "Bob Smith <bob@example.org>", `"Smith, Bob" <bob@example.org>`,
		"Bob  Smith\t<b.o.b+x@mail-1.example.org>", `"" <a@b>`, "=?UTF-8?Q?Zo=C3=AB?= <z@x>", "a.@b", "a@b.", "<a@b>>", `"a\"b" <a@b>`,
	} {
		f.Add(s)
	}
	parser := &mail.AddressParser{}
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := simpleAddress(s)
		if !ok {
			return
		}
		list, err := parser.ParseList(s)
		if err != nil || len(list) != 1 {
			t.Fatalf("simpleAddress(%q) = %+v; net/mail: %v, %v", s, a, list, err)
		}
		if list[0].Name != a.Name || list[0].Address != a.Address {
			t.Fatalf("simpleAddress(%q) = %+v; net/mail: %+v", s, a, *list[0])
		}
	})
}

// The meta's JSON of addresses is JSON that decodes to the addresses, and
// a date of the usual form is read as net/mail reads it.
func FuzzAddressesJSON(f *testing.F) {
	f.Add("Bob \"the\" \\ Smith\x01\u2028<>&", "bob@example.org", "Mon, 2 Jan 2006 15:04:05 +0100")
	f.Fuzz(func(t *testing.T, name, addr, date string) {
		if !utf8.ValidString(name) || !utf8.ValidString(addr) {
			return
		}
		list := []Address{{Name: name, Address: addr}, {Address: addr}}
		var back []Address
		if err := json.Unmarshal([]byte(addressesJSON(list)), &back); err != nil || !cmp.Equal(back, list) {
			t.Fatalf("addressesJSON(%+v) = %s, which decodes to %+v, %v", list, addressesJSON(list), back, err)
		}
		if got := parseDate(date); !got.IsZero() {
			want, err := mail.ParseDate(date)
			if err != nil || !want.Equal(got) {
				t.Fatalf("parseDate(%q) = %v; net/mail: %v, %v", date, got, want, err)
			}
		}
	})
}
