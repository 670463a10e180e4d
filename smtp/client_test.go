package smtp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

func TestSendMail(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.RecipientFunc = func(rcpt string) error {
		if rcpt == "nobody@x" {
			return smtp.ErrNoSuchMailbox
		}
		return nil
	}
	s, _ := newServer(t, rec, nil)
	res, err := smtp.SendMail(context.Background(), s.Addr, nil, "a@x", []string{"b@x", "nobody@x", "c@x"}, strings.NewReader("Subject: t\n\nhello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Accepted, ",") != "b@x,c@x" {
		t.Errorf("Accepted = %q", res.Accepted)
	}
	if e := res.Refused["nobody@x"]; e == nil || e.Code != 550 || e.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Errorf("Refused = %v", res.Refused)
	}
	if res.Reply != "250 2.0.0 OK: queued" {
		t.Errorf("Reply = %q", res.Reply)
	}
	m := waitMessages(t, rec, 1)[0]
	if got := string(m.Body()); got != "Subject: t\r\n\r\nhello\r\n" {
		t.Errorf("body %q", got)
	}
	if strings.Join(m.Envelope.To, ",") != "b@x,c@x" {
		t.Errorf("To = %q", m.Envelope.To)
	}
}

func TestSendMail_allRefused(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.RecipientFunc = func(string) error { return smtp.ErrNoSuchMailbox }
	s, _ := newServer(t, rec, nil)
	res, err := smtp.SendMail(context.Background(), s.Addr, nil, "a@x", []string{"b@x"}, strings.NewReader("x"))
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 550 {
		t.Fatalf("SendMail = %v, want a 550 *smtp.Error", err)
	}
	if res == nil || len(res.Refused) != 1 || res.Reply != "" {
		t.Errorf("result %+v", res)
	}
	if n := len(rec.Messages()); n != 0 {
		t.Errorf("%d messages", n)
	}
}

func TestSendMail_tlsPolicy(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"u": "p"}
	s := smtptest.NewUnstartedServer(rec)
	s.Config.InsecureAuth = false
	s.StartSTARTTLS()
	defer s.Close()
	ctx := context.Background()

	opts := &smtp.ClientOptions{TLSConfig: s.ClientTLSConfig(), Username: "u", Password: "p"}
	if _, err := smtp.SendMail(ctx, s.Addr, opts, "a@x", []string{"b@x"}, strings.NewReader("one")); err != nil {
		t.Fatal(err)
	}
	m := waitMessages(t, rec, 1)[0]
	if !strings.Contains(string(m.Data), "with ESMTPSA id") || m.Envelope.AuthUser != "u" {
		t.Errorf("opportunistic STARTTLS and AUTH: %q %+v", m.Data, m.Envelope)
	}

	opts = &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyNone}
	if _, err := smtp.SendMail(ctx, s.Addr, opts, "a@x", []string{"b@x"}, strings.NewReader("two")); err != nil {
		t.Fatal(err)
	}
	m = waitMessages(t, rec, 2)[1]
	if !strings.Contains(string(m.Data), "with ESMTP id") {
		t.Errorf("TLSPolicyNone: %q", m.Data)
	}

	// AUTH is refused without TLS.
	opts = &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyNone, Username: "u", Password: "p"}
	if _, err := smtp.SendMail(ctx, s.Addr, opts, "a@x", []string{"b@x"}, strings.NewReader("three")); err == nil {
		t.Errorf("AUTH without TLS succeeded")
	}

	// A server offering no STARTTLS never gets the password from the
	// default (opportunistic) policy.
	plain := smtptest.NewUnstartedServer(rec) // no TLSConfig: no STARTTLS
	plain.Config.InsecureAuth = true
	plain.Start()
	defer plain.Close()
	var wire prototest.Buffer
	opts = &smtp.ClientOptions{Username: "u", Password: "p", DebugWriter: &wire}
	if _, err := smtp.SendMail(ctx, plain.Addr, opts, "a@x", []string{"b@x"}, strings.NewReader("x")); !errors.Is(err, smtp.ErrPlaintextAuth) {
		t.Errorf("opportunistic with credentials and no STARTTLS: %v; want ErrPlaintextAuth", err)
	}
	if strings.Contains(wire.String(), "\nAUTH ") {
		t.Errorf("AUTH sent without TLS:\n%s", wire.String())
	}

	opts = &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyStartTLS, TLSConfig: s.ClientTLSConfig(), Username: "u", Password: "wrong"}
	_, err := smtp.SendMail(ctx, s.Addr, opts, "a@x", []string{"b@x"}, strings.NewReader("four"))
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 535 || e.Temporary() {
		t.Errorf("wrong password: %v", err)
	}

	// Without a trusted certificate STARTTLS fails rather than falling
	// back to plaintext.
	if _, err := smtp.SendMail(ctx, s.Addr, nil, "a@x", []string{"b@x"}, strings.NewReader("five")); err == nil {
		t.Errorf("untrusted certificate accepted")
	}
}

