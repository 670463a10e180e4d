package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/inetkit/inetkit/internal/events"
	"github.com/inetkit/inetkit/web"
)

// sseKeepAlive is the interval of the comments that keep an idle event
// stream open through proxies and tell a gone client.
const sseKeepAlive = 25 * time.Second

// sseBuffer is the events a stream's subscription holds while the client
// reads; a stream that falls further behind loses events.
const sseBuffer = 256

// eventKinds are the kinds a stream may be limited to (?kinds=).
var eventKinds = map[string]bool{
	events.Message: true, events.Delete: true, events.Post: true, events.Upload: true, events.Login: true,
}

// apiEvents answers GET /api/v1/events: a Server-Sent Events stream
// (text/event-stream) of what the servers do, from now on: each event as
// "event: KIND" and "data: JSON" (an events.Event), a comment every 25
// seconds. ?kinds=message,post limits it to those kinds. A logged-in user
// gets the events of their own address (messages, deletions, their logins)
// and those of what every user shares (articles posted, files uploaded).
// Events are not replayed: a client that reconnects looks at the store.
func (s *Server) apiEvents(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Events == nil {
		s.apiFail(w, r, &apiError{http.StatusNotFound, "this console has no event feed"})
		return
	}
	kinds := map[string]bool{}
	if v := r.URL.Query().Get("kinds"); v != "" {
		for k := range strings.SplitSeq(v, ",") {
			k = strings.TrimSpace(k)
			if !eventKinds[k] {
				s.apiFail(w, r, badRequest("kinds: unknown kind %q", k))
				return
			}
			kinds[k] = true
		}
	}
	done, ok := s.beginLong()
	if !ok {
		s.apiFail(w, r, errWaitClosed)
		return
	}
	defer done()
	defer web.KeepOpen(w, r)()
	c, cancel := s.cfg.Events.Subscribe(sseBuffer)
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	fmt.Fprint(w, "retry: 3000\n: inetkit events\n\n")
	if rc.Flush() != nil {
		return
	}
	user, all := userOf(r.Context())
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case e := <-c:
			if (len(kinds) > 0 && !kinds[e.Kind]) || !all && !eventVisible(e, user) {
				continue
			}
			if !all && !strings.EqualFold(e.Address, user) {
				e.Address, e.Remote = "", "" // another user's upload or post
			}
			data, err := json.Marshal(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Kind, data)
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case <-r.Context().Done():
			return
		case <-s.closed:
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// eventVisible reports whether the logged-in user may see e: an event of
// their address, or of what every user shares.
func eventVisible(e events.Event, user string) bool {
	switch e.Kind {
	case events.Post, events.Upload:
		return true
	}
	return e.Address != "" && strings.EqualFold(e.Address, user)
}
