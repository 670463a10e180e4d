package imapmsg_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
)

// TestWriteBodyStructure_dovecot checks the BODY and BODYSTRUCTURE test
// vectors of Dovecot's src/lib-imap/test-imap-bodystructure.c
// (testdata/dovecot/README), compared without regard to case: Dovecot
// writes its defaults in lower case, this package in upper case as the RFC
// examples do.
func TestWriteBodyStructure_dovecot(t *testing.T) {
	b, err := os.ReadFile("testdata/dovecot/parse_tests.json")
	if err != nil {
		t.Fatal(err)
	}
	var tests []struct{ Message, Bodystructure, Body string }
	if err := json.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		msg := crlf(tt.Message)
		if got, want := bodyStructure(t, msg, true), "("+tt.Bodystructure+")"; !strings.EqualFold(got, want) {
			t.Errorf("%d: BODYSTRUCTURE\ngot  %s\nwant %s", i, got, want)
		}
		if got, want := bodyStructure(t, msg, false), "("+tt.Body+")"; !strings.EqualFold(got, want) {
			t.Errorf("%d: BODY\ngot  %s\nwant %s", i, got, want)
		}
	}
}

// TestParseAddressList_dovecot checks the first address parsed from each
// input of Dovecot's src/lib-mail/test-message-address.c, with missing
// parts filled as Dovecot fills them for ENVELOPE (testdata/dovecot/README).
// Dovecot tells an empty display name from none; IMAP clients do not, and
// this package writes NIL for both.
func TestParseAddressList_dovecot(t *testing.T) {
	b, err := os.ReadFile("testdata/dovecot/address_tests.json")
	if err != nil {
		t.Fatal(err)
	}
	var tests []struct {
		Input                        string
		Name, Route, Mailbox, Domain *string
	}
	if err := json.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, tt := range tests {
		l := imapmsg.ParseAddressList(tt.Input)
		if len(l) == 0 {
			t.Errorf("%q: no address", tt.Input)
			continue
		}
		want := imapmsg.Address{Name: str(tt.Name), Route: str(tt.Route), Mailbox: str(tt.Mailbox), Host: str(tt.Domain)}
		if l[0] != want {
			t.Errorf("%q:\ngot  %+v\nwant %+v", tt.Input, l[0], want)
		}
	}
}
