package nntp

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/inetkit/inetkit/lineproto"
)

// batchSize is how many numbers, overviews or headers the server asks the
// Backend for at a time while it sends a long list: a reply of any length
// is sent with no more than one batch in memory.
const batchSize = 1000

// selectGroup makes name the selected group and returns it, or the reply to
// send.
func (c *serverConn) selectGroup(name string) (Group, *Error, error) {
	g, err := c.srv.Backend.Group(c.ctx, name)
	if err != nil {
		if errors.Is(err, ErrNoSuchGroup) {
			return g, ErrNoSuchGroup, nil
		}
		e := c.backendError("group", err, errInternal)
		if e == nil {
			return g, nil, errClose
		}
		return g, e, nil
	}
	c.group, c.cur = g.Name, 0
	if g.Count > 0 && g.High >= g.Low {
		c.cur = g.Low
	}
	return g, nil, nil
}

func groupLine(g Group) string {
	if g.Count <= 0 || g.High < g.Low {
		return fmt.Sprintf("0 %d %d %s", g.Low, max(g.Low-1, 0), g.Name)
	}
	return fmt.Sprintf("%d %d %d %s", g.Count, g.Low, g.High, g.Name)
}

// cmdGroup answers GROUP (RFC 3977 §6.1.1).
func (c *serverConn) cmdGroup(a []string) error {
	if len(a) != 1 {
		return c.fail(errSyntax)
	}
	g, e, err := c.selectGroup(a[0])
	if err != nil {
		return err
	}
	if e != nil {
		return c.send(e)
	}
	c.reply(211, groupLine(g))
	return nil
}

// cmdListGroup answers LISTGROUP (RFC 3977 §6.1.2).
func (c *serverConn) cmdListGroup(a []string) error {
	if len(a) > 2 {
		return c.fail(errSyntax)
	}
	name := c.group
	if len(a) > 0 {
		name = a[0]
	}
	low, high := int64(1), int64(maxArticleNumber)
	if len(a) == 2 {
		var ok bool
		if low, high, ok = parseRange(a[1]); !ok {
			return c.fail(errSyntax)
		}
	}
	if name == "" {
		return c.send(errNoGroup)
	}
	g, e, err := c.selectGroup(name)
	if err != nil {
		return err
	}
	if e != nil {
		return c.send(e)
	}
	c.reply(211, groupLine(g)+" list follows")
	low, high = max(low, g.Low), min(high, g.High)
	for low <= high {
		nums, err := c.srv.Backend.Numbers(c.ctx, g.Name, low, high, batchSize)
		if err != nil {
			return c.brokenList("numbers", err)
		}
		for _, n := range nums {
			c.line(strconv.FormatInt(n, 10))
		}
		if len(nums) < batchSize {
			break
		}
		low = nums[len(nums)-1] + 1
	}
	c.end()
	return nil
}

// brokenList ends the connection after a backend error in the middle of a
// multi-line reply: the client can only learn of it by the connection
// closing before the terminating line.
func (c *serverConn) brokenList(op string, err error) error {
	if e := c.backendError(op, err, errInternal); e == nil {
		return errClose
	}
	return errClose
}

