package nntp

import (
	"strconv"
	"strings"
	"time"

	"github.com/inetkit/inetkit/lineproto"
)

// overviewFormat is the reply to LIST OVERVIEW.FMT (RFC 3977 §8.4).
var overviewFormat = []string{"Subject:", "From:", "Date:", "Message-ID:", "References:", ":bytes", ":lines", "Xref:full"}

// cmdList answers LIST (RFC 3977 §7.6, RFC 6048 for ACTIVE.TIMES and
// DISTRIB.PATS).
func (c *serverConn) cmdList(a []string) error {
	kw := "ACTIVE"
	if len(a) > 0 {
		kw = lineproto.UpperASCII(a[0])
	}
	if len(a) > 2 {
		return c.fail(errSyntax)
	}
	var w *Wildmat
	if len(a) == 2 {
		switch kw {
		case "ACTIVE", "NEWSGROUPS", "ACTIVE.TIMES":
			var ok bool
			if w, ok = ParseWildmat(a[1]); !ok {
				return c.fail(errSyntax)
			}
		case "HEADERS":
			if !strings.EqualFold(a[1], "MSGID") && !strings.EqualFold(a[1], "RANGE") {
				return c.fail(errSyntax)
			}
		default:
			return c.fail(errSyntax)
		}
	}
	switch kw {
	case "OVERVIEW.FMT":
		c.reply(215, "Order of fields in overview database")
		for _, l := range overviewFormat {
			c.line(l)
		}
		c.end()
		return nil
	case "HEADERS":
		c.reply(215, "Headers and metadata items supported")
		c.line(":")
		c.line(":bytes")
		c.line(":lines")
		c.end()
		return nil
	case "DISTRIB.PATS":
		c.reply(215, "Default distributions follow")
		c.end()
		return nil
	case "ACTIVE", "NEWSGROUPS", "ACTIVE.TIMES":
	default:
		return c.fail(&Error{Code: 501, Message: "Unknown LIST keyword"})
	}
	groups, err := c.srv.Backend.Groups(c.ctx)
	if err != nil {
		return c.failBackend("groups", err)
	}
	switch kw {
	case "ACTIVE":
		c.reply(215, "List of newsgroups follows")
	case "NEWSGROUPS":
		c.reply(215, "Descriptions follow")
	default:
		c.reply(215, "Creation times follow")
	}
	for _, g := range groups {
		if !w.Match(g.Name) {
			continue
		}
		switch kw {
		case "ACTIVE":
			c.line(activeLine(g))
		case "NEWSGROUPS":
			c.line(g.Name + "\t" + cleanField(g.Description))
		default:
			c.line(g.Name + " " + strconv.FormatInt(g.Created.Unix(), 10) + " news")
		}
	}
	c.end()
	return nil
}

// activeLine is a line of LIST ACTIVE and NEWGROUPS: name, high and low
// water marks, status (RFC 3977 §7.6.3).
func activeLine(g Group) string {
	high, low := g.High, g.Low
	if high < low-1 {
		high = low - 1
	}
	st := g.Status
	if st == 0 {
		st = StatusPostingAllowed
	}
	return g.Name + " " + strconv.FormatInt(high, 10) + " " + strconv.FormatInt(low, 10) + " " + string(rune(st))
}

// cmdNewGroups answers NEWGROUPS (RFC 3977 §7.3).
func (c *serverConn) cmdNewGroups(a []string) error {
	since, ok := parseDateTime(a, time.Now())
	if !ok {
		return c.fail(errSyntax)
	}
	groups, err := c.srv.Backend.Groups(c.ctx)
	if err != nil {
		return c.failBackend("groups", err)
	}
	c.reply(231, "List of new newsgroups follows")
	for _, g := range groups {
		if !g.Created.Before(since) {
			c.line(activeLine(g))
		}
	}
	c.end()
	return nil
}

// cmdNewNews answers NEWNEWS (RFC 3977 §7.4).
func (c *serverConn) cmdNewNews(a []string) error {
	if len(a) < 3 {
		return c.fail(errSyntax)
	}
	w, ok := ParseWildmat(a[0])
	if !ok {
		return c.fail(errSyntax)
	}
	since, ok := parseDateTime(a[1:], time.Now())
	if !ok {
		return c.fail(errSyntax)
	}
	news, err := c.srv.Backend.NewNews(c.ctx, since)
	if err != nil {
		return c.failBackend("newnews", err)
	}
	c.reply(230, "List of new articles follows")
	for _, n := range news {
		for _, g := range n.Groups {
			if w.Match(g) {
				c.line(n.MessageID)
				break
			}
		}
	}
	c.end()
	return nil
}
