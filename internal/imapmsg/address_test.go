package imapmsg_test

import (
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

func addressList(t testing.TB, s string) string {
	t.Helper()
	return render(t, false, func(e *imapwire.Encoder) {
		env := &imapmsg.Envelope{From: imapmsg.ParseAddressList(s)}
		imapmsg.WriteEnvelope(e, env)
	})
}

func TestParseAddressList(t *testing.T) {
	tests := []struct{ in, want string }{
		{"user@domain", `((NIL NIL "user" "domain"))`},
		{"Real Name <user@domain>", `(("Real Name" NIL "user" "domain"))`},
		{`"Doe, John" <john@example.org>`, `(("Doe, John" NIL "john" "example.org"))`},
		{`"quoted \"name\"" <a@b>`, `(("quoted \"name\"" NIL "a" "b"))`},
		{"<user@domain>", `((NIL NIL "user" "domain"))`},
		{"user@domain (Real Name)", `(("Real Name" NIL "user" "domain"))`},
		// Comments and folding whitespace inside an address are ignored.
		{"<user (c)@ (c) domain.org>", `((NIL NIL "user" "domain.org"))`},
		{"Name (comment) <user@domain> (more)", `(("Name" NIL "user" "domain"))`},
		{"a@b,\r\n c@d", `((NIL NIL "a" "b")(NIL NIL "c" "d"))`},
		{"Folded\r\n Name <a@b>", `(("Folded Name" NIL "a" "b"))`},
		// Routes (RFC 5322 §4.4 obs-route).
		{"<@route:user@domain>", `((NIL "@route" "user" "domain"))`},
		{"Name <@r1,@r2:user@domain>", `(("Name" "@r1,@r2" "user" "domain"))`},
		{"<@r1, ,@r2 : user@domain>", `((NIL "@r1,@r2" "user" "domain"))`},
		// Groups, empty groups, groups among mailboxes.
		{"undisclosed-recipients:;", `((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))`},
		{"a@b, Group: c@d, E <e@f>;, g@h", `((NIL NIL "a" "b")(NIL NIL "Group" NIL)(NIL NIL "c" "d")("E" NIL "e" "f")(NIL NIL NIL NIL)(NIL NIL "g" "h"))`},
		{"Group: a@b", `((NIL NIL "Group" NIL)(NIL NIL "a" "b")(NIL NIL NIL NIL))`},
		// Encoded words stay encoded; obsolete phrases with dots.
		{"=?utf-8?q?J=C3=B6rg?= <j@example.org>", `(("=?utf-8?q?J=C3=B6rg?=" NIL "j" "example.org"))`},
		{"John Q. Public <jqp@example.org>", `(("John Q. Public" NIL "jqp" "example.org"))`},
		// Obsolete local parts and domains.
		{`"a b"@example.org`, `((NIL NIL "a b" "example.org"))`},
		{"first . last @ example . org", `((NIL NIL "first.last" "example.org"))`},
		{"user@[192.0.2.1]", `((NIL NIL "user" "[192.0.2.1]"))`},
		// Missing parts are filled, never NIL (NIL host means a group).
		{"user", `((NIL NIL "user" "MISSING_DOMAIN"))`},
		{"<user>", `((NIL NIL "user" "MISSING_DOMAIN"))`},
		{"@domain", `((NIL NIL "MISSING_MAILBOX" "domain"))`},
		{"Just A Name", `(("Just A Name" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))`},
		{`"only quoted"`, `(("only quoted" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))`},
		{"<>", `((NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))`},
		{"Name <user@domain", `(("Name" NIL "user" "SYNTAX_ERROR"))`},
		{"<@route user@domain>", `((NIL "INVALID_ROUTE" "user" "domain"))`},
		{"", `NIL`},
		{" (just a comment) ", `NIL`},
		{"a@b, ", `((NIL NIL "a" "b"))`},
		{"a@b garbage, c@d", `((NIL NIL "a" "b"))`},
	}
	for _, tt := range tests {
		got := addressList(t, tt.in)
		want := `(NIL NIL ` + tt.want + ` ` + tt.want + ` ` + tt.want + ` NIL NIL NIL NIL NIL)`
		if tt.want == "NIL" {
			want = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
		}
		if got != want {
			t.Errorf("%q:\ngot  %s\nwant %s", tt.in, got, want)
		}
	}
}

func TestWriteEnvelope_raw(t *testing.T) {
	tests := []struct{ name, header, want string }{
		{"8-bit Latin-1 subject is a literal of the raw octets",
			"Subject: caf\xe9 cr\xe8me\nFrom: a@b\n",
			"(NIL {10}\r\ncaf\xe9 cr\xe8me ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)"},
		{"encoded words stay encoded",
			"Subject: =?iso-8859-1?q?caf=E9?=\n",
			`(NIL "=?iso-8859-1?q?caf=E9?=" NIL NIL NIL NIL NIL NIL NIL NIL)`},
		{"folded subject, whitespace runs made one space",
			"Subject: a\n\t b  c \nDate: Mon, 1 Jan 2024\n  00:00:00 +0000\n",
			`("Mon, 1 Jan 2024  00:00:00 +0000" "a b c" NIL NIL NIL NIL NIL NIL NIL NIL)`},
		{"empty subject", "Subject:\n", `(NIL "" NIL NIL NIL NIL NIL NIL NIL NIL)`},
		{"case of names, last string field wins, address fields merge",
			"SUBJECT: one\nsubject: two\nto: a@b\nTO: c@d\nmessage-id: <x@y>\nIN-REPLY-TO: <p@q>\n",
			`(NIL "two" NIL NIL NIL ((NIL NIL "a" "b")(NIL NIL "c" "d")) NIL NIL "<p@q>" "<x@y>")`},
		{"no header", "", `(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := envelope(t, crlf(tt.header+"\nbody\n"))
			if got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	// With UTF-8 enabled, valid UTF-8 is quoted.
	p := imapmsg.Parse([]byte(crlf("Subject: caf\u00e9\n\n")))
	got := render(t, true, func(e *imapwire.Encoder) { imapmsg.WriteEnvelope(e, p.Envelope) })
	if want := "(NIL \"caf\u00e9\" NIL NIL NIL NIL NIL NIL NIL NIL)"; got != want {
		t.Errorf("UTF-8: got %q, want %q", got, want)
	}
}
