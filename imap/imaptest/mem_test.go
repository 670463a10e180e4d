package imaptest_test

import (
	"testing"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

func TestMemBackend(t *testing.T) {
	imaptest.TestBackend(t, func(t *testing.T) (imap.Backend, func(user, pass string), func(user string, msg []byte)) {
		be := imaptest.NewMemBackend()
		return be, be.AddUser, func(user string, msg []byte) {
			if err := be.Deliver(user, msg); err != nil {
				t.Errorf("Deliver(%q) = %v", user, err)
			}
		}
	})
}
