package loadgen

import (
	"bytes"
	"errors"
	"net"
	"os"
	"time"

	"github.com/inetkit/inetkit/upper"
)

// A lane is one of the datagrams a UDP worker keeps in flight. Lane i sends
// message ids i, i+P, i+2P, … (P = cfg.Pipeline), so a reply's id names its
// lane.
type lane struct {
	msg, exp []byte
	id       uint64
	sent     time.Time
	busy     bool   // a datagram is in flight
	lost     uint64 // the id last counted lost, if hasLost
	hasLost  bool
}

// runDatagram keeps cfg.Pipeline datagrams in flight on a connected UDP
// socket, in this goroutine: it reads a reply, matches it to its lane by the
// id at its start, checks it, and sends the lane's next datagram. Every
// Timeout/8 it counts the datagrams unanswered for Timeout as lost and sends
// new ones in their place.
func (w *worker) runDatagram() {
	cfg := &w.r.cfg
	lanes := make([]lane, cfg.Pipeline)
	for i := range lanes {
		lanes[i].msg = make([]byte, 0, cfg.Size)
		lanes[i].exp = make([]byte, 0, upper.MaxExpansion*cfg.Size)
	}
	buf := make([]byte, 1<<16)
	var b backoff
	for w.r.more() {
		c, err := w.dial(time.Time{})
		if err != nil {
			if w.r.stopping() || !w.r.ticket() {
				return
			}
			w.fail(err, 1)
			w.pause(&b)
			continue
		}
		err = w.datagrams(c, lanes, buf)
		w.hangUp(c)
		if err == nil {
			return
		}
		w.pause(&b)
	}
}

// datagrams runs the lanes on c until no ticket is left and every datagram
// has been answered or lost (nil), or until c fails (the error).
func (w *worker) datagrams(c net.Conn, lanes []lane, buf []byte) error {
	cfg := &w.r.cfg
	p := uint64(len(lanes))
	inFlight := 0
	send := func(i int) error {
		l := &lanes[i]
		w.seq++
		l.id = w.seq*p + uint64(i)
		l.msg = w.gen.append(l.msg[:0], l.id)
		l.exp = upper.Append(l.exp[:0], l.msg)
		l.busy = true
		inFlight++
		l.sent = time.Now()
		_, err := c.Write(l.msg)
		return err
	}
	// fail counts every datagram in flight as failed with err.
	fail := func(err error) error {
		if !w.r.stopping() {
			w.fail(err, int64(inFlight))
		}
		for i := range lanes {
			lanes[i].busy = false
		}
		return err
	}
	for i := range lanes {
		lanes[i].busy, lanes[i].hasLost = false, false
	}
	for i := range lanes {
		if !w.r.ticket() {
			break
		}
		if err := send(i); err != nil {
			return fail(err)
		}
	}
	scan := max(cfg.Timeout/8, time.Millisecond)
	next := time.Now().Add(scan)
	setDeadline := w.guard(c.SetReadDeadline)
	setDeadline(next)
	for inFlight > 0 {
		n, err := c.Read(buf)
		now := time.Now()
		if err != nil && (!errors.Is(err, os.ErrDeadlineExceeded) || w.r.stopping()) {
			return fail(err)
		}
		if err == nil {
			if err := w.reply(lanes, buf[:n], now, &inFlight, send); err != nil {
				return fail(err)
			}
		}
		if now.Before(next) {
			continue
		}
		for i := range lanes {
			l := &lanes[i]
			if !l.busy || now.Sub(l.sent) < cfg.Timeout {
				continue
			}
			l.busy, l.lost, l.hasLost = false, l.id, true
			inFlight--
			w.lost.Add(1)
			if w.r.ticket() {
				if err := send(i); err != nil {
					return fail(err)
				}
			}
		}
		next = now.Add(scan)
		setDeadline(next)
	}
	return nil
}

// reply handles one reply datagram.
func (w *worker) reply(lanes []lane, p []byte, now time.Time, inFlight *int, send func(int) error) error {
	worker, id, ok := parseID(p)
	if !ok || worker != w.id {
		w.wrongReply("unexpected reply")
		return nil
	}
	i := int(id % uint64(len(lanes)))
	l := &lanes[i]
	switch {
	case l.busy && l.id == id:
	case l.hasLost && l.lost == id:
		w.late++
		l.hasLost = false
		return nil
	default:
		w.wrongReply("unexpected reply")
		return nil
	}
	if bytes.Equal(p, l.exp) {
		w.ok(now.Sub(l.sent))
	} else {
		w.wrongReply("wrong reply")
	}
	l.busy = false
	*inFlight--
	if w.r.ticket() {
		return send(i)
	}
	return nil
}
