package pop3test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/pop3"
)

// TestBackend checks that a Backend behaves as package pop3 requires.
//
// newBackend must return a new Backend holding one user, user with password
// pass, whose maildrop holds msgs in that order, and nothing else. The
// messages TestBackend passes use CRLF line endings, end in CRLF, and are
// distinct. The Backend must then satisfy:
//
//   - Login(user, pass) returns a Session; a wrong password or an unknown
//     user returns an error that is, or wraps, a *pop3.Error with Code
//     "AUTH" (such as pop3.ErrAuthFailed).
//   - Session.List returns one MessageInfo per message, in the order given,
//     the same every time it is called. Open(n) returns exactly the octets
//     of message n, and their number is List()[n-1].Size. Open(0) and
//     Open(len+1) fail.
//   - UIDs are 1 to 70 characters in 0x21..0x7E, distinct within the
//     maildrop, and the same for a message in every session, also after
//     other messages are deleted.
//   - Commit(deleted) removes exactly the messages numbered in deleted;
//     Commit(nil) removes nothing; a Session closed without Commit removes
//     nothing.
//   - A second Login while a Session is open either fails with a
//     *pop3.Error with Code "IN-USE" (pop3.ErrInUse) or succeeds, and then
//     both sessions keep working; once the sessions are closed, Login
//     works again.
//   - If the Backend implements pop3.BackendAPOP, LoginAPOP accepts the
//     lower-case hex MD5 of timestamp followed by pass, and refuses any
//     other digest with Code "AUTH".
//
// TestBackend runs its checks as subtests, each on a new Backend.
func TestBackend(t *testing.T, newBackend func(t *testing.T, user, pass string, msgs ...string) pop3.Backend) {
	const user, pass = "alice", "secret"
	msgs := []string{
		"From: a@example.org\r\nSubject: one\r\n\r\nfirst\r\n",
		"From: b@example.org\r\nSubject: two\r\n\r\n.dot\r\n..two\r\n.\r\nend\r\n",
		"Subject: three\r\n\r\n" + strings.Repeat("line of text\r\n", 500),
		"Subject: four\r\n\r\n\r\n",
	}
	ctx := context.Background()
	open := func(t *testing.T, be pop3.Backend) pop3.Session {
		t.Helper()
		sess, err := be.Login(ctx, user, pass)
		if err != nil {
			t.Fatalf("Login(%q, %q) = %v; want a session", user, pass, err)
		}
		return sess
	}
	list := func(t *testing.T, sess pop3.Session) []pop3.MessageInfo {
		t.Helper()
		l, err := sess.List(ctx)
		if err != nil {
			t.Fatalf("List() = %v", err)
		}
		return l
	}
	contents := func(t *testing.T, sess pop3.Session) []string {
		t.Helper()
		var out []string
		for n := range len(list(t, sess)) {
			out = append(out, read(t, sess, n+1))
		}
		return out
	}

	t.Run("Login", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		sess := open(t, be)
		defer sess.Close()
		if got := len(list(t, sess)); got != len(msgs) {
			t.Errorf("len(List()) = %d; want %d", got, len(msgs))
		}
	})

	t.Run("LoginFailed", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		for _, c := range [][2]string{{user, "wrong"}, {"mallory", pass}, {user, ""}, {"", ""}, {user, pass + "x"}} {
			sess, err := be.Login(ctx, c[0], c[1])
			if err == nil {
				sess.Close()
				t.Errorf("Login(%q, %q) succeeded; want an AUTH error", c[0], c[1])
				continue
			}
			var e *pop3.Error
			if !errors.As(err, &e) || e.Code != "AUTH" {
				t.Errorf("Login(%q, %q) = %v; want a *pop3.Error with Code AUTH", c[0], c[1], err)
			}
		}
		// A failed login does not lock the maildrop.
		open(t, be).Close()
	})

	t.Run("ListAndOpen", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		sess := open(t, be)
		defer sess.Close()
		l := list(t, sess)
		if len(l) != len(msgs) {
			t.Fatalf("len(List()) = %d; want %d", len(l), len(msgs))
		}
		for i, m := range l {
			got := read(t, sess, i+1)
			if got != msgs[i] {
				t.Errorf("Open(%d) = %q; want %q", i+1, truncate(got), truncate(msgs[i]))
			}
			if m.Size != int64(len(got)) {
				t.Errorf("List()[%d].Size = %d; Open(%d) returned %d octets", i, m.Size, i+1, len(got))
			}
		}
		if l2 := list(t, sess); !slices.Equal(l, l2) {
			t.Errorf("List() changed within a session: %v, then %v", l, l2)
		}
		for _, n := range []int{0, len(msgs) + 1} {
			if rc, err := sess.Open(ctx, n); err == nil {
				rc.Close()
				t.Errorf("Open(%d) succeeded; want an error", n)
			}
		}
	})

	t.Run("Empty", func(t *testing.T) {
		be := newBackend(t, user, pass)
		sess := open(t, be)
		defer sess.Close()
		if l := list(t, sess); len(l) != 0 {
			t.Errorf("List() = %v; want none", l)
		}
		if err := sess.Commit(ctx, nil); err != nil {
			t.Errorf("Commit(nil) = %v", err)
		}
	})

	t.Run("UIDs", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		sess := open(t, be)
		l := list(t, sess)
		seen := map[string]int{}
		for i, m := range l {
			if !validUID(m.UID) {
				t.Errorf("message %d: UID %q is not 1 to 70 characters in 0x21..0x7E", i+1, m.UID)
			}
			if j, dup := seen[m.UID]; dup {
				t.Errorf("messages %d and %d have the same UID %q", j, i+1, m.UID)
			}
			seen[m.UID] = i + 1
		}
		if err := sess.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		sess = open(t, be)
		if l2 := list(t, sess); !slices.Equal(uids(l), uids(l2)) {
			t.Errorf("UIDs changed between sessions: %v, then %v", uids(l), uids(l2))
		}
		if err := sess.Commit(ctx, []int{1}); err != nil {
			t.Fatalf("Commit([1]) = %v", err)
		}
		sess.Close()
		sess = open(t, be)
		defer sess.Close()
		if got, want := uids(list(t, sess)), uids(l)[1:]; !slices.Equal(got, want) {
			t.Errorf("UIDs after deleting message 1 = %v; want %v", got, want)
		}
	})

	t.Run("Commit", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		sess := open(t, be)
		if err := sess.Commit(ctx, []int{1, 3}); err != nil {
			t.Fatalf("Commit([1 3]) = %v", err)
		}
		if err := sess.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		sess = open(t, be)
		defer sess.Close()
		if got, want := contents(t, sess), []string{msgs[1], msgs[3]}; !slices.Equal(got, want) {
			t.Errorf("after Commit([1 3]) the maildrop holds %q; want %q", got, want)
		}
	})

	t.Run("CommitNone", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		sess := open(t, be)
		if err := sess.Commit(ctx, nil); err != nil {
			t.Fatalf("Commit(nil) = %v", err)
		}
		sess.Close()
		sess = open(t, be)
		defer sess.Close()
		if got := contents(t, sess); !slices.Equal(got, msgs) {
			t.Errorf("after Commit(nil) the maildrop holds %d messages; want all %d", len(got), len(msgs))
		}
	})

	t.Run("CloseWithoutCommit", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		sess := open(t, be)
		read(t, sess, 2)
		if err := sess.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		sess = open(t, be)
		defer sess.Close()
		if got := contents(t, sess); !slices.Equal(got, msgs) {
			t.Errorf("after Close without Commit the maildrop holds %d messages; want all %d", len(got), len(msgs))
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		first := open(t, be)
		second, err := be.Login(ctx, user, pass)
		if err != nil {
			var e *pop3.Error
			if !errors.As(err, &e) || e.Code != "IN-USE" {
				t.Errorf("second Login = %v; want success or a *pop3.Error with Code IN-USE", err)
			}
		} else {
			if got := contents(t, second); !slices.Equal(got, msgs) {
				t.Errorf("second session sees %d messages; want %d", len(got), len(msgs))
			}
			if err := second.Close(); err != nil {
				t.Errorf("second Close() = %v", err)
			}
		}
		if got := contents(t, first); !slices.Equal(got, msgs) {
			t.Errorf("first session sees %d messages after the second Login; want %d", len(got), len(msgs))
		}
		if err := first.Close(); err != nil {
			t.Fatalf("Close() = %v", err)
		}
		open(t, be).Close()
	})

	t.Run("APOP", func(t *testing.T) {
		be := newBackend(t, user, pass, msgs...)
		ab, ok := be.(pop3.BackendAPOP)
		if !ok {
			t.Skip("the Backend does not implement pop3.BackendAPOP")
		}
		const ts = "<1896.697170952@dbc.mtview.ca.us>"
		sum := md5.Sum([]byte(ts + pass))
		sess, err := ab.LoginAPOP(ctx, user, ts, hex.EncodeToString(sum[:]))
		if err != nil {
			t.Fatalf("LoginAPOP with the right digest = %v", err)
		}
		sess.Close()
		bad := md5.Sum([]byte(ts + "wrong"))
		for _, c := range [][2]string{{user, hex.EncodeToString(bad[:])}, {"mallory", hex.EncodeToString(sum[:])}} {
			sess, err := ab.LoginAPOP(ctx, c[0], ts, c[1])
			if err == nil {
				sess.Close()
				t.Errorf("LoginAPOP(%q, %q) succeeded; want an AUTH error", c[0], c[1])
				continue
			}
			var e *pop3.Error
			if !errors.As(err, &e) || e.Code != "AUTH" {
				t.Errorf("LoginAPOP(%q, %q) = %v; want a *pop3.Error with Code AUTH", c[0], c[1], err)
			}
		}
	})
}

func read(t *testing.T, sess pop3.Session, n int) string {
	t.Helper()
	rc, err := sess.Open(context.Background(), n)
	if err != nil {
		t.Fatalf("Open(%d) = %v", n, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading message %d: %v", n, err)
	}
	return string(b)
}

func uids(l []pop3.MessageInfo) []string {
	out := make([]string, len(l))
	for i, m := range l {
		out[i] = m.UID
	}
	return out
}

func validUID(s string) bool {
	if len(s) == 0 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
