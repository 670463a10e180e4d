package store_test

import (
	"context"
	"testing"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
	"github.com/inetkit/inetkit/store"
	"golang.org/x/crypto/bcrypt"
)

// openNews opens a store in a temporary directory with the user alice and
// the groups misc.test and alt.test.
func openNews(t testing.TB, opts *store.Options) *store.Store {
	t.Helper()
	if opts == nil {
		opts = &store.Options{}
	}
	opts.PasswordCost = bcrypt.MinCost
	st, err := store.Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if err := st.AddUser(ctx, "alice", "secret"); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"misc.test", "alt.test"} {
		if err := st.AddGroup(ctx, g, "a test group"); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestNewsBackend_TestBackend(t *testing.T) {
	nntptest.TestBackend(t, func(t *testing.T) nntp.Backend {
		return openNews(t, nil).NNTPBackend()
	})
}
