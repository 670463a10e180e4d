package nntptest

import (
	"bytes"
	"context"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inetkit/inetkit/nntp"
)

// A Spool is an in-memory nntp.Backend for tests: newsgroups, their
// articles, and one user. It is safe for concurrent use.
type Spool struct {
	user, pass string

	mu     sync.Mutex
	groups map[string]*spoolGroup
	byID   map[string]*spoolArticle
	order  []*spoolArticle // in order of arrival
}

type spoolGroup struct {
	info nntp.Group
	arts map[int64]*spoolArticle
	nums []int64 // ascending
}

type spoolArticle struct {
	p       nntp.Posting
	xref    string
	arrived time.Time
}

// NewSpool returns a Spool with the user user, password pass, and the
// given newsgroups, empty and open to posting.
func NewSpool(user, pass string, groups ...string) *Spool {
	s := &Spool{user: user, pass: pass, groups: make(map[string]*spoolGroup), byID: make(map[string]*spoolArticle)}
	for _, g := range groups {
		s.AddGroup(g, "", nntp.StatusPostingAllowed)
	}
	return s
}

// AddGroup adds an empty newsgroup, created now, with a description and a
// posting status. Adding a group that exists does nothing.
func (s *Spool) AddGroup(name, description string, status byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[name] != nil {
		return
	}
	s.groups[name] = &spoolGroup{
		info: nntp.Group{Name: name, Description: description, Low: 1, High: 0, Status: status, Created: time.Now()},
		arts: make(map[int64]*spoolArticle),
	}
}

// Len returns the number of articles the Spool holds.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// Stored returns the article with message-id id as ARTICLE sends it
// without Xref (header, empty line, body), or false.
func (s *Spool) Stored(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.byID[id]
	if a == nil {
		return "", false
	}
	return string(a.p.Header) + "\r\n" + string(a.p.Body), true
}

// Login implements nntp.Backend.
func (s *Spool) Login(ctx context.Context, user, pass string) error {
	if user != s.user || pass != s.pass || user == "" {
		return nntp.ErrAuthFailed
	}
	return nil
}

func (g *spoolGroup) snapshot() nntp.Group {
	info := g.info
	info.Count = int64(len(g.nums))
	if len(g.nums) > 0 {
		info.Low = g.nums[0]
	} else {
		info.Low = info.High + 1
	}
	return info
}

// Groups implements nntp.Backend.
func (s *Spool) Groups(ctx context.Context) ([]nntp.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []nntp.Group
	for _, g := range s.groups {
		out = append(out, g.snapshot())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Group implements nntp.Backend.
func (s *Spool) Group(ctx context.Context, name string) (nntp.Group, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[name]
	if g == nil {
		return nntp.Group{}, nntp.ErrNoSuchGroup
	}
	return g.snapshot(), nil
}

func (g *spoolGroup) between(low, high int64) []int64 {
	i := sort.Search(len(g.nums), func(i int) bool { return g.nums[i] >= low })
	j := sort.Search(len(g.nums), func(i int) bool { return g.nums[i] > high })
	if i >= j {
		return nil
	}
	return g.nums[i:j]
}

// Numbers implements nntp.Backend.
func (s *Spool) Numbers(ctx context.Context, group string, low, high int64, limit int) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return nil, nntp.ErrNoSuchGroup
	}
	nums := g.between(low, high)
	return slices.Clone(nums[:min(len(nums), limit)]), nil
}

// Previous implements nntp.Backend.
func (s *Spool) Previous(ctx context.Context, group string, n int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return 0, nntp.ErrNoSuchGroup
	}
	nums := g.between(1, n-1)
	if len(nums) == 0 {
		return 0, nil
	}
	return nums[len(nums)-1], nil
}

func (a *spoolArticle) article(n int64, body bool) *nntp.Article {
	art := &nntp.Article{Number: n, MessageID: a.p.MessageID, Header: a.p.Header, Bytes: a.p.Bytes, Lines: a.p.Lines, Xref: a.xref}
	if body {
		art.Body = io.NopCloser(bytes.NewReader(a.p.Body))
	}
	return art
}

// Article implements nntp.Backend.
func (s *Spool) Article(ctx context.Context, group string, n int64, body bool) (*nntp.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return nil, nntp.ErrNoSuchGroup
	}
	a := g.arts[n]
	if a == nil {
		return nil, nntp.ErrNoSuchArticle
	}
	return a.article(n, body), nil
}

// ArticleByID implements nntp.Backend.
func (s *Spool) ArticleByID(ctx context.Context, id string, body bool) (*nntp.Article, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.byID[id]
	if a == nil {
		return nil, nntp.ErrNoSuchArticle
	}
	return a.article(0, body), nil
}

// Overview implements nntp.Backend.
func (s *Spool) Overview(ctx context.Context, group string, low, high int64, limit int) ([]nntp.Overview, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[group]
	if g == nil {
		return nil, nntp.ErrNoSuchGroup
	}
	nums := g.between(low, high)
	nums = nums[:min(len(nums), limit)]
	out := make([]nntp.Overview, 0, len(nums))
	for _, n := range nums {
		p := &g.arts[n].p
		out = append(out, nntp.Overview{Number: n, Subject: p.Subject, From: p.From, Date: p.Date, MessageID: p.MessageID,
			References: p.References, Bytes: p.Bytes, Lines: p.Lines, Xref: g.arts[n].xref})
	}
	return out, nil
}

// NewNews implements nntp.Backend.
func (s *Spool) NewNews(ctx context.Context, since time.Time) ([]nntp.NewArticle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []nntp.NewArticle
	for _, a := range s.order {
		if !a.arrived.Before(since) {
			out = append(out, nntp.NewArticle{MessageID: a.p.MessageID, Groups: slices.Clone(a.p.Groups)})
		}
	}
	return out, nil
}

// Post implements nntp.Backend.
func (s *Spool) Post(ctx context.Context, p *nntp.Posting) ([]nntp.GroupNumber, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID[p.MessageID] != nil {
		return nil, nntp.ErrDuplicate
	}
	for _, name := range p.Groups {
		if s.groups[name] == nil {
			return nil, &nntp.Error{Code: 441, Message: "no such newsgroup " + name}
		}
	}
	a := &spoolArticle{p: *p, arrived: time.Now()}
	a.p.Header = slices.Clone(p.Header)
	a.p.Body = slices.Clone(p.Body)
	a.p.Groups = slices.Clone(p.Groups)
	var nums []nntp.GroupNumber
	var xref []string
	for _, name := range p.Groups {
		g := s.groups[name]
		g.info.High++
		n := g.info.High
		g.arts[n] = a
		g.nums = append(g.nums, n)
		nums = append(nums, nntp.GroupNumber{Group: name, Number: n})
		xref = append(xref, name+":"+strconv.FormatInt(n, 10))
	}
	a.xref = strings.Join(xref, " ")
	s.byID[p.MessageID] = a
	s.order = append(s.order, a)
	return nums, nil
}

var _ nntp.Backend = (*Spool)(nil)
