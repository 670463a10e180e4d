package imapmsg_test

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/imapmsg"
	"github.com/inetkit/inetkit/internal/imapwire"
)

// message10K is a 10 KB message: a text part and a base64 attachment.
func message10K() []byte {
	var sb strings.Builder
	sb.WriteString(crlf(`From: Alice <alice@example.org>
To: Bob <bob@example.org>, Carol <carol@example.org>
Subject: =?utf-8?q?Quarterly_report?=
Date: Mon, 1 Jan 2024 12:00:00 +0000
Message-ID: <report@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_boundary"

--=_boundary
Content-Type: text/plain; charset=utf-8

`))
	for sb.Len() < 4000 {
		sb.WriteString("The numbers are in the attachment; read them before Monday.\r\n")
	}
	sb.WriteString(crlf("--=_boundary\nContent-Type: application/pdf; name=report.pdf\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=report.pdf\n\n"))
	for sb.Len() < 10200 {
		sb.WriteString("JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZUR\r\n")
	}
	sb.WriteString("--=_boundary--\r\n")
	return []byte(sb.String())
}

func BenchmarkParse(b *testing.B) {
	msg := message10K()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		imapmsg.Parse(msg)
	}
}

// BenchmarkWriteFetch writes the ENVELOPE and BODYSTRUCTURE of a parsed
// (cached) message, as a FETCH of them does.
func BenchmarkWriteFetch(b *testing.B) {
	root := imapmsg.Parse(message10K())
	e := imapwire.NewEncoder(bufio.NewWriter(io.Discard))
	b.ReportAllocs()
	for b.Loop() {
		imapmsg.WriteEnvelope(e, root.Envelope)
		imapmsg.WriteBodyStructure(e, root, true)
	}
}
