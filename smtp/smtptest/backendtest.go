package smtptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/inetkit/inetkit/smtp"
)

// TestBackend checks that a Backend behaves as package smtp requires.
//
// newBackend must return a new Backend with one user, whose address is user
// and whose password is pass, with an empty mailbox, and a function that
// returns the messages delivered so far to the mailbox of an address,
// oldest first, byte for byte as Deliver got them. The messages TestBackend
// delivers use CRLF line endings. The Backend must then satisfy:
//
//   - Login(user, pass) returns nil; a wrong password, an unknown user or
//     empty credentials return an error that is, or wraps, a *smtp.Error
//     with code 535 (smtp.ErrAuthFailed), which the server counts as a
//     failed login.
//   - CheckRecipient(user) returns nil. A refusal (of an unknown address,
//     say) is, or wraps, a *smtp.Error with a 4xx or 5xx code: the server
//     logs any other error as a failure of the Backend and answers 451.
//   - If the Backend implements smtp.SenderChecker, CheckSender of an
//     ordinary envelope returns nil.
//   - Deliver stores the message, byte for byte, in the mailbox of every
//     recipient in env.To, and it is there when Deliver returns: the server
//     says 250 then. msg is a *bytes.Buffer, as the server passes it, whose
//     bytes are overwritten once Deliver has returned; the stored message
//     must not change.
//   - Deliver called with a cancelled context either stores the message and
//     returns nil, or stores nothing and returns an error.
//   - Deliver may be called from many goroutines at once, and loses no
//     message.
//   - Through a Server, a client that authenticates as user with pass can
//     send a message to user, which arrives with the Return-Path and
//     Received fields the server prepends; a wrong password gets 535.
//
// TestBackend runs its checks as subtests, each on a new Backend.
func TestBackend(t *testing.T, newBackend func(t *testing.T, user, pass string) (be smtp.Backend, mailbox func(addr string) [][]byte)) {
	const (
		user = "alice@example.org"
		pass = "secret"
		from = "bob@example.net"
	)
	ctx := context.Background()
	envelope := func() *smtp.Envelope {
		return &smtp.Envelope{
			From:       from,
			To:         []string{user},
			RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 50025},
			Helo:       "client.example.net",
		}
	}
	message := func(n int) string {
		return fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: message %d\r\n\r\nBody of message %d.\r\n.leading dot\r\n", from, user, n, n)
	}
	deliver := func(t *testing.T, be smtp.Backend, ctx context.Context, msg string) ([]byte, error) {
		t.Helper()
		buf := new(bytes.Buffer)
		buf.WriteString(msg)
		raw := buf.Bytes()
		err := be.Deliver(ctx, envelope(), buf)
		return raw, err
	}
	expect := func(t *testing.T, mailbox func(string) [][]byte, want ...string) {
		t.Helper()
		got := mailbox(user)
		if len(got) != len(want) {
			t.Fatalf("the mailbox holds %d messages; want %d", len(got), len(want))
		}
		for i := range got {
			if string(got[i]) != want[i] {
				t.Errorf("message %d is %q; want %q", i+1, got[i], want[i])
			}
		}
	}

	t.Run("Login", func(t *testing.T) {
		be, _ := newBackend(t, user, pass)
		if err := be.Login(ctx, user, pass); err != nil {
			t.Errorf("Login(%q, %q) = %v; want nil", user, pass, err)
		}
		for _, c := range [][2]string{{user, "wrong"}, {"mallory@example.org", pass}, {user, ""}, {"", ""}, {user, pass + "x"}} {
			err := be.Login(ctx, c[0], c[1])
			var e *smtp.Error
			if !errors.As(err, &e) || e.Code != 535 {
				t.Errorf("Login(%q, %q) = %v; want a *smtp.Error with code 535", c[0], c[1], err)
			}
		}
		// A failed login locks nothing.
		if err := be.Login(ctx, user, pass); err != nil {
			t.Errorf("Login(%q, %q) after failures = %v; want nil", user, pass, err)
		}
	})

	t.Run("CheckRecipient", func(t *testing.T) {
		be, _ := newBackend(t, user, pass)
		if err := be.CheckRecipient(ctx, envelope(), user); err != nil {
			t.Errorf("CheckRecipient(%q) = %v; want nil", user, err)
		}
		for _, rcpt := range []string{"nobody@example.org", "postmaster@invalid.example"} {
			err := be.CheckRecipient(ctx, envelope(), rcpt)
			var e *smtp.Error
			if err != nil && (!errors.As(err, &e) || e.Code < 400 || e.Code > 599) {
				t.Errorf("CheckRecipient(%q) = %v; want nil or a *smtp.Error with a 4xx or 5xx code", rcpt, err)
			}
		}
	})

	t.Run("CheckSender", func(t *testing.T) {
		be, _ := newBackend(t, user, pass)
		sc, ok := be.(smtp.SenderChecker)
		if !ok {
			t.Skip("the Backend does not implement smtp.SenderChecker")
		}
		for _, sender := range []string{from, ""} {
			env := envelope()
			env.From, env.To = sender, nil
			if err := sc.CheckSender(ctx, env); err != nil {
				t.Errorf("CheckSender(From %q) = %v; want nil", sender, err)
			}
		}
	})

	t.Run("Deliver", func(t *testing.T) {
		be, mailbox := newBackend(t, user, pass)
		expect(t, mailbox)
		for n := 1; n <= 2; n++ {
			raw, err := deliver(t, be, ctx, message(n))
			if err != nil {
				t.Fatalf("Deliver(message %d) = %v", n, err)
			}
			// The server reuses its buffer for the next message.
			for i := range raw {
				raw[i] = 'X'
			}
		}
		expect(t, mailbox, message(1), message(2))
	})

	t.Run("DeliverCancelled", func(t *testing.T) {
		be, mailbox := newBackend(t, user, pass)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := deliver(t, be, cctx, message(1)); err != nil {
			expect(t, mailbox)
		} else {
			expect(t, mailbox, message(1))
		}
	})

	t.Run("DeliverConcurrent", func(t *testing.T) {
		be, mailbox := newBackend(t, user, pass)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = deliver(t, be, ctx, message(i+1)) })
		}
		wg.Wait()
		var want []string
		for i, err := range errs {
			if err != nil {
				t.Errorf("Deliver(message %d) = %v", i+1, err)
			}
			want = append(want, message(i+1))
		}
		var got []string
		for _, m := range mailbox(user) {
			got = append(got, string(m))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("after %d concurrent deliveries the mailbox holds %d messages; want all %d", n, len(got), n)
		}
	})

	t.Run("Server", func(t *testing.T) {
		be, mailbox := newBackend(t, user, pass)
		s := NewServer(be)
		defer s.Close()
		body := "Subject: through the server\r\n\r\nhello\r\n"
		opts := &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyNone, Username: user, Password: pass}
		if _, err := smtp.SendMail(ctx, s.Addr, opts, from, []string{user}, strings.NewReader(body)); err != nil {
			t.Fatalf("SendMail as %q = %v", user, err)
		}
		got := mailbox(user)
		if len(got) != 1 {
			t.Fatalf("the mailbox holds %d messages after SendMail; want 1", len(got))
		}
		if m := string(got[0]); !strings.HasPrefix(m, "Return-Path: <"+from+">\r\nReceived: from ") || !strings.HasSuffix(m, "\r\n"+body) {
			t.Errorf("message %q; want the trace fields, then %q", m, body)
		}
		opts.Password = "wrong"
		_, err := smtp.SendMail(ctx, s.Addr, opts, from, []string{user}, strings.NewReader(body))
		var e *smtp.Error
		if !errors.As(err, &e) || e.Code != 535 {
			t.Errorf("SendMail with a wrong password = %v; want a 535 reply", err)
		}
	})
}
