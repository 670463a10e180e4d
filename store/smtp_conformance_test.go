package store_test

import (
	"context"
	"io"
	"testing"

	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// TestSMTPBackend_conformance runs the smtptest conformance suite against the store,
// reading each address's mail back through the POP3 backend. It is also
// where the suite's check of smtp.SenderChecker runs: the Recorder does not
// implement it.
func TestSMTPBackend_conformance(t *testing.T) {
	if _, ok := any(storeWithUser(t, "a@example.org", "x").SMTPBackend()).(smtp.SenderChecker); !ok {
		t.Fatal("the store's SMTP backend no longer implements smtp.SenderChecker")
	}
	smtptest.TestBackend(t, func(t *testing.T, user, pass string) (smtp.Backend, func(string) [][]byte) {
		st := storeWithUser(t, user, pass)
		mailbox := func(addr string) [][]byte {
			ctx := context.Background()
			sess, err := st.POP3Backend().Login(ctx, addr, pass)
			if err != nil {
				t.Fatalf("reading the mail of %s: %v", addr, err)
			}
			defer sess.Close()
			msgs, err := sess.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out [][]byte
			for i := range msgs {
				rc, err := sess.Open(ctx, i+1)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
			return out
		}
		return st.SMTPBackend(), mailbox
	})
}
