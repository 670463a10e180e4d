package nntp

import (
	"strconv"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/lineproto"
)

// injectArticle injects the fault that fires at moment (POST or IHAVE),
// once the article has arrived and before it is stored. A failed delivery
// is answered with code and text ("441 Posting failed: disk full"). done
// reports that the fault answered or ended the command; err ends the
// session.
func (c *serverConn) injectArticle(moment string, code int, text string) (done bool, err error) {
	r, ok := c.lc.Fault(fault.Point{Moment: moment})
	if !ok {
		return false, nil
	}
	switch r.Kind {
	case fault.KindDiskFull:
		r.Kind, r.Text = fault.KindReply, strconv.Itoa(code)+" "+text+": insufficient storage"
	case fault.KindStoreError:
		r.Kind, r.Text = fault.KindReply, strconv.Itoa(code)+" "+text+": try again later"
	}
	switch c.lc.InjectRule(r) {
	case lineproto.InjectedReply:
		return true, nil
	case lineproto.InjectedEnd:
		return true, errClose
	}
	return false, nil
}
