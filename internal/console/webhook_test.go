package console

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A hookReceiver is a webhook's endpoint: answer decides each reply (by
// the request's number, from 1); every request's payload is recorded.
type hookReceiver struct {
	*httptest.Server
	answer func(n int, w http.ResponseWriter, r *http.Request)
	mu     sync.Mutex
	got    []webhookPayload
	ch     chan webhookPayload
}

func newHookReceiver(t testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request)) *hookReceiver {
	h := &hookReceiver{answer: answer, ch: make(chan webhookPayload, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p webhookPayload
		b, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &p) != nil {
			t.Errorf("webhook request %s %s %q", r.Method, r.Header.Get("Content-Type"), b)
		}
		h.mu.Lock()
		h.got = append(h.got, p)
		n := len(h.got)
		h.mu.Unlock()
		if h.answer != nil {
			h.answer(n, w, r)
		}
		h.ch <- p
	}))
	t.Cleanup(h.Close)
	return h
}

// next waits for the next request.
func (h *hookReceiver) next(t testing.TB) webhookPayload {
	t.Helper()
	select {
	case p := <-h.ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook request within 10s")
		return webhookPayload{}
	}
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.got)
}

// runWebhooks starts Run for a console whose webhooks are urls; the
// returned function stops it and waits for it.
func runWebhooks(t testing.TB, urls ...string) (*testConsole, func()) {
	tc := newTestConsole(t, func(c *Config) { c.Webhooks = urls })
	tc.Server.webhookBackoff = 5 * time.Millisecond
	tc.Server.webhookTimeout = 200 * time.Millisecond
	ready := make(chan struct{})
	tc.Server.runHook = func() { close(ready) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tc.Server.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run() = %v before it heard events", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run() = %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of its context's end")
			}
		})
	}
	t.Cleanup(stop)
	return tc, stop
}

// deliverHooked delivers a message to bob, which the webhooks announce.
func deliverHooked(t testing.TB, tc *testConsole, subject string) {
	t.Helper()
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", subject, "x"), "bob@example.org")
}

func TestWebhook(t *testing.T) {
	t.Run("payload", func(t *testing.T) {
		h := newHookReceiver(t, nil)
		other := newHookReceiver(t, nil)
		tc, _ := runWebhooks(t, h.URL+"/hook", "ftp://ignored.example/", "::not a url")
		deliverHooked(t, tc, "hooked")
		p := h.next(t)
		if p.Event.Kind != "message" || p.Message == nil || p.Message.Subject != "hooked" || p.Message.Address != "bob@example.org" {
			t.Errorf("payload %+v, message %+v", p.Event, p.Message)
		}
		if other.count() != 0 {
			t.Error("a URL that is not configured got a request")
		}
	})
	t.Run("retries", func(t *testing.T) {
		h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n <= 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		})
		tc, _ := runWebhooks(t, h.URL)
		deliverHooked(t, tc, "one")
		for range 3 {
			if p := h.next(t); p.Message == nil || p.Message.Subject != "one" {
				t.Fatalf("attempt for %+v", p.Message)
			}
		}
		deliverHooked(t, tc, "two")
		if p := h.next(t); p.Message.Subject != "two" {
			t.Errorf("after success: a 4th attempt for %q", p.Message.Subject)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		var fail atomic.Bool
		fail.Store(true)
		h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if fail.Load() {
				w.WriteHeader(http.StatusInternalServerError)
			}
		})
		tc, _ := runWebhooks(t, h.URL)
		deliverHooked(t, tc, "one")
		for range 1 + webhookRetries {
			h.next(t)
		}
		fail.Store(false)
		deliverHooked(t, tc, "two")
		if p := h.next(t); p.Message.Subject != "two" {
			t.Errorf("after %d attempts, another for %q", 1+webhookRetries, p.Message.Subject)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}
		})
		defer close(release)
		tc, _ := runWebhooks(t, h.URL)
		deliverHooked(t, tc, "slow")
		start := time.Now()
		h.next(t)
		if p := h.next(t); p.Message.Subject != "slow" {
			t.Errorf("second attempt for %q", p.Message.Subject)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("retried after %v; the attempt's timeout is 200ms", d)
		}
	})
	t.Run("permanent and redirects", func(t *testing.T) {
		elsewhere := newHookReceiver(t, nil)
		h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 1:
				http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
			case 2:
				w.WriteHeader(http.StatusBadRequest)
			}
		})
		tc, _ := runWebhooks(t, h.URL)
		deliverHooked(t, tc, "redirected")
		deliverHooked(t, tc, "refused")
		deliverHooked(t, tc, "accepted")
		for _, want := range []string{"redirected", "refused", "accepted"} {
			if p := h.next(t); p.Message.Subject != want {
				t.Errorf("request for %q; want %q (no retry of a 3xx or 4xx)", p.Message.Subject, want)
			}
		}
		if elsewhere.count() != 0 {
			t.Error("the redirect was followed")
		}
	})
	t.Run("stop", func(t *testing.T) {
		h := newHookReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // never answers
		})
		tc, stop := runWebhooks(t, h.URL)
		deliverHooked(t, tc, "hanging")
		h.next(t)
		stop() // fails the test if Run does not return
	})
}
