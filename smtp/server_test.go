package smtp_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
	"github.com/inetkit/inetkit/sockserver"
)

// logBuffer collects log output for assertions.
type logBuffer = prototest.Buffer

// newServer starts a test server for rec with small limits; configure may
// change the config before start.
func newServer(t testing.TB, rec *smtptest.Recorder, configure func(*smtp.Server)) (*smtptest.Server, *logBuffer) {
	t.Helper()
	if rec == nil {
		rec = smtptest.NewRecorder()
	}
	s := smtptest.NewUnstartedServer(rec)
	logs := &logBuffer{}
	s.Config.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.Config.AuthFailureDelay = -1
	s.Config.ErrorDelay = time.Millisecond
	if configure != nil {
		configure(s.Config)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, logs
}

// dialRaw connects to s and reads the greeting.
func dialRaw(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := prototest.Client(t, c, "S: 220 smtptest.local ESMTP Service Ready")
	return c, r
}

// readReply reads one complete reply and returns its lines.
func readReply(t testing.TB, r *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading reply: %v (got %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// expectEOF reads until EOF and returns what was read.
func expectEOF(t testing.TB, c net.Conn, r *bufio.Reader) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read until EOF: %v (got %q)", err, b)
	}
	return string(b)
}

func waitMessages(t testing.TB, rec *smtptest.Recorder, n int) []smtptest.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := rec.Wait(ctx, n)
	if err != nil {
		t.Fatalf("Wait(%d): %v (have %d)", n, err, len(rec.Messages()))
	}
	return msgs
}

const ehloPlain = `
C: EHLO client.example
S: 250-smtptest.local Hello client.example
S: 250-PIPELINING
S: 250-8BITMIME
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-AUTH PLAIN LOGIN
S: 250-SMTPUTF8
S: 250-SIZE 33554432
S: 250 LIMITS RCPTMAX=1000
`

func TestServer_ehlo(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloPlain)
}

func TestServer_ehloNoAuthWithoutTLS(t *testing.T) {
	s, _ := newServer(t, nil, func(cfg *smtp.Server) {
		cfg.InsecureAuth = false
		cfg.TLSConfig = testcert.ServerConfig()
		cfg.MaxMessageBytes = 1000
		cfg.MaxRecipients = 5
	})
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, `
C: EHLO x
S: 250-smtptest.local Hello x
S: 250-PIPELINING
S: 250-8BITMIME
S: 250-ENHANCEDSTATUSCODES
S: 250-CHUNKING
S: 250-SMTPUTF8
S: 250-SIZE 1000
S: 250-LIMITS RCPTMAX=5
S: 250 STARTTLS
# HARDENING S9
C: AUTH PLAIN AGFAYg==
S: 538 5.7.11 Encryption required*
`)
}

func TestServer_transaction(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloPlain+`
C: NOOP
S: 250 2.0.0 *
C: VRFY alice
S: 252 2.5.0 *
C: MAIL FROM:<alice@example.org>
S: 250 2.0.0 *
C: RCPT TO:<bob@example.org>
S: 250 2.0.0 *
C: RCPT TO:<bob@example.org>
S: 250 2.0.0 *
C: RCPT TO:<carol@example.org>
S: 250 2.0.0 *
C: DATA
S: 354 *
C: Subject: hi
C:
C: ..leading dot
C: body
C: .
S: 250 2.0.0 OK: queued
C: RSET
S: 250 2.0.0 *
C: QUIT
S: 221 2.0.0 *
`)
	msgs := waitMessages(t, rec, 1)
	m := msgs[0]
	if m.Envelope.From != "alice@example.org" || strings.Join(m.Envelope.To, ",") != "bob@example.org,carol@example.org" {
		t.Errorf("envelope = %+v", m.Envelope)
	}
	if m.Envelope.Helo != "client.example" {
		t.Errorf("Helo = %q", m.Envelope.Helo)
	}
	if got, want := string(m.Body()), "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	data := string(m.Data)
	if !strings.HasPrefix(data, "Return-Path: <alice@example.org>\r\nReceived: from client.example ([127.0.0.1])\r\n\tby smtptest.local (inetkit) with ESMTP id ") {
		t.Errorf("trace fields: %q", data)
	}
	if strings.Contains(data, "\tfor <") {
		t.Errorf("Received has a for clause with two recipients: %q", data)
	}
}

func dialTCP(addr string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	return c, err
}

