// Package events is the in-process feed of what inetkit's servers did: a
// message delivered, an article posted, a file uploaded, a login. The console
// streams it to browsers and scripts (Server-Sent Events) and sends its
// deliveries to webhooks.
//
// A Hub never blocks its publishers: a subscriber that does not keep up loses
// events (counted in Dropped) rather than slowing a delivery down. Anything
// that must not miss a message waits on the store itself (Store.Changed) and
// uses events only as a hint.
package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of events.
const (
	Message = "message" // a message stored in a mailbox (SMTP, the API, IMAP APPEND)
	Delete  = "delete"  // messages removed or their flags changed from the console
	Post    = "post"    // a news article stored
	Upload  = "upload"  // a file stored in the file root
	Login   = "login"   // a login accepted or refused
)

// An Event is one thing a server did. Only the fields that apply to its Kind
// are set.
type Event struct {
	Kind    string    `json:"kind"`
	Time    time.Time `json:"time"`
	Service string    `json:"service,omitempty"` // "smtp", "ftp", "http", ...
	ID      int64     `json:"id,omitempty"`      // the message's or article's id in the console's API
	Address string    `json:"address,omitempty"` // the mailbox owner, or the login
	Mailbox string    `json:"mailbox,omitempty"`
	From    string    `json:"from,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Groups  []string  `json:"groups,omitempty"`
	Path    string    `json:"path,omitempty"` // a file's name in the file root
	Size    int64     `json:"size,omitempty"`
	Remote  string    `json:"remote,omitempty"` // the client's address
	OK      *bool     `json:"ok,omitempty"`     // a login's outcome
}

// A Hub fans events out to its subscribers. The zero Hub is ready to use; a
// nil *Hub drops everything published to it.
type Hub struct {
	mu      sync.Mutex
	subs    map[*sub]struct{}
	dropped atomic.Int64
}

type sub struct{ c chan Event }

// Publish sends e to every subscriber that has room for it, setting its Time
// if it is zero. It never blocks.
func (h *Hub) Publish(e Event) {
	if h == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.c <- e:
		default:
			h.dropped.Add(1)
		}
	}
}

// Subscribe returns a channel that receives the events published from now
// on, with room for buf of them, and a function that ends the subscription
// and closes the channel.
func (h *Hub) Subscribe(buf int) (<-chan Event, func()) {
	s := &sub{c: make(chan Event, buf)}
	h.mu.Lock()
	if h.subs == nil {
		h.subs = make(map[*sub]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return s.c, func() {
		once.Do(func() {
			h.mu.Lock()
			delete(h.subs, s)
			h.mu.Unlock()
			close(s.c)
		})
	}
}

// Dropped returns how many events subscribers have lost for want of room.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }
