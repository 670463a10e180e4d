package imap_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/imap"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     *imap.URL
	}{
		{"server", "imap://mail.example.org", &imap.URL{Scheme: "imap", Host: "mail.example.org:143"}},
		{"imaps", "imaps://u@[::1]/", &imap.URL{Scheme: "imaps", User: "u", Host: "[::1]:993"}},
		{"curl password and UID", "imap://user:pa%3Ass@127.0.0.1:1143/INBOX;UID=7",
			&imap.URL{Scheme: "imap", User: "user", Password: "pa:ss", Host: "127.0.0.1:1143", Mailbox: "INBOX", UID: 7}},
		// RFC 5092 §6 examples.
		{"rfc5092 mailbox", "imap://minbari.example.org/gray-council;UIDVALIDITY=385759045/;UID=20/;PARTIAL=0.1024",
			&imap.URL{Scheme: "imap", Host: "minbari.example.org:143", Mailbox: "gray-council", UIDValidity: 385759045, UID: 20}},
		{"rfc5092 auth", "imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%8F%B0%E5%8C%97",
			&imap.URL{Scheme: "imap", Host: "psicorp.example.org:143", Mailbox: "~peter/日本語/台北"}},
		{"rfc5092 ;AUTH=*", "imap://;AUTH=*@minbari.example.org/gray%20council?SUBJECT%20shadows",
			&imap.URL{Scheme: "imap", Auth: "*", Host: "minbari.example.org:143", Mailbox: "gray council", Search: "SUBJECT shadows"}},
		{"rfc5092 user;AUTH", "imap://michael;AUTH=GSSAPI@minbari.example.org/users.*",
			&imap.URL{Scheme: "imap", User: "michael", Auth: "GSSAPI", Host: "minbari.example.org:143", Mailbox: "users.*"}},
		{"section", "imap://h/INBOX/;uid=3/;section=1.2",
			&imap.URL{Scheme: "imap", Host: "h:143", Mailbox: "INBOX", UID: 3, Section: "1.2"}},
		{"escaped semicolon", "imap://h/a%3Bb", &imap.URL{Scheme: "imap", Host: "h:143", Mailbox: "a;b"}},
		{"IPv6 zone", "imap://[fe80::1%25eth0]/", &imap.URL{Scheme: "imap", Host: "[fe80::1%eth0]:143"}},
		{"escaped percent in host", "imAp://%25", &imap.URL{Scheme: "imap", Host: "%:143"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := imap.ParseURL(tc.in)
			if err != nil {
				t.Fatalf("ParseURL(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseURL(%q) (-want +got):\n%s", tc.in, diff)
			}
			again, err := imap.ParseURL(got.String())
			if err != nil || !cmp.Equal(got, again) {
				t.Errorf("ParseURL(%q).String() = %q, which parses to %+v, %v", tc.in, got.String(), again, err)
			}
		})
	}
}

func TestParseURL_invalid(t *testing.T) {
	for _, in := range []string{
		"http://h/INBOX",
		"imap:INBOX",
		"imap:///INBOX",
		"imap://h:99999/",
		"imap://h/INBOX;UID=0",
		"imap://h/INBOX;UID=x",
		"imap://h/INBOX;UIDVALIDITY=-1",
		"imap://h/INBOX;FOO=1",
		"imap://h/INBOX;UID",
		"imap://h/%zz",
		"imap://u;AUTH=@h/",
	} {
		if u, err := imap.ParseURL(in); err == nil {
			t.Errorf("ParseURL(%q) = %+v; want an error", in, u)
		}
	}
}
