package console

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/events"
)

// An sseStream reads the events of GET /api/v1/events.
type sseStream struct {
	t      testing.TB
	resp   *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
	lines  chan string
}

// openEvents opens the event stream with query (may be "") and reads its
// preamble: once it returns, the stream's subscription is in place.
func (tc *testConsole) openEvents(t testing.TB, query string, header ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req := tc.apiRequest(t, "GET", "/api/v1/events"+query, nil, header...).WithContext(ctx)
	resp, err := tc.HTTP.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		cancel()
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /api/v1/events%s = %d %s", query, resp.StatusCode, b)
	}
	s := &sseStream{t: t, resp: resp, r: bufio.NewReader(resp.Body), cancel: cancel, lines: make(chan string, 100)}
	t.Cleanup(s.close)
	go func() {
		defer close(s.lines)
		for {
			line, err := s.r.ReadString('\n')
			if err != nil {
				return
			}
			s.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	if l := s.line(); !strings.HasPrefix(l, "retry:") {
		t.Fatalf("first line %q", l)
	}
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// line returns the next line, or "EOF" when the stream ends.
func (s *sseStream) line() string {
	s.t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			return "EOF"
		}
		return l
	case <-time.After(10 * time.Second):
		s.t.Fatal("no line from the event stream within 10s")
		return ""
	}
}

// next returns the next event's name and data, skipping comments.
func (s *sseStream) next() (string, string) {
	s.t.Helper()
	var name, data string
	for {
		l := s.line()
		switch {
		case l == "EOF":
			return "EOF", ""
		case l == "" && name != "":
			return name, data
		case strings.HasPrefix(l, "event: "):
			name = l[len("event: "):]
		case strings.HasPrefix(l, "data: "):
			data = l[len("data: "):]
		}
	}
}

func TestAPI_events(t *testing.T) {
	tc := newTestConsole(t, nil)
	doc := loadOpenAPI(t)
	all := tc.openEvents(t, "")
	posts := tc.openEvents(t, "?kinds=post,upload")

	tc.Events.Publish(events.Event{Kind: events.Upload, Path: "/a.txt", Size: 1})
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", "evented", "x"), "bob@example.org")
	name, data := all.next()
	if name != "upload" {
		t.Fatalf("first event %q %s; want upload", name, data)
	}
	name, data = all.next()
	if name != "message" || !strings.Contains(data, `"address":"bob@example.org"`) {
		t.Fatalf("second event %q %s; want bob's message", name, data)
	}
	var v any
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatal(err)
	}
	if err := doc.validate(doc.Components.Schemas["Event"], v, "event"); err != nil {
		t.Errorf("event data: %v", err)
	}
	if err := doc.checkDocumented(doc.Components.Schemas["Event"], v, "event"); err != nil {
		t.Errorf("event data: %v", err)
	}
	tc.Events.Publish(events.Event{Kind: events.Post, Groups: []string{"g"}})
	if name, _ := posts.next(); name != "upload" {
		t.Errorf("kinds=post,upload: first %q; want upload", name)
	}
	if name, _ := posts.next(); name != "post" {
		t.Errorf("kinds=post,upload: second %q; want post (no message)", name)
	}
	if r := tc.api(t, "GET", "/api/v1/events?kinds=nonsense", nil); r.Status != 400 {
		t.Errorf("kinds=nonsense: %v; want 400", r)
	}

	// Close ends the streams.
	tc.Server.Close()
	if l := all.line(); l != "EOF" {
		for l != "EOF" && l != "" {
			l = all.line()
		}
	}
	if r := tc.api(t, "GET", "/api/v1/events", nil); r.Status != 503 {
		t.Errorf("events after Close: %v; want 503", r)
	}

	none := newTestConsole(t, func(c *Config) { c.Events = nil })
	if r := none.api(t, "GET", "/api/v1/events", nil); r.Status != 404 {
		t.Errorf("no event feed: %v; want 404", r)
	}
}

// A logged-in user's stream carries their own events and those of what
// every user shares, without another user's address.
func TestAPI_eventsOwnOnly(t *testing.T) {
	tl := &testLogin{}
	tc := newTestConsole(t, withLogin(tl, nil))
	s := tc.openEvents(t, "", "Authorization", basic("alice@example.org", "secret"))
	tc.Events.Publish(events.Event{Kind: events.Message, Address: "bob@example.org", Subject: "bob's secret"})
	tc.Events.Publish(events.Event{Kind: events.Login, Address: "bob@example.org"})
	tc.Events.Publish(events.Event{Kind: events.Upload, Path: "/f", Address: "bob@example.org", Remote: "10.0.0.1:1"})
	tc.Events.Publish(events.Event{Kind: events.Message, Address: "alice@example.org", Subject: "alice's"})
	name, data := s.next()
	if name != "upload" || strings.Contains(data, "bob") || strings.Contains(data, "10.0.0.1") {
		t.Errorf("first event %q %s; want an upload without bob's address", name, data)
	}
	name, data = s.next()
	if name != "message" || !strings.Contains(data, "alice's") {
		t.Errorf("second event %q %s; want alice's message", name, data)
	}
}
