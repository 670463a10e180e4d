package nntp

import (
	"context"
	"time"
)

// A Backend authenticates users and keeps the newsgroups and their
// articles. Its methods are called concurrently from many connections; ctx
// is cancelled when the connection ends.
//
// A returned *Error is sent to the client as it is, except as the methods
// say; any other error is logged and the client gets "403 internal fault"
// (or 436 to IHAVE).
//
// Article numbers never go back: a group's high water mark never
// decreases, and a number once given is not given to another article of
// that group.
type Backend interface {
	// Login checks user and pass (AUTHINFO). It returns ErrAuthFailed
	// when they are wrong.
	Login(ctx context.Context, user, pass string) error

	// Groups returns every newsgroup, sorted by name.
	Groups(ctx context.Context) ([]Group, error)
	// Group returns the newsgroup name, or ErrNoSuchGroup.
	Group(ctx context.Context, name string) (Group, error)

	// Numbers returns the numbers of the articles of group from low to
	// high, inclusive, ascending, at most limit of them (limit > 0).
	Numbers(ctx context.Context, group string, low, high int64, limit int) ([]int64, error)
	// Previous returns the number of the last article of group numbered
	// below n, or 0 if there is none.
	Previous(ctx context.Context, group string, n int64) (int64, error)

	// Article returns article n of group, or ErrNoSuchArticle. Its Body is
	// set only if body is true.
	Article(ctx context.Context, group string, n int64, body bool) (*Article, error)
	// ArticleByID returns the article with message-id id (with its angle
	// brackets), or ErrNoSuchArticle. Its Number is 0; its Body is set only
	// if body is true.
	ArticleByID(ctx context.Context, id string, body bool) (*Article, error)
	// Overview returns the overviews of the articles of group from low to
	// high, inclusive, ascending, at most limit of them (limit > 0).
	Overview(ctx context.Context, group string, low, high int64, limit int) ([]Overview, error)

	// NewNews returns the articles that arrived at since or later, oldest
	// first.
	NewNews(ctx context.Context, since time.Time) ([]NewArticle, error)

	// Post stores an article in each of p.Groups, which all exist, and
	// returns the number it was given in each, once it is durable: the
	// server says 240 or 235 only after Post returns. It returns
	// ErrDuplicate if an article with p.MessageID exists, and may return a
	// *Error with code 441 to refuse the article for a reason of its own.
	// Nothing of a refused article may be stored.
	Post(ctx context.Context, p *Posting) ([]GroupNumber, error)
}
