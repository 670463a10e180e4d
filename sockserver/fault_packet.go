package sockserver

import (
	"net"
	"net/netip"
	"time"

	"github.com/inetkit/inetkit/fault"
)

// reorderWait is how long a reply held back by a reorder fault waits for
// the next reply to the same client before it is sent anyway.
const reorderWait = time.Second

// faultService is the service that names s in fault rules.
func (s *PacketServer) faultService() string {
	if s.FaultService != "" {
		return s.FaultService
	}
	return "udp"
}

// A capture is the PacketWriter a handler gets when a fault acts on its
// replies: it keeps copies of them for the fault to send.
type capture struct{ replies [][]byte }

func (c *capture) Write(p []byte) (int, error) {
	c.replies = append(c.replies, append([]byte(nil), p...))
	return len(p), nil
}

// heldReply is a reply that a reorder fault holds back.
type heldReply struct {
	replies [][]byte
	timer   *time.Timer
}

// serveFaults serves the datagram p from from, read from pc, with w, as
// s.Faults says: unharmed, dropped (the handler never sees it), or with
// its replies duplicated, delayed or held back until the next reply to the
// same client. A reply held back for from is sent after the replies to p.
func (s *PacketServer) serveFaults(pc net.PacketConn, w PacketWriter, p []byte, from net.Addr) {
	ap := addrPort(from)
	r, ok := s.Faults.Fire(fault.Point{
		Service:      s.faultService(),
		Moment:       fault.MomentDatagram,
		Remote:       ap.Addr().Unmap(),
		RemoteString: addrString(from),
	})
	if !ok {
		s.serve(w, p, from)
		s.releaseHeld(ap, w)
		return
	}
	if r.Kind == fault.KindDrop {
		return
	}
	c := &capture{}
	s.serve(c, p, from)
	if r.Delay > 0 {
		// The replies go later; a held reply goes now, after nothing.
		s.releaseHeld(ap, w)
		to, replies, wait := from, c.replies, r.Delay
		if r.Kind == fault.KindDuplicate {
			replies = append(replies, replies...)
		}
		s.wg.Go(func() {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-t.C:
				s.sendLater(pc, to, replies)
			case <-s.stop:
			}
		})
		return
	}
	switch r.Kind {
	case fault.KindDuplicate:
		for _, reply := range c.replies {
			w.Write(reply)
			w.Write(reply)
		}
		s.releaseHeld(ap, w)
	case fault.KindReorder:
		s.releaseHeld(ap, w)
		s.hold(pc, ap, from, c.replies)
	default:
		for _, reply := range c.replies {
			w.Write(reply)
		}
		s.releaseHeld(ap, w)
	}
}

// hold holds replies to from back until the next datagram from it is
// answered, or for reorderWait.
func (s *PacketServer) hold(pc net.PacketConn, ap netip.AddrPort, from net.Addr, replies [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = make(map[netip.AddrPort]*heldReply)
	}
	h := &heldReply{replies: replies}
	s.held[ap] = h
	s.wg.Add(1)
	h.timer = time.AfterFunc(reorderWait, func() {
		defer s.wg.Done()
		s.mu.Lock()
		mine := s.held[ap] == h
		if mine {
			delete(s.held, ap)
		}
		s.mu.Unlock()
		if mine && !s.closing.Load() {
			s.sendLater(pc, from, h.replies)
		}
	})
}

// releaseHeld sends with w what is held back for ap, if anything.
func (s *PacketServer) releaseHeld(ap netip.AddrPort, w PacketWriter) {
	s.mu.Lock()
	h := s.held[ap]
	if h != nil {
		delete(s.held, ap)
		if h.timer.Stop() {
			s.wg.Done()
		}
	}
	s.mu.Unlock()
	if h == nil {
		return
	}
	for _, reply := range h.replies {
		w.Write(reply)
	}
}

// sendLater sends replies to to on pc, once the datagram they answer has
// been served, counting them as Write does.
func (s *PacketServer) sendLater(pc net.PacketConn, to net.Addr, replies [][]byte) {
	for _, reply := range replies {
		n, err := pc.WriteTo(reply, to)
		if err != nil {
			if !s.closing.Load() {
				s.stats.errors.Add(1)
			}
			return
		}
		s.stats.replies.Add(1)
		s.stats.bytesWritten.Add(int64(n))
	}
}
