package imaptest_test

import (
	"testing"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

// TestImaptest runs Dovecot's imaptest, its scripted files and its stress
// mode, against servers over MemBackends.
func TestImaptest(t *testing.T) {
	imaptest.Imaptest(t, func(t *testing.T) (imap.Backend, func(user, pass string)) {
		be := imaptest.NewMemBackend()
		return be, be.AddUser
	})
}
