package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
)

func openNewsInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, g := range []string{"misc.test", "alt.test"} {
		if err := s.AddGroup(context.Background(), g, ""); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// postItem is an item of the writer that posts p, its numbers going to
// *nums.
func postItem(s *Store, p *nntp.Posting, nums *[]nntp.GroupNumber) *delivery {
	return &delivery{ctx: context.Background(), done: make(chan error, 1), apply: func(ctx context.Context, tx *wtx) error {
		var err error
		*nums, err = s.postTx(ctx, tx, p)
		return err
	}}
}

// TestNewsBatchSavepoints: one batch, one commit, holding good posts, a
// duplicate of a message-id posted earlier in the same batch, a post to an
// unknown group and a mail delivery to an unknown address: the failing
// items fail alone, and take back the numbers they took.
func TestNewsBatchSavepoints(t *testing.T) {
	s := openNewsInternal(t)
	nums := make([][]nntp.GroupNumber, 5)
	batch := []*delivery{
		postItem(s, nntptest.NewPosting("<a@example.org>", "a", "b\r\n", "misc.test"), &nums[0]),
		postItem(s, nntptest.NewPosting("<a@example.org>", "a again", "b\r\n", "misc.test", "alt.test"), &nums[1]),
		postItem(s, nntptest.NewPosting("<u@example.org>", "u", "b\r\n", "alt.test", "misc.test", "no.such.group"), &nums[2]),
		{ctx: context.Background(), done: make(chan error, 1), apply: func(ctx context.Context, tx *wtx) error {
			return s.deliverTx(ctx, tx, []string{"ghost@example.org"}, []byte("m\r\n"), parseMessageMeta([]byte("m\r\n")), time.Now())
		}},
		postItem(s, nntptest.NewPosting("<b@example.org>", "b", "b\r\n", "alt.test", "misc.test"), &nums[4]),
	}
	before := s.commits.Load()
	s.commitBatch(batch)
	if n := s.commits.Load() - before; n != 1 {
		t.Errorf("%d commits for one batch", n)
	}
	errs := make([]error, len(batch))
	for i, d := range batch {
		errs[i] = <-d.done
	}
	if errs[0] != nil || !slices.Equal(nums[0], []nntp.GroupNumber{{Group: "misc.test", Number: 1}}) {
		t.Errorf("first post = %v, %v", nums[0], errs[0])
	}
	if !errors.Is(errs[1], nntp.ErrDuplicate) {
		t.Errorf("duplicate in the same batch = %v; want ErrDuplicate", errs[1])
	}
	var nerr *nntp.Error
	if !errors.As(errs[2], &nerr) || nerr.Code != 441 {
		t.Errorf("post to an unknown group = %v; want 441", errs[2])
	}
	if !errors.Is(errs[3], ErrNotFound) {
		t.Errorf("delivery to an unknown address = %v; want ErrNotFound", errs[3])
	}
	if want := []nntp.GroupNumber{{Group: "alt.test", Number: 1}, {Group: "misc.test", Number: 2}}; errs[4] != nil || !slices.Equal(nums[4], want) {
		t.Errorf("last post = %v, %v; want %v", nums[4], errs[4], want)
	}
	var articles, numbers, high int
	s.db.QueryRow(`SELECT count(*) FROM news_articles`).Scan(&articles)
	s.db.QueryRow(`SELECT count(*) FROM news_numbers`).Scan(&numbers)
	s.db.QueryRow(`SELECT sum(high) FROM news_groups WHERE name IN ('misc.test', 'alt.test')`).Scan(&high)
	if articles != 2 || numbers != 3 || high != 3 {
		t.Errorf("%d articles, %d numbers, water marks summing to %d; want 2, 3, 3", articles, numbers, high)
	}
}

// TestNewsBatchFailsWhole: an item whose error ends the transaction (as an
// I/O error can) fails the batch; the others are then committed one by
// one, with their own outcomes, and the numbers stay dense.
func TestNewsBatchFailsWhole(t *testing.T) {
	s := openNewsInternal(t)
	var n1, n2 []nntp.GroupNumber
	broken := errors.New("the transaction ended")
	batch := []*delivery{
		postItem(s, nntptest.NewPosting("<a@example.org>", "a", "b\r\n", "misc.test"), &n1),
		{ctx: context.Background(), done: make(chan error, 1), apply: func(ctx context.Context, tx *wtx) error {
			if _, err := tx.ExecContext(ctx, "ROLLBACK"); err != nil {
				return err
			}
			return broken
		}},
		postItem(s, nntptest.NewPosting("<b@example.org>", "b", "b\r\n", "misc.test"), &n2),
	}
	s.commitBatch(batch)
	errs := []error{<-batch[0].done, <-batch[1].done, <-batch[2].done}
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], broken) {
		t.Fatalf("outcomes %v; want nil, %v, nil", errs, broken)
	}
	if n1[0].Number != 1 || n2[0].Number != 2 {
		t.Errorf("numbers %v, %v; want 1 and 2", n1, n2)
	}
	// The writer goes on.
	if nums, err := s.NNTPBackend().Post(context.Background(), nntptest.NewPosting("<c@example.org>", "c", "b\r\n", "misc.test")); err != nil || nums[0].Number != 3 {
		t.Errorf("Post after = %v, %v", nums, err)
	}
}

