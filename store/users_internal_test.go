package store

import (
	"context"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// A login for an unknown address is checked
// against a hash of the same bcrypt cost as the accounts' hashes, so that
// it takes as long as a wrong password for an existing account.
func TestAuthenticate_dummyHashCost(t *testing.T) {
	for _, cost := range []int{bcrypt.MinCost, bcrypt.MinCost + 2} {
		s, err := Open(t.TempDir(), &Options{PasswordCost: cost})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ctx := context.Background()
		if err := s.AddUser(ctx, "alice@example.org", "secret"); err != nil {
			t.Fatal(err)
		}
		var hash string
		if err := s.DB().QueryRow(`SELECT password_hash FROM users WHERE address = 'alice@example.org'`).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		account, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			t.Fatal(err)
		}
		dummy, err := bcrypt.Cost(dummyHash(s.passwordCost()))
		if err != nil {
			t.Fatal(err)
		}
		if dummy != account || account != cost {
			t.Errorf("PasswordCost %d: dummy hash cost %d, account hash cost %d; want both %d", cost, dummy, account, cost)
		}
		if _, err := s.Authenticate(ctx, "nobody@example.org", "secret"); err != ErrAuthFailed {
			t.Errorf("Authenticate(unknown) = %v; want ErrAuthFailed", err)
		}
	}
	if got := (&Store{}).passwordCost(); got != bcrypt.DefaultCost {
		t.Errorf("passwordCost() with no PasswordCost = %d; want bcrypt.DefaultCost (%d)", got, bcrypt.DefaultCost)
	}
}
