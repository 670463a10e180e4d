//go:build unix

package peers_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/smtp"
)

var smtpOpts = &smtp.ClientOptions{Timeout: clientTimeout, LocalName: "client.example.org"}

// crlf returns msg as it must go on the wire before dot-stuffing: every
// bare CR and bare LF made CRLF, and a CRLF at the end.
func crlf(msg string) string {
	s := strings.ReplaceAll(msg, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\n", "\r\n")
	if !strings.HasSuffix(s, "\r\n") {
		s += "\r\n"
	}
	return s
}

// sinkText returns msg as smtp-sink keeps it when the client sent it
// right: CRLF line endings, which the sink turns into LF.
func sinkText(msg string) string {
	return strings.ReplaceAll(crlf(msg), "\r\n", "\n")
}

func TestSMTP_SendMail(t *testing.T) {
	t.Parallel()
	sink := peers.StartSMTPSink(t)
	ctx := testContext(t)
	// The default TLS policy, opportunistic, sends in plaintext to a
	// server that offers no STARTTLS, as smtp-sink.
	res, err := smtp.SendMail(ctx, sink.Addr, smtpOpts, "bob@example.org",
		[]string{"alice@example.org", "carol@example.org"}, strings.NewReader(msgHello))
	if err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	if !slices.Equal(res.Accepted, []string{"alice@example.org", "carol@example.org"}) || len(res.Refused) != 0 || res.Reply != "250 2.0.0 Ok" {
		t.Errorf("SendMail() = %+v; want both accepted, none refused, reply \"250 2.0.0 Ok\"", res)
	}
	msgs, err := sink.Messages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if len(msgs) != 1 || m.Helo != "client.example.org" || !strings.HasPrefix(m.MailFrom, "<bob@example.org>") ||
		!slices.Equal(m.RcptTo, []string{"<alice@example.org>", "<carol@example.org>"}) || m.Text != sinkText(msgHello) {
		t.Errorf("the sink kept %+v; want one message from bob to alice and carol, with text %q", msgs, sinkText(msgHello))
	}
}

// wireData splits what a client sent after its first DATA command at the
// first CRLF "." CRLF: the message text, dot-stuffed, and the rest.
func wireData(t *testing.T, sent []byte) (data, after string) {
	t.Helper()
	_, rest, ok := bytes.Cut(sent, []byte("\r\nDATA\r\n"))
	if !ok {
		t.Fatalf("no DATA command in %q", sent)
	}
	// The first line can be "." too: look for the end with the CRLF
	// before it.
	rest = append([]byte("\r\n"), rest...)
	i := bytes.Index(rest, []byte("\r\n.\r\n"))
	if i < 0 {
		t.Fatalf("no end of data in %q", rest)
	}
	return string(rest[2 : i+2]), string(rest[i+5:])
}

// unstuff checks that data has only CRLF line endings and returns it with
// the dot-stuffing removed.
func unstuff(t *testing.T, data string) string {
	t.Helper()
	lines := strings.SplitAfter(data, "\r\n")
	var b strings.Builder
	for _, l := range lines {
		body := strings.TrimSuffix(l, "\r\n")
		if strings.ContainsAny(body, "\r\n") {
			t.Errorf("a bare CR or LF on the wire: %q", l)
		}
		b.WriteString(strings.TrimPrefix(l, "."))
	}
	return b.String()
}

// TestSMTP_dotsAndLineEndings is HARDENING S15: bare CR and LF become
// CRLF, lines starting with "." are stuffed, and an end-of-data line in
// the text (with SMTP commands after it, the smuggling pattern) stays in
// the text. It checks both the bytes on the wire, through a recording
// proxy, and what smtp-sink kept.
func TestSMTP_dotsAndLineEndings(t *testing.T) {
	t.Parallel()
	const msg = "From: bob@example.org\r\nSubject: S15\r\n\r\n" +
		"bare LF then dot\n.\nafter\n" +
		"bare CR then dot\r.\rafter\r" +
		".leading dot\r\n..two dots\r\n.\r\n" +
		"end of data inside\r\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n" +
		"LF then CRLF dot\n.\r\n" +
		"CR CR LF\r\r\n" +
		".no newline at the end"
	sink := peers.StartSMTPSink(t)
	ctx := testContext(t)
	for i, r := range []func() io.Reader{
		func() io.Reader { return strings.NewReader(msg) },
		// One byte per Write: a CR and its LF come in different writes.
		func() io.Reader { return iotest.OneByteReader(strings.NewReader(msg)) },
	} {
		proxy := startRecordingProxy(t, sink.Addr)
		res, err := smtp.SendMail(ctx, proxy.Addr, smtpOpts, "bob@example.org", []string{"alice@example.org"}, r())
		if err != nil {
			t.Fatalf("SendMail #%d: %v", i, err)
		}
		if res.Reply != "250 2.0.0 Ok" {
			t.Errorf("SendMail #%d: reply %q; want \"250 2.0.0 Ok\"", i, res.Reply)
		}
		data, after := wireData(t, proxy.Sent())
		if got := unstuff(t, data); got != crlf(msg) {
			t.Errorf("SendMail #%d: the text on the wire, unstuffed, is\n%q; want\n%q", i, got, crlf(msg))
		}
		if after != "QUIT\r\n" {
			t.Errorf("SendMail #%d: after the end of data the client sent %q; want QUIT", i, after)
		}
		msgs, err := sink.Messages(ctx, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != i+1 {
			t.Fatalf("the sink kept %d messages after %d sent: %+v", len(msgs), i+1, msgs)
		}
		if got := msgs[i]; got.Text != sinkText(msg) || !slices.Equal(got.RcptTo, []string{"<alice@example.org>"}) {
			t.Errorf("SendMail #%d: the sink kept\n%q to %v; want\n%q to alice", i, got.Text, got.RcptTo, sinkText(msg))
		}
	}
}

func TestSMTP_refusedRecipients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want smtp.Error
	}{
		{"soft", []string{"-r", "RCPT"}, smtp.Error{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: command failed"}},
		{"hard", []string{"-f", "RCPT", "-B", "550 5.1.1 No such user here"}, smtp.Error{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := peers.StartSMTPSink(t, tc.args...)
			ctx := testContext(t)
			to := []string{"alice@example.org", "carol@example.org"}
			res, err := smtp.SendMail(ctx, sink.Addr, smtpOpts, "bob@example.org", to, strings.NewReader(msgHello))
			var serr *smtp.Error
			if !errors.As(err, &serr) || *serr != tc.want || serr.Temporary() != (tc.want.Code < 500) {
				t.Errorf("SendMail: %v; want a *smtp.Error %+v", err, tc.want)
			}
			if res == nil {
				t.Fatal("SendMail returned no result")
			}
			if len(res.Accepted) != 0 || len(res.Refused) != 2 || res.Reply != "" {
				t.Errorf("SendMail() = %+v; want both refused, no reply", res)
			}
			for _, r := range to {
				if e := res.Refused[r]; e == nil || *e != tc.want {
					t.Errorf("Refused[%q] = %v; want %+v", r, e, tc.want)
				}
			}
			// The transaction was reset: the sink keeps nothing.
			if msgs, err := sink.Messages(ctx, 0); err != nil || len(msgs) != 0 {
				t.Errorf("the sink kept %+v, %v; want nothing", msgs, err)
			}
		})
	}
}

func TestSMTP_refusedMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want smtp.Error
	}{
		{"soft", []string{"-r", "."}, smtp.Error{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: command failed"}},
		{"hard", []string{"-f", ".", "-B", "554 5.7.1 Message rejected"}, smtp.Error{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := peers.StartSMTPSink(t, tc.args...)
			res, err := smtp.SendMail(testContext(t), sink.Addr, smtpOpts, "bob@example.org", []string{"alice@example.org"}, strings.NewReader(msgDots))
			var serr *smtp.Error
			if !errors.As(err, &serr) || *serr != tc.want {
				t.Errorf("SendMail: %v; want a *smtp.Error %+v", err, tc.want)
			}
			if res == nil || !slices.Equal(res.Accepted, []string{"alice@example.org"}) || res.Reply != "" {
				t.Errorf("SendMail() = %+v; want alice accepted and no reply", res)
			}
		})
	}
}

func TestSMTP_TLSPolicy(t *testing.T) {
	t.Parallel()
	sink := peers.StartSMTPSink(t)
	ctx := testContext(t)
	send := func(p smtp.TLSPolicy) error {
		opts := *smtpOpts
		opts.TLSPolicy = p
		_, err := smtp.SendMail(ctx, sink.Addr, &opts, "bob@example.org", []string{"alice@example.org"}, strings.NewReader(msgHello))
		return err
	}
	// smtp-sink offers no STARTTLS and speaks no TLS.
	if err := send(smtp.TLSPolicyStartTLS); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("SendMail with TLSPolicyStartTLS: %v; want an error about STARTTLS", err)
	}
	if err := send(smtp.TLSPolicyImplicit); err == nil {
		t.Error("SendMail with TLSPolicyImplicit to a plaintext server succeeded")
	}
	if msgs, err := sink.Messages(ctx, 0); err != nil || len(msgs) != 0 {
		t.Errorf("the sink kept %+v, %v after failed TLS; want nothing", msgs, err)
	}
	if err := send(smtp.TLSPolicyNone); err != nil {
		t.Errorf("SendMail with TLSPolicyNone: %v", err)
	}
	if msgs, err := sink.Messages(ctx, 1); err != nil || len(msgs) != 1 || msgs[0].Text != sinkText(msgHello) {
		t.Errorf("the sink kept %+v, %v; want the message", msgs, err)
	}
}

// TestSMTP_SMTPUTF8 checks that an internationalised address is not sent
// to a server without SMTPUTF8 (RFC 6531 §3.4), as smtp-sink is.
func TestSMTP_SMTPUTF8(t *testing.T) {
	t.Parallel()
	sink := peers.StartSMTPSink(t)
	ctx := testContext(t)
	if _, err := smtp.SendMail(ctx, sink.Addr, smtpOpts, "bob@example.org", []string{"jörg@example.org"}, strings.NewReader(msgHello)); err == nil {
		t.Error("SendMail to jörg@ through a server without SMTPUTF8 succeeded")
	}
	if msgs, err := sink.Messages(ctx, 0); err != nil || len(msgs) != 0 {
		t.Errorf("the sink kept %+v, %v; want nothing", msgs, err)
	}
}

// TestSMTP_SendMailContext checks that SendMail gives up when its context
// ends while the server sits on a reply (smtp-sink -w waits 30 s before
// answering DATA).
func TestSMTP_SendMailContext(t *testing.T) {
	t.Parallel()
	sink := peers.StartSMTPSink(t, "-w", "30")
	ctx, cancel := context.WithTimeout(testContext(t), 200*time.Millisecond)
	defer cancel()
	_, err := smtp.SendMail(ctx, sink.Addr, smtpOpts, "bob@example.org", []string{"alice@example.org"}, strings.NewReader(msgHello))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("SendMail: %v; want context.DeadlineExceeded", err)
	}
}

