package nntp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"
)

// NewPosting checks an article to be posted, as POST does (RFC 3977
// §6.3.1): article is its header and body with CRLF line endings, without
// dot-stuffing. It completes it as the server does (RFC 5537 §3.5): an Xref
// field removed, host put in front of the Path, Date and Message-ID added
// if missing; and it looks up the groups of its Newsgroups field in be,
// which must all exist and allow posting. It returns the Posting to hand
// to be.Post, its User set to user, or a *Error with code 441 that says why
// the article is refused (an error of be otherwise). host "" means the
// system's host name, as Server.Hostname.
//
// It is for posting articles to a Backend by other means than NNTP (an
// HTTP API), with the checks of POST.
func NewPosting(ctx context.Context, be Backend, article []byte, host, user string) (*Posting, error) {
	if host == "" {
		host = systemHost()
	}
	newID := func() string {
		var b [12]byte
		rand.Read(b[:])
		return "<" + time.Now().UTC().Format("20060102150405") + "." + hex.EncodeToString(b[:]) + "@" + host + ">"
	}
	art, reason := checkArticle(normalizeCRLF(article), articleOptions{host: host, newID: newID, now: nowDate})
	if reason != "" {
		return nil, &Error{Code: 441, Message: "Posting failed: " + reason}
	}
	for _, name := range art.newsgroups {
		g, err := be.Group(ctx, name)
		if errors.Is(err, ErrNoSuchGroup) {
			return nil, &Error{Code: 441, Message: "Posting failed: no such newsgroup " + name}
		} else if err != nil {
			return nil, err
		}
		if g.Status == StatusPostingNotAllowed {
			return nil, &Error{Code: 441, Message: "Posting failed: posting to " + name + " is not allowed"}
		}
		art.p.Groups = append(art.p.Groups, g.Name)
	}
	art.p.User = user
	return &art.p, nil
}
