package imapdtest_test

import (
	"testing"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
)

// TestImaptest runs Dovecot's imaptest, its scripted files and its stress
// mode, against servers over MemBackends.
func TestImaptest(t *testing.T) {
	imapdtest.Imaptest(t, func(t *testing.T) (imapd.Backend, func(user, pass string)) {
		be := imapdtest.NewMemBackend()
		return be, be.AddUser
	})
}