// TestSMTP_Client drives a session command by command: two transactions,
// RSET, NOOP, VRFY and a new EHLO.
func TestSMTP_Client(t *testing.T) {
	t.Parallel()
	sink := peers.StartSMTPSink(t)
	ctx := testContext(t)
	c, err := smtp.Dial(ctx, sink.Addr, smtpOpts)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("8BITMIME"); !ok {
		t.Error("Extension(8BITMIME) = false; smtp-sink offers it")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("Extension(STARTTLS) = true; smtp-sink does not offer it")
	}
	if ok, params := c.Extension("auth"); !ok || params != "PLAIN LOGIN" {
		t.Errorf("Extension(auth) = %v, %q; want true, \"PLAIN LOGIN\"", ok, params)
	}
	if c.TLS() {
		t.Error("TLS() = true after Dial")
	}
	send := func(from string, to []string, parts ...string) {
		t.Helper()
		if err := c.Mail(from, nil); err != nil {
			t.Fatalf("Mail: %v", err)
		}
		for _, r := range to {
			if err := c.Rcpt(r); err != nil {
				t.Fatalf("Rcpt(%q): %v", r, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("Data: %v", err)
		}
		for _, p := range parts {
			if _, err := io.WriteString(w, p); err != nil {
				t.Fatalf("Write: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if w.Reply() != "250 2.0.0 Ok" {
			t.Errorf("Reply() = %q; want \"250 2.0.0 Ok\"", w.Reply())
		}
	}
	send("bob@example.org", []string{"alice@example.org"}, "Subject: one\r", "\n\r\n.x\r", "\r\n")
	// A transaction begun and reset leaves nothing behind.
	if err := c.Mail("mallory@example.org", nil); err != nil {
		t.Fatalf("Mail: %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop: %v", err)
	}
	if err := c.Verify("alice@example.org"); err != nil {
		t.Errorf("Verify: %v", err)
	}
	if err := c.Hello("other.example.org"); err != nil {
		t.Fatalf("Hello: %v", err)
	}
	send("", []string{"carol@example.org", "dave@example.org"}, "Subject: two\r\n\r\nbounce\r\n")
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}

	msgs, err := sink.Messages(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(msgs, func(a, b peers.SinkMessage) int { return strings.Compare(a.Text, b.Text) })
	want := []peers.SinkMessage{
		{Helo: "client.example.org", RcptTo: []string{"<alice@example.org>"}, Text: "Subject: one\n\n.x\n\n"},
		{Helo: "other.example.org", RcptTo: []string{"<carol@example.org>", "<dave@example.org>"}, Text: "Subject: two\n\nbounce\n"},
	}
	if len(msgs) != 2 {
		t.Fatalf("the sink kept %d messages; want 2: %+v", len(msgs), msgs)
	}
	for i, m := range msgs {
		w := want[i]
		if m.Helo != w.Helo || !slices.Equal(m.RcptTo, w.RcptTo) || m.Text != w.Text {
			t.Errorf("message %d = %+v; want %+v", i, m, w)
		}
	}
	if !strings.HasPrefix(msgs[0].MailFrom, "<bob@example.org>") || !strings.HasPrefix(msgs[1].MailFrom, "<>") {
		t.Errorf("MAIL FROM arguments = %q, %q; want <bob@example.org> and the null sender", msgs[0].MailFrom, msgs[1].MailFrom)
	}
}
