//go:build unix

package peers

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
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

// TestStartSMTPSink_portTaken checks that a server which cannot bind its
// port (taken between freePort and the bind) is started again on another.
// It changes freePort, so it must not run in parallel.
func TestStartSMTPSink_portTaken(t *testing.T) {
	Need(t, "smtp-sink")
	var taken []string
	freePort = func(t testing.TB, ip string) int {
		port := freeLoopbackPort(t, ip)
		if len(taken) == 0 {
			// Bound, without SO_REUSEADDR, but not listening: the
			// sink cannot bind it, and connections are refused.
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { syscall.Close(fd) })
			sa := &syscall.SockaddrInet4{Port: port}
			copy(sa.Addr[:], net.ParseIP(ip).To4())
			if err := syscall.Bind(fd, sa); err != nil {
				t.Fatal(err)
			}
		}
		taken = append(taken, net.JoinHostPort(ip, fmt.Sprint(port)))
		return port
	}
	defer func() { freePort = freeLoopbackPort }()
	s := StartSMTPSink(t)
	if len(taken) != 2 || s.Addr != taken[1] {
		t.Errorf("StartSMTPSink listens on %s after trying %v; want the second address", s.Addr, taken)
	}
	msgs, err := s.Messages(t.Context(), 0)
	if err != nil || len(msgs) != 0 {
		t.Errorf("Messages() = %v, %v; want none", msgs, err)
	}
}