// articleArg resolves the argument of ARTICLE, HEAD, BODY, STAT, OVER and
// HDR that names one article: a message-id, a number in the selected
// group, or none (the current article). It returns the article (with body
// if asked), whether it was named by message-id, and the reply to send if
// there is none.
func (c *serverConn) articleArg(a []string, body bool) (*Article, *Error, error) {
	var art *Article
	var err error
	switch {
	case len(a) > 0 && strings.HasPrefix(a[0], "<"):
		if !validMessageID(a[0]) {
			return nil, errSyntax, nil
		}
		art, err = c.srv.Backend.ArticleByID(c.ctx, a[0], body)
		if errors.Is(err, ErrNoSuchArticle) {
			return nil, errNoID, nil
		}
		if art != nil {
			art.Number = 0
		}
	case len(a) > 0:
		n, ok := parseNumber(a[0])
		if !ok {
			return nil, errSyntax, nil
		}
		if c.group == "" {
			return nil, errNoGroup, nil
		}
		art, err = c.srv.Backend.Article(c.ctx, c.group, n, body)
		if errors.Is(err, ErrNoSuchArticle) {
			return nil, errNoNumber, nil
		}
		if err == nil {
			art.Number = n
			c.cur = n
		}
	default:
		if c.group == "" {
			return nil, errNoGroup, nil
		}
		if c.cur == 0 {
			return nil, errNoCurrent, nil
		}
		art, err = c.srv.Backend.Article(c.ctx, c.group, c.cur, body)
		if errors.Is(err, ErrNoSuchArticle) {
			return nil, errNoCurrent, nil
		}
		if err == nil {
			art.Number = c.cur
		}
	}
	if err != nil {
		e := c.backendError("article", err, errInternal)
		if e == nil {
			return nil, nil, errClose
		}
		return nil, e, nil
	}
	return art, nil, nil
}

// cmdArticle answers ARTICLE (220), HEAD (221), BODY (222) and STAT (223)
// (RFC 3977 §6.2).
func (c *serverConn) cmdArticle(a []string, code int) error {
	if len(a) > 1 {
		return c.fail(errSyntax)
	}
	art, e, err := c.articleArg(a, code == 220 || code == 222)
	if err != nil {
		return err
	}
	if e != nil {
		if e == errSyntax {
			return c.fail(e)
		}
		return c.send(e)
	}
	if art.Body != nil {
		defer art.Body.Close()
	}
	c.reply(code, strconv.FormatInt(art.Number, 10)+" "+art.MessageID)
	if code == 223 {
		return nil
	}
	dw := lineproto.NewDotWriter(c.bw)
	if code != 222 {
		dw.Write(art.Header)
		if art.Xref != "" {
			dw.Write([]byte(xrefField(c.host, art.Xref) + "\r\n"))
		}
	}
	if code == 220 {
		dw.Write([]byte("\r\n"))
	}
	if code != 221 && art.Body != nil {
		// Only Read: each piece is written to the connection under its
		// own write deadline.
		bp := copyBuffers.Get().(*[]byte)
		_, err = io.CopyBuffer(dw, struct{ io.Reader }{art.Body}, *bp)
		copyBuffers.Put(bp)
		if err != nil {
			if e := c.backendError("read article", err, errInternal); e != nil {
				return fmt.Errorf("nntp: sending article %s: %w", art.MessageID, err)
			}
			return errClose
		}
	}
	return dw.Close()
}

// copyBufferBytes is the largest piece of an article written to the
// connection at once.
const copyBufferBytes = 32 << 10

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, copyBufferBytes); return &b }}

// cmdNext answers NEXT (RFC 3977 §6.1.4).
func (c *serverConn) cmdNext(a []string) error {
	if len(a) > 0 {
		return c.fail(errSyntax)
	}
	if c.group == "" {
		return c.send(errNoGroup)
	}
	if c.cur == 0 {
		return c.send(errNoCurrent)
	}
	nums, err := c.srv.Backend.Numbers(c.ctx, c.group, c.cur+1, maxArticleNumber, 1)
	if err != nil {
		return c.failBackend("numbers", err)
	}
	if len(nums) == 0 {
		return c.send(&Error{Code: 421, Message: "No next article in this group"})
	}
	return c.moveTo(nums[0])
}

// cmdLast answers LAST (RFC 3977 §6.1.3).
func (c *serverConn) cmdLast(a []string) error {
	if len(a) > 0 {
		return c.fail(errSyntax)
	}
	if c.group == "" {
		return c.send(errNoGroup)
	}
	if c.cur == 0 {
		return c.send(errNoCurrent)
	}
	n, err := c.srv.Backend.Previous(c.ctx, c.group, c.cur)
	if err != nil {
		return c.failBackend("previous", err)
	}
	if n == 0 {
		return c.send(&Error{Code: 422, Message: "No previous article in this group"})
	}
	return c.moveTo(n)
}

