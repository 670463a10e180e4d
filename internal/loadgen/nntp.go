package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/nntp"
)

// The operations of an NNTP run.
const (
	// NNTPPost posts articles of Config.Size bytes with POST, each with a
	// message-id of its own; an exchange succeeds on 240 only.
	NNTPPost = "post"
	// NNTPOver asks for the overview of every article of the group with
	// one OVER; an exchange succeeds when it lists as many as GROUP said
	// when the session began.
	NNTPOver = "over"
	// NNTPArticle reads an article of the group, at random, with ARTICLE.
	NNTPArticle = "article"
)

// NNTPConfig is what an NNTP run does.
type NNTPConfig struct {
	// Op is NNTPPost (the default), NNTPOver or NNTPArticle.
	Op string
	// Group is the newsgroup posted to or read.
	Group string
	// User and Pass, if User is not empty, log in (AUTHINFO) in every
	// session.
	User, Pass string
}

// runNNTP runs one NNTP session per worker (STARTTLS first when cfg.TLS is
// set), doing cfg.NNTP.Op one exchange after another; a session that fails
// is replaced.
func (w *worker) runNNTP() {
	prefix := fmt.Sprintf("load-%x-%d-", rand.Uint64(), w.id)
	var b backoff
	for w.r.more() {
		c, g, err := w.nntpDial()
		if err != nil {
			if w.r.stopping() {
				return
			}
			w.fail(err, 1)
			w.pause(&b)
			continue
		}
		for w.r.ticket() {
			start := time.Now()
			n, err := w.nntpExchange(c, g, prefix)
			var ne *nntp.Error
			switch {
			case err == nil:
				w.ok(time.Since(start))
				w.articles += n
				b.reset()
				continue
			case errors.Is(err, errWrongCount):
				w.wrongReply("wrong overview count")
				continue
			case errors.As(err, &ne):
				w.wrongReply(fmt.Sprintf("nntp %d", ne.Code))
				continue
			case w.r.stopping():
			default:
				w.fail(err, 1)
			}
			break
		}
		w.mu.Lock()
		w.conn = nil
		w.mu.Unlock()
		c.Close()
		if !w.r.stopping() {
			w.pause(&b)
		}
	}
}

var errWrongCount = errors.New("loadgen: OVER listed another number of articles than GROUP counted")

// nntpDial connects, starts TLS if asked, logs in if asked, and selects
// the group.
func (w *worker) nntpDial() (*nntp.Client, nntp.Group, error) {
	cfg := &w.r.cfg
	var g nntp.Group
	nc, err := w.dial(time.Time{})
	if err != nil {
		return nil, g, err
	}
	c, err := nntp.NewClient(guardedConn{nc, w}, &nntp.ClientOptions{Timeout: cfg.Timeout})
	if err != nil {
		nc.Close()
		return nil, g, err
	}
	err = func() error {
		if cfg.TLS != nil {
			if err := c.StartTLS(cfg.TLS.Clone()); err != nil {
				return err
			}
		}
		if caps, err := c.Capabilities(); err != nil {
			return err
		} else if _, ok := caps["MODE-READER"]; ok {
			if _, err := c.ModeReader(); err != nil {
				return err
			}
		}
		if cfg.NNTP.User != "" {
			if err := c.Login(cfg.NNTP.User, cfg.NNTP.Pass); err != nil {
				return err
			}
		}
		g, err = c.Group(cfg.NNTP.Group)
		return err
	}()
	if err != nil {
		c.Close()
		return nil, g, err
	}
	return c, g, nil
}

// nntpExchange does one exchange and returns the articles it carried.
func (w *worker) nntpExchange(c *nntp.Client, g nntp.Group, prefix string) (int64, error) {
	cfg := &w.r.cfg
	switch cfg.NNTP.Op {
	case NNTPOver:
		if g.Count == 0 {
			return 0, errWrongCount
		}
		ovs, err := c.Over(g.Low, g.High)
		if err != nil {
			return 0, err
		}
		if int64(len(ovs)) != g.Count {
			return 0, errWrongCount
		}
		return int64(len(ovs)), nil
	case NNTPArticle:
		if g.High < g.Low {
			return 0, errWrongCount
		}
		r, err := c.Article(strconv.FormatInt(g.Low+rand.Int64N(g.High-g.Low+1), 10))
		if err != nil {
			return 0, err
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return 0, err
		}
		return 1, r.Close()
	}
	w.seq++
	_, err := c.Post(bytes.NewReader(nntpArticle(prefix+strconv.FormatUint(w.seq, 10), cfg.NNTP.Group, cfg.Size)))
	if err != nil {
		return 0, err
	}
	return 1, nil
}

// nntpArticle returns an article of size bytes (at least its header) with
// message-id <id@loadgen.invalid>.
func nntpArticle(id, group string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: loadgen@example.org\r\nNewsgroups: %s\r\nSubject: load %s\r\nMessage-ID: <%s@loadgen.invalid>\r\n\r\n", group, id, id)
	line := "The quick brown fox jumps over the lazy dog, again and again.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	if n := size - b.Len() - 2; n > 0 {
		b.WriteString(strings.Repeat("x", n))
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}
