//go:build unix

package peers_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/smtp"
)

// relayed waits until Postfix has relayed the message with the subject to
// its sink, and returns it with Postfix's Received header taken off.
func relayed(t *testing.T, p *peers.Postfix, subject string) (msg peers.SinkMessage, received string) {
	t.Helper()
	ctx := testContext(t)
	for n := 1; ; {
		msgs, err := p.Relay.Messages(ctx, n)
		if err != nil {
			t.Fatalf("waiting for %q: %v", subject, err)
		}
		for _, m := range msgs {
			if strings.Contains(m.Text, "\nSubject: "+subject+"\n") {
				// "Received: from ...\n\tby ...\n\tfor ...; date\n"
				lines := strings.SplitAfterN(m.Text, "\n", 4)
				m.Text = lines[3]
				return m, strings.Join(lines[:3], "")
			}
		}
		n = len(msgs) + 1
	}
}

// body returns what follows the header of a message as the sink keeps it.
func body(text string) string {
	_, b, _ := strings.Cut(text, "\n\n")
	return b
}

// TestPostfix sends through a real MTA: STARTTLS, AUTH (checked by
// Dovecot), a mix of accepted and refused recipients, and Postfix's strict
// reading of line endings.
func TestPostfix(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t) // its auth service only, for Postfix's SASL
	p := peers.StartPostfix(t, &peers.PostfixOptions{
		SASL: d,
		RecipientAccess: map[string]string{
			"refused@example.org": "REJECT No such user",
			"full@example.org":    "450 4.2.2 Mailbox full",
		},
	})
	opts := func(policy smtp.TLSPolicy, user, pass string) *smtp.ClientOptions {
		return &smtp.ClientOptions{TLSConfig: testcert.ClientConfig(), TLSPolicy: policy, Timeout: clientTimeout,
			LocalName: "client.example.org", Username: user, Password: pass}
	}
	refused := &smtp.Error{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "<refused@example.org>: Recipient address rejected: No such user"}
	full := &smtp.Error{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "<full@example.org>: Recipient address rejected: Mailbox full"}

	t.Run("StartTLS+AUTH+refusals", func(t *testing.T) {
		msg := message("mixed", "To some, not all.\r\n")
		res, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyStartTLS, d.User, d.Pass), "bob@example.org",
			[]string{"refused@example.org", "alice@example.org", "full@example.org"}, strings.NewReader(msg))
		if err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		if len(res.Accepted) != 1 || res.Accepted[0] != "alice@example.org" || !strings.HasPrefix(res.Reply, "250 2.0.0 Ok: queued as ") {
			t.Errorf("SendMail() = %+v; want alice accepted, \"250 2.0.0 Ok: queued as ...\"", res)
		}
		if len(res.Refused) != 2 || !errEqual(res.Refused["refused@example.org"], refused) || !errEqual(res.Refused["full@example.org"], full) {
			t.Errorf("Refused = %v; want %v and %v", res.Refused, refused, full)
		}
		if e := res.Refused["full@example.org"]; e == nil || !e.Temporary() {
			t.Errorf("Refused[full] = %v; want a temporary error", e)
		}
		m, received := relayed(t, p, "mixed")
		if !strings.Contains(received, "with ESMTPSA") {
			t.Errorf("Postfix's Received header %q does not say TLS and AUTH (ESMTPSA)", received)
		}
		if len(m.RcptTo) != 1 || !strings.HasPrefix(m.RcptTo[0], "<alice@example.org>") || body(m.Text) != sinkText("To some, not all.\r\n") {
			t.Errorf("relayed %+v; want the message to alice only", m)
		}
	})

	t.Run("opportunistic", func(t *testing.T) {
		if _, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyOpportunistic, "", ""), "bob@example.org",
			[]string{"alice@example.org"}, strings.NewReader(message("opportunistic", "x\r\n"))); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		if _, received := relayed(t, p, "opportunistic"); !strings.Contains(received, "with ESMTPS ") {
			t.Errorf("Postfix's Received header %q does not say TLS (ESMTPS)", received)
		}
	})

	t.Run("TLSPolicyNone", func(t *testing.T) {
		if _, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyNone, "", ""), "bob@example.org",
			[]string{"alice@example.org"}, strings.NewReader(message("plain", "x\r\n"))); err != nil {
			t.Fatalf("SendMail: %v", err)
		}
		if _, received := relayed(t, p, "plain"); !strings.Contains(received, "with ESMTP ") {
			t.Errorf("Postfix's Received header %q; want plain ESMTP", received)
		}
	})

	t.Run("no AUTH in plaintext", func(t *testing.T) {
		// Postfix offers AUTH only after STARTTLS (smtpd_tls_auth_only):
		// with TLS off the client must fail without sending the password.
		proxy := startRecordingProxy(t, p.Addr)
		_, err := smtp.SendMail(testContext(t), proxy.Addr, opts(smtp.TLSPolicyNone, d.User, d.Pass), "bob@example.org",
			[]string{"alice@example.org"}, strings.NewReader(msgHello))
		if err == nil {
			t.Error("SendMail authenticated without AUTH on offer")
		}
		if sent := string(proxy.Sent()); strings.Contains(sent, "AUTH") || strings.Contains(sent, "MAIL") {
			t.Errorf("the client sent %q; want no AUTH and no MAIL", sent)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		_, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyStartTLS, d.User, "wrong"), "bob@example.org",
			[]string{"alice@example.org"}, strings.NewReader(msgHello))
		var serr *smtp.Error
		if !errors.As(err, &serr) || serr.Code != 535 || serr.EnhancedCode != (smtp.EnhancedCode{5, 7, 8}) {
			t.Errorf("SendMail with a wrong password: %v; want 535 5.7.8", err)
		}
	})

	t.Run("every recipient refused", func(t *testing.T) {
		res, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyStartTLS, "", ""), "bob@example.org",
			[]string{"refused@example.org"}, strings.NewReader(msgHello))
		var serr *smtp.Error
		if !errors.As(err, &serr) || !errEqual(serr, refused) {
			t.Errorf("SendMail: %v; want %v", err, refused)
		}
		if res == nil || len(res.Accepted) != 0 || !errEqual(res.Refused["refused@example.org"], refused) {
			t.Errorf("SendMail() = %+v; want refused@ refused", res)
		}
	})

	t.Run("SMTPUTF8", func(t *testing.T) {
		// Postfix offers SMTPUTF8 (RFC 6531): an internationalised
		// address goes through.
		res, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyStartTLS, "", ""), "bob@example.org",
			[]string{"jörg@example.org"}, strings.NewReader(message("utf8", "Grüße\r\n")))
		if err != nil || len(res.Accepted) != 1 || res.Accepted[0] != "jörg@example.org" {
			t.Errorf("SendMail to jörg@ = %+v, %v; want accepted", res, err)
		}
	})

	t.Run("S15", func(t *testing.T) {
		// Postfix here refuses bare LF (smtpd_forbid_bare_newline), so
		// only a client that sends CRLF everywhere gets this through.
		const text = "bare LF then dot\n.\nafter\nbare CR then dot\r.\rafter\r" +
			".leading dot\r\n..two dots\r\nend of data inside\r\n.\r\nQUIT\r\n" + ".no newline at the end"
		res, err := smtp.SendMail(testContext(t), p.Addr, opts(smtp.TLSPolicyStartTLS, d.User, d.Pass), "bob@example.org",
			[]string{"alice@example.org"}, strings.NewReader(message("S15", text)))
		if err != nil {
			t.Fatalf("SendMail: %v (%+v)", err, res)
		}
		if m, _ := relayed(t, p, "S15"); body(m.Text) != sinkText(text) {
			t.Errorf("Postfix relayed the body\n%q; want\n%q", body(m.Text), sinkText(text))
		}
	})

	t.Run("Client", func(t *testing.T) {
		ctx := testContext(t)
		c, err := smtp.DialStartTLS(ctx, p.Addr, opts(0, "", ""))
		if err != nil {
			t.Fatalf("DialStartTLS: %v", err)
		}
		defer c.Close()
		if !c.TLS() {
			t.Error("TLS() = false after DialStartTLS")
		}
		if ok, _ := c.Extension("STARTTLS"); ok {
			t.Error("Extension(STARTTLS) = true over TLS: the client did not greet again after STARTTLS")
		}
		if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") {
			t.Errorf("Extension(AUTH) = %v, %q; want PLAIN over TLS", ok, mechs)
		}
		if err := c.StartTLS(nil); err == nil {
			t.Error("a second StartTLS succeeded")
		}
		if err := c.Auth(d.User, d.Pass); err != nil {
			t.Fatalf("Auth: %v", err)
		}
		if err := c.Mail("bob@example.org", &smtp.MailOptions{Size: int64(len(msgHello))}); err != nil {
			t.Fatalf("Mail: %v", err)
		}
		var serr *smtp.Error
		if err := c.Rcpt("refused@example.org"); !errors.As(err, &serr) || !errEqual(serr, refused) {
			t.Errorf("Rcpt(refused@) = %v; want %v", err, refused)
		}
		if err := c.Rcpt("alice@example.org"); err != nil {
			t.Fatalf("Rcpt: %v", err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("Data: %v", err)
		}
		fmt.Fprint(w, message("client", "by hand\r\n"))
		if err := w.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := c.Quit(); err != nil {
			t.Errorf("Quit: %v", err)
		}
		if m, received := relayed(t, p, "client"); !strings.Contains(received, "with ESMTPSA") || body(m.Text) != "by hand\n" {
			t.Errorf("relayed %q, %+v; want ESMTPSA and \"by hand\"", received, m)
		}

		// Without the test CA, the certificate is not trusted.
		o := opts(0, "", "")
		o.TLSConfig = nil
		if c, err := smtp.DialStartTLS(ctx, p.Addr, o); err == nil {
			c.Close()
			t.Error("DialStartTLS trusted a certificate from an unknown CA")
		}
	})
}

func errEqual(a, b *smtp.Error) bool {
	return a != nil && b != nil && *a == *b
}