func TestDialStartTLS_notOffered(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	if c, err := smtp.DialStartTLS(context.Background(), s.Addr, nil); err == nil {
		c.Close()
		t.Fatal("DialStartTLS succeeded without STARTTLS")
	}
}

func TestClient_methods(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.Users = map[string]string{"u": "p"}
	s, _ := newServer(t, rec, nil)
	c, err := s.Client(&smtp.ClientOptions{LocalName: "first.example"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var e *smtp.Error
	if err := c.Rcpt("b@x"); !errors.As(err, &e) || e.Code != 502 || e.EnhancedCode != (smtp.EnhancedCode{5, 5, 1}) {
		t.Errorf("Rcpt before Mail = %v", err)
	}
	if err := c.Hello("second.example"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("u", "p"); err != nil {
		t.Fatal(err)
	}
	if err := c.Verify("b@x"); err != nil {
		t.Errorf("Verify = %v, want nil for 252", err)
	}
	if err := c.Mail("a@x", &smtp.MailOptions{Size: 10}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@x"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "x\r")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	m := waitMessages(t, rec, 1)[0]
	if m.Envelope.Helo != "second.example" || string(m.Body()) != "x\r\n" {
		t.Errorf("message %+v %q", m.Envelope, m.Body())
	}
}

// HARDENING S15: the client turns bare CR and LF into CRLF and
// dot-stuffs; the bytes are captured as they arrive at a server.
func TestClient_dataNormalized(t *testing.T) {
	cc, sc := net.Pipe()
	captured := make(chan []byte, 1)
	go func() {
		defer sc.Close()
		r := bufio.NewReader(sc)
		io.WriteString(sc, "220 fake\r\n")
		for _, reply := range []string{"250-fake\r\n250 8BITMIME\r\n", "250 ok\r\n", "250 ok\r\n", "354 go\r\n"} {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			io.WriteString(sc, reply)
		}
		var data []byte
		for !bytes.HasSuffix(data, []byte("\r\n.\r\n")) {
			b, err := r.ReadByte()
			if err != nil {
				return
			}
			data = append(data, b)
		}
		captured <- data
		io.WriteString(sc, "250 2.0.0 captured\r\n")
	}()
	c, err := smtp.NewClient(cc, &smtp.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("a@x", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@x"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	// Split so that a CR ends one Write and its LF starts the next.
	for _, p := range []string{"a\n.\nb\r.\rc\r", "\n.x\r\n..\r\n", "\r\rend"} {
		io.WriteString(w, p)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Reply() != "250 2.0.0 captured" {
		t.Errorf("Reply = %q", w.Reply())
	}
	want := "a\r\n..\r\nb\r\n..\r\nc\r\n..x\r\n...\r\n\r\n\r\nend\r\n.\r\n"
	if got := string(<-captured); got != want {
		t.Errorf("wire bytes %q, want %q", got, want)
	}
}

// The client sends what the protocol says; checked against a canned
// server.
func TestClient_transcript(t *testing.T) {
	cc, sc := net.Pipe()
	done := prototest.Server(t, sc, `
S: 220 canned ESMTP
C: EHLO me.example
S: 250-canned
S: 250-AUTH LOGIN
S: 250 SMTPUTF8
C: AUTH LOGIN dQ==
S: 334 UGFzc3dvcmQ6
C: cA==
S: 235 2.7.0 ok
C: MAIL FROM:<jörg@x> SMTPUTF8
S: 250 ok
C: RCPT TO:<b@x>
S: 451 4.3.0 try later
C: QUIT
S: 221 bye
`)
	c, err := smtp.NewClient(cc, &smtp.ClientOptions{LocalName: "me.example", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("u", "p"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("jörg@x", &smtp.MailOptions{UTF8: true}); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("b@x")
	var e *smtp.Error
	if !errors.As(err, &e) || !e.Temporary() || e.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) || e.Message != "try later" {
		t.Errorf("Rcpt = %#v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestClient_timeout(t *testing.T) {
	cc, sc := net.Pipe()
	defer sc.Close()
	_, err := smtp.NewClient(cc, &smtp.ClientOptions{Timeout: 50 * time.Millisecond})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("NewClient with a silent server = %v, want a timeout", err)
	}
}

func TestClient_badGreeting(t *testing.T) {
	cc, sc := net.Pipe()
	go prototest.Server(t, sc, "S: 554 5.7.1 go away")
	_, err := smtp.NewClient(cc, &smtp.ClientOptions{Timeout: 10 * time.Second})
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 554 {
		t.Errorf("NewClient = %v, want the 554", err)
	}
}

func TestSendMail_canceled(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := smtp.SendMail(ctx, s.Addr, nil, "a@x", []string{"b@x"}, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("SendMail = %v, want context.Canceled", err)
	}
}

func TestTLSPolicy_String(t *testing.T) {
	for p, want := range map[smtp.TLSPolicy]string{
		smtp.TLSPolicyOpportunistic: "opportunistic", smtp.TLSPolicyStartTLS: "starttls",
		smtp.TLSPolicyImplicit: "implicit", smtp.TLSPolicyNone: "none", 9: "TLSPolicy(9)",
	} {
		if got := p.String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}
