package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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

// TestNewsDurable: articles acknowledged with 240 (small and spread over
// several 64 KiB pieces) are in the store after it is closed and opened
// again, with their numbers.
func TestNewsDurable(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, &store.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	s := nntptest.NewServer(st.NNTPBackend())
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		id, err := c.Post(strings.NewReader(fmt.Sprintf("From: a@example.org\r\nNewsgroups: %s\r\nSubject: n%d\r\n\r\n%s\r\n", store.DefaultNewsGroup, i, strings.Repeat("x", i*70000))))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	c.Close()
	s.Close()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	be := st.NNTPBackend()
	ctx := context.Background()
	g, err := be.Group(ctx, store.DefaultNewsGroup)
	if err != nil || g.Count != 3 || g.Low != 1 || g.High != 3 {
		t.Fatalf("Group after reopen = %+v, %v", g, err)
	}
	for i, id := range ids {
		a, err := be.ArticleByID(ctx, id, true)
		if err != nil {
			t.Fatalf("ArticleByID(%s) = %v", id, err)
		}
		b, err := io.ReadAll(a.Body)
		a.Body.Close()
		if err != nil || string(b) != strings.Repeat("x", i*70000)+"\r\n" {
			t.Errorf("body of %s: %d octets, %v", id, len(b), err)
		}
	}
	var ok string
	if err := st.DB().QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
}

// TestNewsGroups: AddGroup, ListGroups, RemoveGroup; the default group.
func TestNewsGroups(t *testing.T) {
	st := openNews(t, nil)
	ctx := context.Background()
	if err := st.AddGroup(ctx, "misc.test", ""); !errors.Is(err, store.ErrExists) {
		t.Errorf("AddGroup of an existing group = %v; want ErrExists", err)
	}
	if err := st.AddGroup(ctx, "bad name", ""); err == nil {
		t.Error("AddGroup accepted a name with a space")
	}
	groups, err := st.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	if want := []string{"alt.test", store.DefaultNewsGroup, "misc.test"}; !slices.Equal(names, want) {
		t.Errorf("ListGroups = %v; want %v", names, want)
	}
	be := st.NNTPBackend()
	if _, err := be.Post(ctx, nntptest.NewPosting("<x@example.org>", "x", "b\r\n", "misc.test", "alt.test")); err != nil {
		t.Fatal(err)
	}
	if _, err := be.Post(ctx, nntptest.NewPosting("<y@example.org>", "y", "b\r\n", "misc.test")); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveGroup(ctx, "misc.test"); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveGroup(ctx, "misc.test"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RemoveGroup twice = %v; want ErrNotFound", err)
	}
	if _, err := be.ArticleByID(ctx, "<y@example.org>", false); !errors.Is(err, nntp.ErrNoSuchArticle) {
		t.Errorf("article only in the removed group: %v; want gone", err)
	}
	if _, err := be.ArticleByID(ctx, "<x@example.org>", false); err != nil {
		t.Errorf("crossposted article: %v; want kept", err)
	}
}

// TestNewsAnyLogin: with AnyLogin any login is accepted, without making a
// user; an account still needs its password.
func TestNewsAnyLogin(t *testing.T) {
	st := openNews(t, &store.Options{AnyLogin: true})
	be := st.NNTPBackend()
	ctx := context.Background()
	if err := be.Login(ctx, "reader", "anything"); err != nil {
		t.Errorf("Login(reader) = %v", err)
	}
	if err := be.Login(ctx, "alice", "wrong"); !errors.Is(err, nntp.ErrAuthFailed) {
		t.Errorf("Login(alice, wrong) = %v; want ErrAuthFailed", err)
	}
	users, _ := st.Users(ctx)
	if !slices.Equal(users, []string{"alice"}) {
		t.Errorf("users %v; want only alice", users)
	}
}

// BenchmarkNewsPost posts articles through the server to the store, each
// committed before its 240.
func BenchmarkNewsPost(b *testing.B) {
	st := openNews(b, nil)
	s := nntptest.NewServer(st.NNTPBackend())
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	body := strings.Repeat("a line of text in the body of the article\r\n", 40)
	b.ResetTimer()
	for i := range b.N {
		if _, err := c.Post(strings.NewReader(fmt.Sprintf("From: a@example.org\r\nNewsgroups: misc.test\r\nSubject: bench %d\r\n\r\n%s", i, body))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "articles/s")
}

// BenchmarkNewsOver reads the overview of 10,000 articles with OVER.
func BenchmarkNewsOver(b *testing.B) {
	st := openNews(b, nil)
	be := st.NNTPBackend()
	ctx := context.Background()
	const n = 10000
	for i := range n {
		if _, err := be.Post(ctx, nntptest.NewPosting(fmt.Sprintf("<o%d@example.org>", i), fmt.Sprintf("subject %d", i), "b\r\n", "misc.test")); err != nil {
			b.Fatal(err)
		}
	}
	s := nntptest.NewServer(be)
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Group("misc.test"); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		ovs, err := c.Over(1, 0)
		if err != nil || len(ovs) != n {
			b.Fatalf("Over = %d, %v", len(ovs), err)
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "overviews/s")
}
