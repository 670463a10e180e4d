package nntp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/inetkit/inetkit/sockserver"
)

// maxArticleBytes returns the article size limit.
func (c *serverConn) maxArticleBytes() int64 {
	if c.srv.MaxArticleBytes > 0 {
		return c.srv.MaxArticleBytes
	}
	return DefaultMaxArticleBytes
}

// receive sends the continuation reply (340 or 335), then reads the
// article, dot-stuffed, up to its terminating line. It returns nil data and
// tooBig for an article over the size limit, read to its end. An error
// ends the connection.
func (c *serverConn) receive(code int, text string) (data []byte, tooBig bool, err error) {
	c.reply(code, text)
	if err := c.lc.Flush(); err != nil {
		return nil, false, errClose
	}
	// Shutdown lets the article arrive: the session is in the middle of
	// a command although its last reply has been sent.
	sockserver.MarkBusy(c.raw)
	r := c.lc.Reader()
	timeout := c.cfg.Limits.CommandTimeout
	before := func() {
		if timeout > 0 {
			r.SetDeadline(time.Now().Add(timeout))
		}
	}
	data, tooBig, err = readArticle(r, c.maxArticleBytes(), before)
	r.SetDeadline(time.Time{})
	r.EndCommand()
	if err != nil {
		c.lc.Log.Info("reading article", "err", err)
		c.lc.ReadFailed(err)
		return nil, false, errClose
	}
	return normalizeCRLF(data), tooBig, nil
}

// newMessageID returns a new message-id on the server's host.
func (c *serverConn) newMessageID() string {
	var b [12]byte
	rand.Read(b[:])
	return "<" + time.Now().UTC().Format("20060102150405") + "." + hex.EncodeToString(b[:]) + "@" + c.host + ">"
}

func nowDate() string { return time.Now().Format(time.RFC1123Z) }

// cmdPost answers POST (RFC 3977 §6.3.1).
func (c *serverConn) cmdPost(a []string) error {
	if len(a) > 0 {
		return c.fail(errSyntax)
	}
	if !c.mayPost() {
		return c.send(errAuthRequired)
	}
	data, tooBig, err := c.receive(340, "Input article; end with <CR-LF>.<CR-LF>")
	if err != nil {
		return err
	}
	if tooBig {
		c.lc.Log.Info("article refused: too large", "limit", c.maxArticleBytes())
		return c.send(&Error{Code: 441, Message: "Article too large"})
	}
	art, reason := checkArticle(data, articleOptions{host: c.host, newID: c.newMessageID, now: nowDate})
	if reason != "" {
		c.lc.Log.Info("article refused", "reason", reason)
		return c.send(&Error{Code: 441, Message: "Posting failed: " + reason})
	}
	for _, name := range art.newsgroups {
		g, err := c.srv.Backend.Group(c.ctx, name)
		if errors.Is(err, ErrNoSuchGroup) {
			return c.send(&Error{Code: 441, Message: "Posting failed: no such newsgroup " + name})
		} else if err != nil {
			return c.postFailed(err, &Error{Code: 441, Message: "Posting failed: internal fault"})
		}
		if g.Status == StatusPostingNotAllowed {
			return c.send(&Error{Code: 441, Message: "Posting failed: posting to " + name + " is not allowed"})
		}
		art.p.Groups = append(art.p.Groups, g.Name)
	}
	art.p.User = c.user
	if done, err := c.injectArticle("POST", 441, "Posting failed"); done {
		return err
	}
	if _, err := c.srv.Backend.Post(c.ctx, &art.p); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return c.send(&Error{Code: 441, Message: "Posting failed: duplicate message-id " + art.p.MessageID})
		}
		return c.postFailed(err, &Error{Code: 441, Message: "Posting failed: internal fault"})
	}
	c.lc.Log.Info("article posted", "message_id", art.p.MessageID, "bytes", art.p.Bytes)
	c.reply(240, "Article received OK "+art.p.MessageID)
	return nil
}

// postFailed answers a backend error of POST or IHAVE: a *Error as it is,
// anything else as internal.
func (c *serverConn) postFailed(err error, internal *Error) error {
	e := c.backendError("post", err, internal)
	if e == nil {
		return errClose
	}
	return c.send(e)
}

// cmdIHave answers IHAVE (RFC 3977 §6.3.2).
func (c *serverConn) cmdIHave(a []string) error {
	if len(a) != 1 || !validMessageID(a[0]) {
		return c.fail(errSyntax)
	}
	if !c.mayPost() {
		return c.send(errAuthRequired)
	}
	id := a[0]
	retry := &Error{Code: 436, Message: "Transfer not possible; try again later"}
	_, err := c.srv.Backend.ArticleByID(c.ctx, id, false)
	switch {
	case err == nil:
		return c.send(&Error{Code: 435, Message: "Article not wanted"})
	case !errors.Is(err, ErrNoSuchArticle):
		return c.postFailed(err, retry)
	}
	data, tooBig, err := c.receive(335, "Send it; end with <CR-LF>.<CR-LF>")
	if err != nil {
		return err
	}
	if tooBig {
		return c.send(&Error{Code: 437, Message: "Transfer rejected: article too large"})
	}
	art, reason := checkArticle(data, articleOptions{host: c.host, newID: c.newMessageID, now: nowDate, transfer: true, messageID: id})
	if reason != "" {
		return c.send(&Error{Code: 437, Message: "Transfer rejected: " + reason})
	}
	for _, name := range art.newsgroups {
		g, err := c.srv.Backend.Group(c.ctx, name)
		if errors.Is(err, ErrNoSuchGroup) {
			continue
		} else if err != nil {
			return c.postFailed(err, retry)
		}
		art.p.Groups = append(art.p.Groups, g.Name)
	}
	if len(art.p.Groups) == 0 {
		return c.send(&Error{Code: 437, Message: "Transfer rejected: no wanted newsgroups"})
	}
	art.p.User = c.user
	if done, err := c.injectArticle("IHAVE", 436, "Transfer not possible"); done {
		return err
	}
	if _, err := c.srv.Backend.Post(c.ctx, &art.p); err != nil {
		var e *Error
		switch {
		case errors.Is(err, ErrDuplicate):
			return c.send(&Error{Code: 437, Message: "Transfer rejected: duplicate message-id"})
		case errors.As(err, &e) && e.Code == 441:
			return c.send(&Error{Code: 437, Message: "Transfer rejected: " + e.Message})
		}
		return c.postFailed(err, retry)
	}
	c.reply(235, "Article transferred OK")
	return nil
}
