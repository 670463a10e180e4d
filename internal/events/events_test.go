package events

import (
	"testing"
	"time"
)

// Publish reaches every subscriber with room, never blocks on one without,
// counts what that one lost, and stamps the time; a cancelled subscription
// gets nothing more and its channel is closed.
func TestHub(t *testing.T) {
	var h Hub
	a, cancelA := h.Subscribe(10)
	b, cancelB := h.Subscribe(1)
	defer cancelB()
	for i := range 3 {
		h.Publish(Event{Kind: Message, ID: int64(i + 1)})
	}
	for i := range 3 {
		e := <-a
		if e.ID != int64(i+1) || e.Time.IsZero() {
			t.Errorf("a got %+v; want id %d with a time", e, i+1)
		}
	}
	if e := <-b; e.ID != 1 {
		t.Errorf("b got %+v; want id 1", e)
	}
	if got := h.Dropped(); got != 2 {
		t.Errorf("Dropped() = %d; want 2 (b had room for one)", got)
	}
	cancelA()
	cancelA() // twice is fine
	h.Publish(Event{Kind: Post})
	if _, ok := <-a; ok {
		t.Error("a cancelled subscription received an event")
	}
	select {
	case e := <-b:
		if e.Kind != Post {
			t.Errorf("b got %+v; want the post", e)
		}
	case <-time.After(time.Second):
		t.Error("b did not get the post")
	}
	var nilHub *Hub
	nilHub.Publish(Event{Kind: Login}) // no panic
}
