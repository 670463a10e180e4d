package nntptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/nntp"
)

// NewPosting returns a Posting as the server makes it for an article with
// message-id id, subject, body, filed in groups: header fields Path, From,
// Newsgroups, Subject, Date and Message-ID, CRLF line endings.
func NewPosting(id, subject, body string, groups ...string) *nntp.Posting {
	date := "Mon, 01 Jan 2024 00:00:00 +0000"
	header := "Path: news.test!not-for-mail\r\nFrom: Alice <alice@example.org>\r\n" +
		"Newsgroups: " + strings.Join(groups, ",") + "\r\nSubject: " + subject + "\r\n" +
		"Date: " + date + "\r\nMessage-ID: " + id + "\r\n"
	return &nntp.Posting{
		Header:    []byte(header),
		Body:      []byte(body),
		Groups:    groups,
		MessageID: id,
		Subject:   subject,
		From:      "Alice <alice@example.org>",
		Date:      date,
		Bytes:     int64(len(header) + 2 + len(body)),
		Lines:     int64(strings.Count(body, "\n")),
	}
}

// TestBackend checks that a Backend behaves as package nntp requires.
//
// newBackend must return a new Backend with the user "alice", password
// "secret", and the newsgroups "misc.test" and "alt.test", empty and open
// to posting; it may have other groups, but no articles. The Backend must
// then satisfy:
//
//   - Login("alice", "secret") succeeds; a wrong password or an unknown
//     user returns an error that is, or wraps, a *nntp.Error with code 481.
//   - Groups lists the groups sorted by name; Group returns one, or
//     nntp.ErrNoSuchGroup. An empty group has High < Low.
//   - Post gives an article the next number in each of its groups (one
//     article, a number in each group of a crosspost), never a number used
//     before; a second Post of the same message-id returns nntp.ErrDuplicate
//     and stores nothing.
//   - Article and ArticleByID return the header and body exactly as
//     posted, Bytes and Lines as posted, and Xref as "group:n" entries in
//     the order of the groups; the body only when asked for. An unknown
//     number or message-id returns nntp.ErrNoSuchArticle.
//   - Numbers and Overview honour their range and limit; Previous finds the
//     article before a number.
//   - NewNews returns the articles that arrived at or after a time.
//   - Concurrent Posts get distinct, increasing numbers.
//
// TestBackend runs its checks as subtests, each on a new Backend.
func TestBackend(t *testing.T, newBackend func(t *testing.T) nntp.Backend) {
	ctx := context.Background()
	post := func(t *testing.T, be nntp.Backend, p *nntp.Posting) []nntp.GroupNumber {
		t.Helper()
		nums, err := be.Post(ctx, p)
		if err != nil {
			t.Fatalf("Post(%s) = %v", p.MessageID, err)
		}
		if len(nums) != len(p.Groups) {
			t.Fatalf("Post(%s) = %v; want a number in each of %v", p.MessageID, nums, p.Groups)
		}
		for i, gn := range nums {
			if gn.Group != p.Groups[i] || gn.Number < 1 {
				t.Fatalf("Post(%s) = %v; want numbers for %v in order", p.MessageID, nums, p.Groups)
			}
		}
		return nums
	}
	group := func(t *testing.T, be nntp.Backend, name string) nntp.Group {
		t.Helper()
		g, err := be.Group(ctx, name)
		if err != nil {
			t.Fatalf("Group(%q) = %v", name, err)
		}
		return g
	}
	readBody := func(t *testing.T, a *nntp.Article) string {
		t.Helper()
		if a.Body == nil {
			t.Fatal("Article with body = true has no Body")
		}
		defer a.Body.Close()
		b, err := io.ReadAll(a.Body)
		if err != nil {
			t.Fatalf("reading body: %v", err)
		}
		return string(b)
	}

	t.Run("Login", func(t *testing.T) {
		be := newBackend(t)
		if err := be.Login(ctx, "alice", "secret"); err != nil {
			t.Errorf("Login(alice, secret) = %v; want nil", err)
		}
		for _, c := range [][2]string{{"alice", "wrong"}, {"nobody@example.org", "secret"}} {
			var e *nntp.Error
			if err := be.Login(ctx, c[0], c[1]); !errors.As(err, &e) || e.Code != 481 {
				t.Errorf("Login(%q, %q) = %v; want a 481 *nntp.Error", c[0], c[1], err)
			}
		}
	})

	t.Run("Groups", func(t *testing.T) {
		be := newBackend(t)
		groups, err := be.Groups(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range groups {
			names = append(names, g.Name)
		}
		if !slices.IsSorted(names) || !slices.Contains(names, "misc.test") || !slices.Contains(names, "alt.test") {
			t.Errorf("Groups() = %v; want sorted, with misc.test and alt.test", names)
		}
		g := group(t, be, "misc.test")
		if g.Count != 0 || g.High >= g.Low || g.Status != nntp.StatusPostingAllowed {
			t.Errorf("Group(misc.test) = %+v; want empty (High < Low), status y", g)
		}
		if _, err := be.Group(ctx, "no.such.group"); !errors.Is(err, nntp.ErrNoSuchGroup) {
			t.Errorf("Group(no.such.group) = %v; want ErrNoSuchGroup", err)
		}
	})

	t.Run("PostAndRead", func(t *testing.T) {
		be := newBackend(t)
		before := time.Now().Add(-2 * time.Second)
		p1 := NewPosting("<one@example.org>", "one", "first\r\n", "misc.test")
		p2 := NewPosting("<two@example.org>", "two", ".dot\r\n..two\r\n.\r\nend\r\n", "misc.test", "alt.test")
		n1 := post(t, be, p1)
		n2 := post(t, be, p2)
		if n2[0].Number <= n1[0].Number {
			t.Errorf("numbers in misc.test: %d then %d; want increasing", n1[0].Number, n2[0].Number)
		}
		g := group(t, be, "misc.test")
		if g.Count != 2 || g.Low != n1[0].Number || g.High != n2[0].Number {
			t.Errorf("Group(misc.test) = %+v; want 2 articles %d-%d", g, n1[0].Number, n2[0].Number)
		}
		if g := group(t, be, "alt.test"); g.Count != 1 || g.High != n2[1].Number {
			t.Errorf("Group(alt.test) = %+v; want 1 article, high %d", g, n2[1].Number)
		}
		a, err := be.Article(ctx, "alt.test", n2[1].Number, true)
		if err != nil {
			t.Fatalf("Article(alt.test, %d) = %v", n2[1].Number, err)
		}
		if string(a.Header) != string(p2.Header) || a.MessageID != p2.MessageID || a.Bytes != p2.Bytes || a.Lines != p2.Lines {
			t.Errorf("Article = %q %s %d %d; want %q %s %d %d", a.Header, a.MessageID, a.Bytes, a.Lines, p2.Header, p2.MessageID, p2.Bytes, p2.Lines)
		}
		wantXref := fmt.Sprintf("misc.test:%d alt.test:%d", n2[0].Number, n2[1].Number)
		if a.Xref != wantXref {
			t.Errorf("Xref = %q; want %q", a.Xref, wantXref)
		}
		if got := readBody(t, a); got != string(p2.Body) {
			t.Errorf("body = %q; want %q", got, p2.Body)
		}
		a, err = be.ArticleByID(ctx, p1.MessageID, false)
		if err != nil {
			t.Fatalf("ArticleByID = %v", err)
		}
		if a.Body != nil {
			a.Body.Close()
			t.Error("ArticleByID with body = false returned a Body")
		}
		if string(a.Header) != string(p1.Header) || a.Number != 0 {
			t.Errorf("ArticleByID = %q, number %d; want %q, 0", a.Header, a.Number, p1.Header)
		}
		a, err = be.ArticleByID(ctx, p1.MessageID, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := readBody(t, a); got != "first\r\n" {
			t.Errorf("body = %q", got)
		}
		if _, err := be.Article(ctx, "misc.test", n2[0].Number+100, false); !errors.Is(err, nntp.ErrNoSuchArticle) {
			t.Errorf("Article of an unknown number = %v; want ErrNoSuchArticle", err)
		}
		if _, err := be.ArticleByID(ctx, "<none@example.org>", false); !errors.Is(err, nntp.ErrNoSuchArticle) {
			t.Errorf("ArticleByID of an unknown id = %v; want ErrNoSuchArticle", err)
		}
		news, err := be.NewNews(ctx, before)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, n := range news {
			ids = append(ids, n.MessageID)
		}
		if !slices.Equal(ids, []string{p1.MessageID, p2.MessageID}) || !slices.Equal(news[1].Groups, p2.Groups) {
			t.Errorf("NewNews = %+v; want both articles, oldest first, with their groups", news)
		}
		if news, err := be.NewNews(ctx, time.Now().Add(time.Hour)); err != nil || len(news) != 0 {
			t.Errorf("NewNews(in an hour) = %v, %v; want none", news, err)
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		be := newBackend(t)
		post(t, be, NewPosting("<dup@example.org>", "one", "x\r\n", "misc.test"))
		_, err := be.Post(ctx, NewPosting("<dup@example.org>", "again", "y\r\n", "alt.test"))
		if !errors.Is(err, nntp.ErrDuplicate) {
			t.Errorf("second Post of the same id = %v; want ErrDuplicate", err)
		}
		if g := group(t, be, "alt.test"); g.Count != 0 {
			t.Errorf("alt.test holds %d articles after a refused post; want 0", g.Count)
		}
	})

	t.Run("Ranges", func(t *testing.T) {
		be := newBackend(t)
		var nums []int64
		for i := range 7 {
			n := post(t, be, NewPosting(fmt.Sprintf("<r%d@example.org>", i), fmt.Sprintf("s%d", i), "b\r\n", "misc.test"))
			nums = append(nums, n[0].Number)
		}
		got, err := be.Numbers(ctx, "misc.test", nums[1], nums[5], 3)
		if err != nil || !slices.Equal(got, nums[1:4]) {
			t.Errorf("Numbers(%d-%d, limit 3) = %v, %v; want %v", nums[1], nums[5], got, err, nums[1:4])
		}
		got, err = be.Numbers(ctx, "misc.test", nums[6]+1, 1<<62, 10)
		if err != nil || len(got) != 0 {
			t.Errorf("Numbers after the last = %v, %v; want none", got, err)
		}
		if p, err := be.Previous(ctx, "misc.test", nums[3]); err != nil || p != nums[2] {
			t.Errorf("Previous(%d) = %d, %v; want %d", nums[3], p, err, nums[2])
		}
		if p, err := be.Previous(ctx, "misc.test", nums[0]); err != nil || p != 0 {
			t.Errorf("Previous(first) = %d, %v; want 0", p, err)
		}
		ovs, err := be.Overview(ctx, "misc.test", nums[2], 1<<62, 2)
		if err != nil || len(ovs) != 2 {
			t.Fatalf("Overview(limit 2) = %v, %v", ovs, err)
		}
		o := ovs[0]
		want := NewPosting("<r2@example.org>", "s2", "b\r\n", "misc.test")
		if o.Number != nums[2] || o.Subject != "s2" || o.From != want.From || o.Date != want.Date || o.MessageID != want.MessageID ||
			o.Bytes != want.Bytes || o.Lines != 1 || o.Xref != fmt.Sprintf("misc.test:%d", nums[2]) {
			t.Errorf("Overview = %+v", o)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		be := newBackend(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got []int64
		for i := range 8 {
			wg.Go(func() {
				for j := range 5 {
					nums, err := be.Post(ctx, NewPosting(fmt.Sprintf("<c%d.%d@example.org>", i, j), "c", "b\r\n", "misc.test"))
					if err != nil {
						t.Errorf("Post: %v", err)
						return
					}
					mu.Lock()
					got = append(got, nums[0].Number)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(got)
		if len(slices.Compact(slices.Clone(got))) != 40 {
			t.Errorf("40 concurrent posts got numbers %v; want 40 distinct", got)
		}
		if g := group(t, be, "misc.test"); g.Count != 40 || g.High != got[len(got)-1] {
			t.Errorf("Group = %+v; want 40 articles up to %d", g, got[len(got)-1])
		}
	})
}