// moveTo makes n the current article and answers 223.
func (c *serverConn) moveTo(n int64) error {
	art, err := c.srv.Backend.Article(c.ctx, c.group, n, false)
	if err != nil {
		return c.failBackend("article", err)
	}
	c.cur = n
	c.reply(223, strconv.FormatInt(n, 10)+" "+art.MessageID)
	return nil
}

// articleBytes is the size of an article as ARTICLE sends it, with its
// Xref field.
func (c *serverConn) articleBytes(n int64, xref string) int64 {
	if xref == "" {
		return n
	}
	return n + int64(len(xrefField(c.host, xref))+2)
}

// overviewLine formats an overview (RFC 3977 §8.3.2), with the number
// given.
func (c *serverConn) overviewLine(n int64, o *Overview) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(n, 10))
	for _, f := range []string{o.Subject, o.From, o.Date, o.MessageID, o.References} {
		b.WriteByte('\t')
		b.WriteString(cleanField(f))
	}
	b.WriteByte('\t')
	b.WriteString(strconv.FormatInt(c.articleBytes(o.Bytes, o.Xref), 10))
	b.WriteByte('\t')
	b.WriteString(strconv.FormatInt(o.Lines, 10))
	b.WriteByte('\t')
	if o.Xref != "" {
		b.WriteString(cleanField(xrefField(c.host, o.Xref)))
	}
	return b.String()
}

// overviewOf makes the overview of an article from its header.
func overviewOf(art *Article) (*Overview, bool) {
	fields, reason := parseHeader(art.Header)
	if reason != "" {
		return nil, false
	}
	o := &Overview{Number: art.Number, MessageID: art.MessageID, Bytes: art.Bytes, Lines: art.Lines, Xref: art.Xref}
	o.Subject, _ = fieldValue(fields, "Subject")
	o.From, _ = fieldValue(fields, "From")
	o.Date, _ = fieldValue(fields, "Date")
	o.References, _ = fieldValue(fields, "References")
	return o, true
}

// rangeArg parses the range argument of OVER and HDR; none means the
// current article.
func (c *serverConn) rangeArg(a []string) (low, high int64, e *Error) {
	if c.group == "" {
		return 0, 0, errNoGroup
	}
	if len(a) == 0 {
		if c.cur == 0 {
			return 0, 0, errNoCurrent
		}
		return c.cur, c.cur, nil
	}
	low, high, ok := parseRange(a[0])
	if !ok {
		return 0, 0, errSyntax
	}
	return low, high, nil
}

// cmdOver answers OVER and XOVER (RFC 3977 §8.3, RFC 2980 §2.8).
func (c *serverConn) cmdOver(a []string) error {
	if len(a) > 1 {
		return c.fail(errSyntax)
	}
	if len(a) == 1 && strings.HasPrefix(a[0], "<") {
		art, e, err := c.articleArg(a, false)
		if err != nil {
			return err
		}
		if e != nil {
			return c.send(e)
		}
		o, ok := overviewOf(art)
		if !ok {
			return c.failBackend("overview", fmt.Errorf("nntp: article %s has a malformed header", art.MessageID))
		}
		c.reply(224, "Overview information follows")
		c.line(c.overviewLine(0, o))
		c.end()
		return nil
	}
	low, high, e := c.rangeArg(a)
	if e == errSyntax {
		return c.fail(e)
	} else if e != nil {
		return c.send(e)
	}
	first := true
	for low <= high {
		ovs, err := c.srv.Backend.Overview(c.ctx, c.group, low, high, batchSize)
		if err != nil {
			if first {
				return c.failBackend("overview", err)
			}
			return c.brokenList("overview", err)
		}
		if first {
			if len(ovs) == 0 {
				if len(a) == 0 {
					return c.send(errNoCurrent)
				}
				return c.send(errNoRange)
			}
			c.reply(224, "Overview information follows")
			first = false
		}
		for i := range ovs {
			c.line(c.overviewLine(ovs[i].Number, &ovs[i]))
		}
		if len(ovs) < batchSize {
			break
		}
		low = ovs[len(ovs)-1].Number + 1
	}
	if first {
		return c.send(errNoRange)
	}
	c.end()
	return nil
}