// STYLE §3.6: Shutdown says 421 4.3.2 to idle sessions and lets a DATA
// transfer in progress finish with 250.
func TestServer_Shutdown(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	idle, ir := dialRaw(t, s.Addr)
	prototest.Run(t, idle, ir, ehloPlain)
	busy, br := dialRaw(t, s.Addr)
	prototest.Run(t, busy, br, ehloPlain+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: Subject: in flight")

	done := make(chan error, 1)
	go func() { done <- s.Config.Shutdown(context.Background()) }()
	prototest.Run(t, idle, ir, "S: 421 4.3.2 smtptest.local Service shutting down")
	expectEOF(t, idle, ir)
	if _, err := net.Dial("tcp", s.Addr); err == nil {
		t.Errorf("new connection accepted during shutdown")
	}
	prototest.Run(t, busy, br, "C: \nC: body\nC: .\nS: 250 2.0.0 *\nS: 421 4.3.2 *")
	expectEOF(t, busy, br)
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if msgs := rec.Messages(); len(msgs) != 1 || !strings.Contains(string(msgs[0].Data), "in flight") {
		t.Errorf("messages: %+v", msgs)
	}
}

// Shutdown falls back to Close when its context expires: a transfer that
// does not finish is not delivered.
func TestServer_ShutdownTimeout(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, nil)
	busy, br := dialRaw(t, s.Addr)
	prototest.Run(t, busy, br, ehloPlain+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *\nC: DATA\nS: 354 *\nC: Subject: stalled")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Config.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want DeadlineExceeded", err)
	}
	expectEOF(t, busy, br)
	if n := len(rec.Messages()); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Config.Serve(l); !errors.Is(err, smtp.ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v, want ErrServerClosed", err)
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Errorf("Serve after Shutdown left its listener open")
	}
}

// HARDENING X11: a panic in the backend ends only its session.
func TestServer_panic(t *testing.T) {
	rec := smtptest.NewRecorder()
	rec.RecipientFunc = func(rcpt string) error {
		if rcpt == "boom@x" {
			panic("boom")
		}
		return nil
	}
	s, logs := newServer(t, rec, nil)
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, ehloShortServer+"C: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<boom@x>\nS: 421 4.0.0 *")
	expectEOF(t, c, r)
	c2, r2 := dialRaw(t, s.Addr)
	prototest.Run(t, c2, r2, "C: NOOP\nS: 250 *")
	s.Close() // waits for the panicking session, which logs after closing
	if !strings.Contains(logs.String(), "panic") {
		t.Errorf("panic not logged")
	}
}

const ehloShortServer = "C: HELO x\nS: 250 *\n"

func TestServer_implicitTLS(t *testing.T) {
	rec := smtptest.NewRecorder()
	s := smtptest.NewUnstartedServer(rec)
	s.StartTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.TLS() {
		t.Errorf("TLS() = false")
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("STARTTLS offered inside TLS")
	}
	if ok, _ := c.Extension("AUTH"); !ok {
		t.Errorf("AUTH not offered")
	}
	if err := c.Noop(); err != nil {
		t.Fatal(err)
	}
	res, err := smtp.SendMail(context.Background(), s.Addr, &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyImplicit, TLSConfig: s.ClientTLSConfig()}, "a@x", []string{"b@x"}, strings.NewReader("hi\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Reply != "250 2.0.0 OK: queued" {
		t.Errorf("Reply = %q", res.Reply)
	}
	if m := waitMessages(t, rec, 1)[0]; !strings.Contains(string(m.Data), "with ESMTPS id") {
		t.Errorf("Received: %q", m.Data)
	}
}

func TestServer_debugWriter(t *testing.T) {
	var debug logBuffer
	s, _ := newServer(t, nil, func(cfg *smtp.Server) { cfg.DebugWriter = &debug })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: NOOP\nS: 250 *\nC: QUIT\nS: 221 *")
	expectEOF(t, c, r)
	if got := debug.String(); !strings.Contains(got, "220 smtptest.local") || !strings.Contains(got, "NOOP\r\n") || !strings.Contains(got, "221 2.0.0") {
		t.Errorf("debug output %q", got)
	}
}

func TestServer_strictBDAT(t *testing.T) {
	rec := smtptest.NewRecorder()
	s, _ := newServer(t, rec, func(cfg *smtp.Server) { cfg.StrictLineEndings = true })
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: HELO x\nS: 250 *\nC: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *")
	io.WriteString(c, "BDAT 8 LAST\r\nbare\nLF\n")
	prototest.Run(t, c, r, "S: 550 5.5.2 *\nC: MAIL FROM:<a@x>\nS: 250 *\nC: RCPT TO:<b@x>\nS: 250 *")
	io.WriteString(c, "BDAT 10 LAST\r\ngood\r\nCRLF")
	prototest.Run(t, c, r, "S: 250 *")
	if msgs := waitMessages(t, rec, 1); len(msgs) != 1 || string(msgs[0].Body()) != "good\r\nCRLF" {
		t.Errorf("messages %+v", msgs)
	}
}

type failingLogin struct{ *smtptest.Recorder }

func (failingLogin) Login(context.Context, string, string) error { return errors.New("ldap down") }

