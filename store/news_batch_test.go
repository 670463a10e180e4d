package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
	"github.com/inetkit/inetkit/store"
	"golang.org/x/crypto/bcrypt"
)

// TestNewsPostConcurrent: many posts at once, committed together, among
// them several posts of each of a few message-ids racing one another, posts
// to an unknown group and crossposts. Exactly one post of each message-id
// wins, the others get ErrDuplicate; a post to an unknown group fails
// alone; the numbers of each group are dense and each given once; every
// acknowledged article is in the store, under its numbers, after Close and
// Open.
func TestNewsPostConcurrent(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, &store.Options{PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, g := range []string{"misc.test", "alt.test"} {
		if err := st.AddGroup(ctx, g, ""); err != nil {
			t.Fatal(err)
		}
	}
	be := st.NNTPBackend()

	const (
		single = 300 // posts of their own message-id
		dupIDs = 10  // message-ids posted by racers posts each
		racers = 8
	)
	type post struct {
		p    *nntp.Posting
		nums []nntp.GroupNumber
		err  error
	}
	var posts []*post
	for i := range single {
		groups := []string{"misc.test"}
		switch {
		case i%7 == 0:
			groups = append(groups, "alt.test")
		case i%25 == 0:
			groups = append(groups, "no.such.group")
		}
		posts = append(posts, &post{p: nntptest.NewPosting(fmt.Sprintf("<s%d@example.org>", i), fmt.Sprintf("s%d", i), fmt.Sprintf("body %d\r\n", i), groups...)})
	}
	for i := range dupIDs {
		for r := range racers {
			posts = append(posts, &post{p: nntptest.NewPosting(fmt.Sprintf("<d%d@example.org>", i), fmt.Sprintf("d%d r%d", i, r), fmt.Sprintf("racer %d\r\n", r), "alt.test", "misc.test")})
		}
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range posts {
		wg.Go(func() {
			<-start
			p.nums, p.err = be.Post(ctx, p.p)
		})
	}
	close(start)
	wg.Wait()

	numbers := map[string]map[int64]string{} // group → number → message-id
	winners := map[string]int{}
	acked := map[string]*post{}
	for _, p := range posts {
		id := p.p.MessageID
		unknown := slices.Contains(p.p.Groups, "no.such.group")
		switch {
		case unknown:
			if p.err == nil {
				t.Errorf("post of %s to an unknown group succeeded", id)
			} else if errors.Is(p.err, nntp.ErrDuplicate) {
				t.Errorf("post of %s to an unknown group: %v", id, p.err)
			}
			continue
		case p.err == nil:
			winners[id]++
			acked[id] = p
		case errors.Is(p.err, nntp.ErrDuplicate):
			if strings.HasPrefix(id, "<s") {
				t.Errorf("post of %s (one post only): %v", id, p.err)
			}
			continue
		default:
			t.Errorf("post of %s: %v", id, p.err)
			continue
		}
		if len(p.nums) != len(p.p.Groups) {
			t.Errorf("post of %s: numbers %v for groups %v", id, p.nums, p.p.Groups)
		}
		for _, gn := range p.nums {
			if numbers[gn.Group] == nil {
				numbers[gn.Group] = map[int64]string{}
			}
			if other, ok := numbers[gn.Group][gn.Number]; ok {
				t.Errorf("%s:%d given to %s and %s", gn.Group, gn.Number, other, id)
			}
			numbers[gn.Group][gn.Number] = id
		}
	}
	for i := range dupIDs {
		if id := fmt.Sprintf("<d%d@example.org>", i); winners[id] != 1 {
			t.Errorf("%s: %d posts succeeded; want 1", id, winners[id])
		}
	}
	for g, nums := range numbers {
		for n := int64(1); n <= int64(len(nums)); n++ {
			if _, ok := nums[n]; !ok {
				t.Errorf("%s: %d numbers given, but not %d", g, len(nums), n)
			}
		}
	}

	// The next post after the race gets the next numbers.
	nums, err := be.Post(ctx, nntptest.NewPosting("<after@example.org>", "after", "b\r\n", "misc.test"))
	if err != nil || len(nums) != 1 || nums[0].Number != int64(len(numbers["misc.test"])+1) {
		t.Errorf("post after the race = %v, %v; want misc.test:%d", nums, err, len(numbers["misc.test"])+1)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, err = store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	be = st.NNTPBackend()
	for g, nums := range numbers {
		want := int64(len(nums))
		if g == "misc.test" {
			want++
		}
		grp, err := be.Group(ctx, g)
		if err != nil || grp.Count != want || grp.Low != 1 || grp.High != want {
			t.Errorf("Group(%s) after reopen = %+v, %v; want 1-%d, %d articles", g, grp, err, want, want)
		}
		for n, id := range nums {
			a, err := be.Article(ctx, g, n, false)
			if err != nil || a.MessageID != id {
				t.Errorf("%s:%d after reopen = %v, %v; want %s", g, n, a, err, id)
			}
		}
	}
	for id, p := range acked {
		a, err := be.ArticleByID(ctx, id, true)
		if err != nil {
			t.Errorf("ArticleByID(%s) after reopen: %v", id, err)
			continue
		}
		body, err := io.ReadAll(a.Body)
		a.Body.Close()
		if err != nil || string(body) != string(p.p.Body) {
			t.Errorf("body of %s = %q, %v; want %q", id, body, err, p.p.Body)
		}
		if !strings.Contains(string(a.Header), "Subject: "+p.p.Subject+"\r\n") {
			t.Errorf("header of %s is not the winner's (%s)", id, p.p.Subject)
		}
	}
	var ok string
	if err := st.DB().QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("integrity_check = %q, %v", ok, err)
	}
}

// TestNewsPostAfterClose: a Post on a closed store fails, and does not
// hang.
func TestNewsPostAfterClose(t *testing.T) {
	st := openNews(t, nil)
	be := st.NNTPBackend()
	st.Close()
	if _, err := be.Post(context.Background(), nntptest.NewPosting("<c@example.org>", "c", "b\r\n", "misc.test")); err == nil {
		t.Error("Post after Close succeeded")
	}
}

// TestNewsPostAndDeliver: mail deliveries and news posts racing each other
// share the writer; each gets its own outcome.
func TestNewsPostAndDeliver(t *testing.T) {
	st := openNews(t, nil)
	be := st.NNTPBackend()
	ctx := context.Background()
	start := make(chan struct{})
	var wg sync.WaitGroup
	var posted, delivered, failed atomic.Int64
	for i := range 100 {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				if _, err := be.Post(ctx, nntptest.NewPosting(fmt.Sprintf("<m%d@example.org>", i), "m", "b\r\n", "misc.test")); err != nil {
					t.Errorf("post %d: %v", i, err)
				}
				posted.Add(1)
				return
			}
			rcpt := "alice"
			if i%10 == 1 {
				rcpt = "ghost@example.org"
			}
			err := st.Deliver(ctx, []string{rcpt}, fmt.Appendf(nil, "Subject: %d\r\n\r\nbody\r\n", i), time.Now())
			switch {
			case rcpt == "alice" && err == nil:
				delivered.Add(1)
			case rcpt != "alice" && errors.Is(err, store.ErrNotFound):
				failed.Add(1)
			default:
				t.Errorf("delivery %d to %s: %v", i, rcpt, err)
			}
		})
	}
	close(start)
	wg.Wait()
	var msgs int
	st.DB().QueryRow(`SELECT count(*) FROM messages`).Scan(&msgs)
	if g, err := be.Group(ctx, "misc.test"); err != nil || g.Count != posted.Load() || g.High != posted.Load() {
		t.Errorf("misc.test = %+v, %v; want %d articles", g, err, posted.Load())
	}
	if int64(msgs) != delivered.Load() || delivered.Load() != 40 || failed.Load() != 10 {
		t.Errorf("%d messages stored, %d delivered, %d failed; want 40, 40, 10", msgs, delivered.Load(), failed.Load())
	}
}

// BenchmarkNewsPostParallel posts articles straight to the backend from 8
// goroutines per CPU, as posting sessions would: each Post returns once its
// article is committed, and posts that arrive together share a commit.
func BenchmarkNewsPostParallel(b *testing.B) {
	st := openNews(b, nil)
	be := st.NNTPBackend()
	ctx := context.Background()
	body := strings.Repeat("a line of text in the body of the article\r\n", 40)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := be.Post(ctx, nntptest.NewPosting(fmt.Sprintf("<p%d@example.org>", i), fmt.Sprintf("bench %d", i), body, "misc.test")); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "articles/s")
}