// overviewField returns the value of a header field or metadata item
// (":bytes", ":lines") from an overview, and whether the overview has it.
func (c *serverConn) overviewField(o *Overview, field string) (string, bool) {
	switch strings.ToLower(field) {
	case "subject":
		return o.Subject, true
	case "from":
		return o.From, true
	case "date":
		return o.Date, true
	case "message-id":
		return o.MessageID, true
	case "references":
		return o.References, true
	case ":bytes", "bytes":
		return strconv.FormatInt(c.articleBytes(o.Bytes, o.Xref), 10), true
	case ":lines", "lines":
		return strconv.FormatInt(o.Lines, 10), true
	case "xref":
		if o.Xref == "" {
			return "", true
		}
		return c.host + " " + o.Xref, true
	}
	return "", false
}

// headerOf returns the value of field in an article, for HDR.
func (c *serverConn) headerOf(art *Article, field string) string {
	if o, ok := overviewOf(art); ok {
		if v, ok := c.overviewField(o, field); ok {
			return v
		}
	}
	fields, _ := parseHeader(art.Header)
	v, _ := fieldValue(fields, field)
	return v
}

// cmdHdr answers HDR (225, RFC 3977 §8.5) and XHDR (221, RFC 2980 §2.6).
func (c *serverConn) cmdHdr(a []string, code int) error {
	if len(a) < 1 || len(a) > 2 {
		return c.fail(errSyntax)
	}
	field := a[0]
	if strings.HasPrefix(field, ":") && !strings.EqualFold(field, ":bytes") && !strings.EqualFold(field, ":lines") {
		return c.fail(errSyntax)
	}
	rest := a[1:]
	if len(rest) == 1 && strings.HasPrefix(rest[0], "<") {
		art, e, err := c.articleArg(rest, false)
		if err != nil {
			return err
		}
		if e != nil {
			return c.send(e)
		}
		c.reply(code, "Headers follow")
		c.line("0 " + cleanField(c.headerOf(art, field)))
		c.end()
		return nil
	}
	low, high, e := c.rangeArg(rest)
	if e == errSyntax {
		return c.fail(e)
	} else if e != nil {
		return c.send(e)
	}
	_, inOverview := c.overviewField(&Overview{}, field)
	first := true
	for low <= high {
		var lines []string
		var next int64
		var got int
		var err error
		if inOverview {
			var ovs []Overview
			ovs, err = c.srv.Backend.Overview(c.ctx, c.group, low, high, batchSize)
			for i := range ovs {
				v, _ := c.overviewField(&ovs[i], field)
				lines = append(lines, strconv.FormatInt(ovs[i].Number, 10)+" "+cleanField(v))
				next = ovs[i].Number + 1
			}
			got = len(ovs)
		} else {
			var nums []int64
			nums, err = c.srv.Backend.Numbers(c.ctx, c.group, low, high, batchSize)
			for _, n := range nums {
				if err != nil {
					break
				}
				var art *Article
				art, err = c.srv.Backend.Article(c.ctx, c.group, n, false)
				if errors.Is(err, ErrNoSuchArticle) {
					err = nil // expired meanwhile
					continue
				}
				if err == nil {
					lines = append(lines, strconv.FormatInt(n, 10)+" "+cleanField(c.headerOf(art, field)))
				}
				next = n + 1
			}
			got = len(nums)
		}
		if err != nil {
			if first {
				return c.failBackend("hdr", err)
			}
			return c.brokenList("hdr", err)
		}
		if first {
			if got == 0 {
				if len(rest) == 0 {
					return c.send(errNoCurrent)
				}
				return c.send(errNoRange)
			}
			c.reply(code, "Headers follow")
			first = false
		}
		for _, l := range lines {
			c.line(l)
		}
		if got < batchSize {
			break
		}
		low = next
	}
	if first {
		return c.send(errNoRange)
	}
	c.end()
	return nil
}