func TestServer_loginBackendError(t *testing.T) {
	s := smtptest.NewServer(failingLogin{smtptest.NewRecorder()})
	defer s.Close()
	c, r := dialRaw(t, s.Addr)
	prototest.Run(t, c, r, "C: HELO x\nS: 250 *\nC: AUTH PLAIN AHUAcA==\nS: 454 4.7.0 Temporary authentication failure\nC: NOOP\nS: 250 *")
}

func TestServer_ListenAndServe(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		srv := &smtp.Server{Addr: "127.0.0.1:0", Backend: smtptest.NewRecorder(), TLSConfig: testcert.ServerConfig()}
		done := make(chan error, 1)
		go func() {
			if implicit {
				done <- srv.ListenAndServeTLS()
			} else {
				done <- srv.ListenAndServe()
			}
		}()
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("ListenAndServe (implicit TLS %v) = %v, want ErrServerClosed", implicit, err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := (&smtp.Server{}).Serve(l); err == nil || errors.Is(err, smtp.ErrServerClosed) {
		t.Errorf("Serve without Backend = %v", err)
	}
}

// ServeConn serves one connection accepted elsewhere, here a net.Pipe:
// the whole session, to the 221 of QUIT, and it returns once the
// connection is closed. Such a connection is not counted in Stats.
func TestServer_ServeConn(t *testing.T) {
	rec := smtptest.NewRecorder()
	srv := &smtp.Server{Domain: "pipe.local", Backend: rec, InsecureAuth: true, Logger: slog.New(slog.DiscardHandler)}
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), server) }()
	r := prototest.Client(t, client, `
S: 220 pipe.local ESMTP Service Ready
C: EHLO x
S: 250-pipe.local Hello x
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250-*
S: 250 *
C: MAIL FROM:<a@x>
S: 250 *
C: RCPT TO:<b@x>
S: 250 *
C: DATA
S: 354 *
C: Subject: piped
C: .
S: 250 2.0.0 *
C: QUIT
S: 221 2.0.0 *
`)
	expectEOF(t, client, r)
	if err := <-done; err != nil {
		t.Errorf("ServeConn = %v", err)
	}
	if m := waitMessages(t, rec, 1)[0]; !strings.Contains(string(m.Data), "Subject: piped") || !strings.Contains(string(m.Data), "by pipe.local") {
		t.Errorf("message %q", m.Data)
	}
	if st := srv.Stats(); st.Accepted != 0 {
		t.Errorf("Stats().Accepted = %d after ServeConn; want 0", st.Accepted)
	}
}

// Cancelling the context of ServeConn ends the session.
func TestServer_ServeConnCancel(t *testing.T) {
	srv := &smtp.Server{Domain: "pipe.local", Backend: smtptest.NewRecorder(), Logger: slog.New(slog.DiscardHandler)}
	client, server := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(ctx, server) }()
	r := prototest.Client(t, client, "S: 220 *\nC: HELO x\nS: 250 *")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeConn = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return after its context was cancelled")
	}
	expectEOF(t, client, r)
}

// A connection that is a *tls.Conn counts as encrypted: AUTH works
// without InsecureAuth, and STARTTLS is not offered.
func TestServer_ServeConnTLS(t *testing.T) {
	rec := smtptest.NewRecorder()
	srv := &smtp.Server{Domain: "pipe.local", Backend: rec, TLSConfig: testcert.ServerConfig(), Logger: slog.New(slog.DiscardHandler)}
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- srv.ServeConn(context.Background(), tls.Server(server, testcert.ServerConfig())) }()
	c, err := smtp.NewClient(tls.Client(client, testcert.ClientConfig()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Errorf("STARTTLS offered on a TLS connection")
	}
	if err := c.Auth("u", "p"); err != nil {
		t.Fatalf("Auth = %v", err)
	}
	client.Close() // net.Pipe has no buffer for two close_notify alerts
	if err := <-done; err != nil {
		t.Errorf("ServeConn = %v", err)
	}
}

// Stats counts the connections of Serve.
func TestServer_Stats(t *testing.T) {
	s, _ := newServer(t, nil, nil)
	for range 2 {
		c, r := dialRaw(t, s.Addr)
		prototest.Run(t, c, r, "C: QUIT\nS: 221 *")
		expectEOF(t, c, r)
	}
	if st := s.Config.Stats(); st.Accepted != 2 || st.BytesWritten == 0 {
		t.Errorf("Stats() = %+v; want 2 accepted, bytes written", st)
	}
}

// ErrServerClosed is the value every server built on sockserver returns.
func TestErrServerClosed(t *testing.T) {
	if smtp.ErrServerClosed != sockserver.ErrServerClosed {
		t.Errorf("smtp.ErrServerClosed is not sockserver.ErrServerClosed")
	}
}