// TestNewsPostsShareCommit: posts queued while a commit is in progress
// (held here by the write lock) are committed together, in one commit;
// of the racing posts of one message-id in that batch exactly one wins.
func TestNewsPostsShareCommit(t *testing.T) {
	s := openNewsInternal(t)
	be := s.NNTPBackend()
	ctx := context.Background()
	before := s.commits.Load()
	s.wmu.Lock()
	locked := true
	defer func() {
		if locked {
			s.wmu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := be.Post(ctx, nntptest.NewPosting("<first@example.org>", "first", "b\r\n", "misc.test")); err != nil {
			t.Error(err)
		}
	})
	// The writer has taken the first post, and waits for the lock.
	waitFor(t, func() bool { return len(s.deliveries) == 0 })
	time.Sleep(10 * time.Millisecond)
	const n = 40
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("<p%d@example.org>", i)
			if i%4 == 0 {
				id = "<dup@example.org>"
			}
			_, errs[i] = be.Post(ctx, nntptest.NewPosting(id, "p", "b\r\n", "misc.test"))
		})
	}
	waitFor(t, func() bool { return len(s.deliveries) == n })
	locked = false
	s.wmu.Unlock()
	wg.Wait()
	if c := s.commits.Load() - before; c != 2 {
		t.Errorf("%d commits for the first post and a batch of %d; want 2", c, n)
	}
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			if i%4 == 0 {
				won++
			}
		case i%4 == 0 && errors.Is(err, nntp.ErrDuplicate):
		default:
			t.Errorf("post %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d posts of <dup@example.org> won; want 1", won)
	}
	g, err := be.Group(ctx, "misc.test")
	if want := int64(1 + n - n/4 + 1); err != nil || g.Count != want || g.High != want {
		t.Errorf("misc.test = %+v, %v; want %d articles", g, err, want)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// TestNewsGroupCount: the count column the triggers keep equals the
// group's numbers after posts, crossposts, a refused post and the removal
// of a group that shared an article.
func TestNewsGroupCount(t *testing.T) {
	s := openNewsInternal(t)
	ctx := context.Background()
	be := s.NNTPBackend()
	for i, groups := range [][]string{{"misc.test"}, {"misc.test", "alt.test"}, {"alt.test"}, {"misc.test", "no.such"}} {
		be.Post(ctx, nntptest.NewPosting(fmt.Sprintf("<c%d@example.org>", i), "s", "b\r\n", groups...))
	}
	check := func(when string) {
		t.Helper()
		rows, err := s.db.Query(`SELECT g.name, g.count, (SELECT count(*) FROM news_numbers n WHERE n.group_id = g.id) FROM news_groups g`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var kept, real int64
			rows.Scan(&name, &kept, &real)
			if kept != real {
				t.Errorf("%s: %s count %d; it has %d numbers", when, name, kept, real)
			}
		}
	}
	check("after posting")
	if g, err := be.Group(ctx, "misc.test"); err != nil || g.Count != 2 {
		t.Errorf("Group(misc.test) = %+v, %v; want 2 articles", g, err)
	}
	if err := s.RemoveGroup(ctx, "alt.test"); err != nil {
		t.Fatal(err)
	}
	check("after removing alt.test")
}
