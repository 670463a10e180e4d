package smtptest_test

import (
	"slices"
	"testing"

	"github.com/inetkit/inetkit/smtp"
	"github.com/inetkit/inetkit/smtp/smtptest"
)

// The Recorder passes the conformance suite every Backend should pass.
func TestRecorder_conformance(t *testing.T) {
	smtptest.TestBackend(t, func(t *testing.T, user, pass string) (smtp.Backend, func(string) [][]byte) {
		rec := smtptest.NewRecorder()
		rec.Users = map[string]string{user: pass}
		return rec, func(addr string) [][]byte {
			var out [][]byte
			for _, m := range rec.Messages() {
				if slices.Contains(m.Envelope.To, addr) {
					out = append(out, m.Data)
				}
			}
			return out
		}
	})
}
