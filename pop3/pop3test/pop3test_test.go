package pop3test_test

import (
	"crypto/tls"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

func TestMaildrop_TestBackend(t *testing.T) {
	pop3test.TestBackend(t, func(t *testing.T, user, pass string, msgs ...string) pop3.Backend {
		return pop3test.NewMaildrop(user, pass, msgs...)
	})
}

func TestMaildrop_crlf(t *testing.T) {
	m := pop3test.NewMaildrop("u", "p", "a\nb\r\nc\n", "no newline")
	want := []string{"a\r\nb\r\nc\r\n", "no newline"}
	if got := m.Messages(); !slices.Equal(got, want) {
		t.Errorf("Messages() = %q; want %q", got, want)
	}
}

func TestMaildrop_lock(t *testing.T) {
	m := pop3test.NewMaildrop("u", "p")
	sess, err := m.Login(t.Context(), "u", "p")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Locked() {
		t.Error("Locked() = false with a session open")
	}
	if _, err := m.Login(t.Context(), "u", "p"); !errors.Is(err, pop3.ErrInUse) {
		t.Errorf("second Login = %v; want ErrInUse", err)
	}
	sess.Close()
	sess.Close() // twice is harmless
	if m.Locked() {
		t.Error("Locked() = true after Close")
	}
}

func TestServer(t *testing.T) {
	md := pop3test.NewMaildrop("alice", "secret", "Subject: hi\r\n\r\nhello\r\n")
	s := pop3test.NewServer(md)
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("Login = %v", err)
	}
	rc, err := c.Retrieve(1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "Subject: hi\r\n\r\nhello\r\n" {
		t.Errorf("Retrieve(1) = %q, %v", b, err)
	}
	if err := c.Delete(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit = %v", err)
	}
	if got := md.Messages(); len(got) != 0 {
		t.Errorf("after DELE 1 and QUIT the maildrop holds %q", got)
	}
}

func TestServer_StartTLS(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret", "a\r\n"))
	s.Config.InsecureAuth = false
	s.StartTLS()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := caps["USER"]; !ok {
		t.Errorf("CAPA over implicit TLS = %v; want USER", caps)
	}
	if _, ok := caps["STLS"]; ok {
		t.Errorf("CAPA over implicit TLS = %v; want no STLS", caps)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("Login over TLS = %v", err)
	}
	if n, size, err := c.Stat(); n != 1 || size != 3 || err != nil {
		t.Errorf("Stat() = %d, %d, %v; want 1, 3, nil", n, size, err)
	}
}

func TestServer_STLS(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret"))
	s.Config.InsecureAuth = false
	s.Config.TLSConfig = testcert.ServerConfig()
	s.Start()
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var e *pop3.Error
	if err := c.Login("alice", "secret"); !errors.As(err, &e) || e.Code != "AUTH" {
		t.Errorf("Login before STLS = %v; want -ERR [AUTH]", err)
	}
	if err := c.StartTLS(nil); err != nil {
		t.Fatalf("StartTLS = %v", err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Errorf("Login after STLS = %v", err)
	}
}

func TestServer_closeTwice(t *testing.T) {
	s := pop3test.NewServer(pop3test.NewMaildrop("u", "p"))
	s.Close()
	s.Close()
	u := pop3test.NewUnstartedServer(pop3test.NewMaildrop("u", "p"))
	u.Close() // never started
}

func TestServer_StartSTARTTLS(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret", "a\r\n"))
	s.Config.InsecureAuth = false
	s.StartSTARTTLS()
	defer s.Close()
	// Client has started TLS with STLS already.
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); err == nil {
		t.Error("StartTLS on the client of StartSTARTTLS succeeded; want TLS active already")
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Fatalf("Login after STLS = %v", err)
	}
	// A plain client is offered STLS, and gets TLS with ClientTLSConfig.
	p, err := pop3.Dial(t.Context(), s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	caps, err := p.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := caps["STLS"]; !ok {
		t.Errorf("CAPA of StartSTARTTLS = %v; want STLS", caps)
	}
	if err := p.StartTLS(s.ClientTLSConfig()); err != nil {
		t.Errorf("StartTLS with ClientTLSConfig = %v", err)
	}
}

func TestServer_startPlain(t *testing.T) {
	s := pop3test.NewServer(pop3test.NewMaildrop("alice", "secret"))
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := caps["STLS"]; ok {
		t.Errorf("CAPA of Start without TLSConfig = %v; want no STLS", caps)
	}
	if _, ok := caps["USER"]; !ok {
		t.Errorf("CAPA = %v; want USER (InsecureAuth)", caps)
	}
}

func TestServer_ClientTLSConfig(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("alice", "secret"))
	s.StartTLS()
	defer s.Close()
	conn, err := tls.Dial("tcp", s.Addr, s.ClientTLSConfig())
	if err != nil {
		t.Fatalf("tls.Dial with ClientTLSConfig = %v", err)
	}
	c, err := pop3.NewClient(conn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit = %v", err)
	}
}

func TestNewUnstartedServer(t *testing.T) {
	s := pop3test.NewUnstartedServer(pop3test.NewMaildrop("u", "p"))
	cfg := s.Config
	if !cfg.InsecureAuth || cfg.AuthFailureDelay != 10*time.Millisecond || cfg.ErrorDelay != 10*time.Millisecond || cfg.Logger == nil {
		t.Errorf("Config = InsecureAuth %v, AuthFailureDelay %v, ErrorDelay %v, Logger %v; want true, 10ms, 10ms, a logger",
			cfg.InsecureAuth, cfg.AuthFailureDelay, cfg.ErrorDelay, cfg.Logger)
	}
	if s.Addr != "" {
		t.Errorf("Addr = %q before Start", s.Addr)
	}
}

func TestServer_startTwice(t *testing.T) {
	s := pop3test.NewServer(pop3test.NewMaildrop("u", "p"))
	defer s.Close()
	defer func() {
		if recover() == nil {
			t.Error("a second Start did not panic")
		}
	}()
	s.StartTLS()
}
