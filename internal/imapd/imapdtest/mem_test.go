package imapdtest_test

import (
	"testing"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/imapd/imapdtest"
)

func TestMemBackend(t *testing.T) {
	imapdtest.TestBackend(t, func(t *testing.T) (imapd.Backend, func(user, pass string), func(user string, msg []byte)) {
		be := imapdtest.NewMemBackend()
		return be, be.AddUser, func(user string, msg []byte) {
			if err := be.Deliver(user, msg); err != nil {
				t.Errorf("Deliver(%q) = %v", user, err)
			}
		}
	})
}
