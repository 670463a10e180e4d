//go:build unix

package peers

import (
	"slices"
	"strings"
	"testing"
)

// A dump as smtp-sink 3.7 writes it.
const sampleDump = "X-Client-Addr: 127.0.0.1\nX-Client-Proto: ESMTP\nX-Helo-Args: client.example.org\n" +
	"X-Mail-Args: <bob@example.org> BODY=8BITMIME\nX-Rcpt-Args: <alice@example.org>\nX-Rcpt-Args: <carol@example.org>\n" +
	"Received: from client.example.org ([127.0.0.1])\n\tby sink.example.org (smtp-sink) with ESMTP id 32be657b;\n" +
	"\tWed, 25 Nov 2026 19:16:10 +0000 (UTC)\nSubject: t\n\n.\n..x\nend\n\n"

func TestParseDump(t *testing.T) {
	m, err := parseDump(sampleDump)
	want := SinkMessage{Helo: "client.example.org", MailFrom: "<bob@example.org> BODY=8BITMIME",
		RcptTo: []string{"<alice@example.org>", "<carol@example.org>"}, Text: "Subject: t\n\n.\n..x\nend\n"}
	if err != nil || m.Helo != want.Helo || m.MailFrom != want.MailFrom || !slices.Equal(m.RcptTo, want.RcptTo) || m.Text != want.Text {
		t.Errorf("parseDump() = %+v, %v; want %+v", m, err, want)
	}
	for _, bad := range []string{
		"",
		"X-Client-Addr: 127.0.0.1\n",
		"Unexpected: header\n",
		"Received: from x\n\tby y\n",
		strings.TrimSuffix(sampleDump, "\n"),
	} {
		if m, err := parseDump(bad); err == nil {
			t.Errorf("parseDump(%q) = %+v; want an error", bad, m)
		}
	}
}

func FuzzParseDump(f *testing.F) {
	f.Add(sampleDump)
	f.Add("Received: a\n\tb\n\tc\n\n")
	f.Fuzz(func(t *testing.T, dump string) {
		m, err := parseDump(dump)
		if err != nil {
			return
		}
		if !strings.HasSuffix(dump, m.Text+"\n") || len(m.Text) >= len(dump) {
			t.Errorf("parseDump(%q).Text = %q: not the end of the dump", dump, m.Text)
		}
	})
}
