package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/store"
)

// waitHooks makes the waits of tc report to the returned channel: "block"
// each time one starts waiting for a change, "end" when one returns.
func (tc *testConsole) waitHooks() <-chan string {
	ch := make(chan string, 100)
	tc.Server.waitHook = func(e string) { ch <- e }
	return ch
}

// expectHook waits for the next hook event, which must be want.
func expectHook(t testing.TB, ch <-chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("wait hook %q; want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no wait hook %q within 10s", want)
	}
}

// asyncAPI makes a request in a goroutine; the reply comes on the channel.
func (tc *testConsole) asyncAPI(t testing.TB, req *http.Request) <-chan apiReply {
	ch := make(chan apiReply, 1)
	go func() {
		resp, err := tc.HTTP.Client().Do(req)
		if err != nil {
			ch <- apiReply{Status: -1, Body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		ch <- apiReply{resp.StatusCode, resp.Header, []byte(b.String())}
	}()
	return ch
}

func replyOf(t testing.TB, ch <-chan apiReply) apiReply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no reply within 20s")
		return apiReply{}
	}
}

func TestAPI_wait(t *testing.T) {
	tc := newTestConsole(t, nil)
	hooks := tc.waitHooks()
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", "old one", "x"), "bob@example.org")
	old := tc.messageIDs(t, "")[0]

	var m apiMessageJSON
	tc.apiOK(t, 200, "GET", "/api/v1/wait?existing=true&to=bob@example.org&timeout=1s", nil, &m)
	if m.ID != old {
		t.Errorf("existing=true: message %d; want %d", m.ID, old)
	}
	expectHook(t, hooks, "end")

	r := tc.api(t, "GET", "/api/v1/wait?to=bob@example.org&timeout=50ms", nil)
	if r.Status != 408 || !strings.Contains(string(r.Body), `"error"`) {
		t.Errorf("no new message: %v; want 408", r)
	}
	expectHook(t, hooks, "block")
	expectHook(t, hooks, "end")

	// The wait answers the first matching message stored after it began,
	// at the commit that stores it.
	reply := tc.asyncAPI(t, tc.apiRequest(t, "GET", "/api/v1/wait?to=bob@example.org&subject=hello&timeout=20s", nil))
	expectHook(t, hooks, "block")
	tc.deliver(t, testMessage("carol@example.org", "carol@example.org", "hello carol", "x"), "carol@example.org")
	expectHook(t, hooks, "block") // woken, looked, nothing for it
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", "hello bob", "x"), "bob@example.org")
	r = replyOf(t, reply)
	expectHook(t, hooks, "end")
	if r.Status != 200 {
		t.Fatalf("wait: %v", r)
	}
	r.decode(t, &m)
	if m.Subject != "hello bob" || m.Text != "x\r\n" {
		t.Errorf("wait answered %q; want hello bob", m.Subject)
	}

	// after=ID: race-free, and the first after it, not the newest.
	first := m.ID
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", "hello again", "x"), "bob@example.org")
	tc.apiOK(t, 200, "GET", fmt.Sprintf("/api/v1/wait?after=%d&to=bob@example.org&query=subject:hello", old), nil, &m)
	expectHook(t, hooks, "end")
	if m.ID != first {
		t.Errorf("after=%d: message %d; want %d, the first after it", old, m.ID, first)
	}

	// The client going away ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	reply = tc.asyncAPI(t, tc.apiRequest(t, "GET", "/api/v1/wait?to=nobody@example.org", nil).WithContext(ctx))
	expectHook(t, hooks, "block")
	cancel()
	expectHook(t, hooks, "end")
	replyOf(t, reply)

	for _, bad := range []string{"timeout=10m", "timeout=abc", "timeout=0", "existing=maybe", "after=-1", "query=" + "nofield:x"} {
		if r := tc.api(t, "GET", "/api/v1/wait?"+bad, nil); r.Status != 400 {
			t.Errorf("wait?%s = %v; want 400", bad, r)
		}
		if bad == "query=nofield:x" {
			expectHook(t, hooks, "end")
		}
	}

	// Close ends waits with 503, and refuses new ones.
	reply = tc.asyncAPI(t, tc.apiRequest(t, "GET", "/api/v1/wait?to=nobody@example.org", nil))
	expectHook(t, hooks, "block")
	tc.Server.Close()
	if r := replyOf(t, reply); r.Status != 503 {
		t.Errorf("wait at Close: %v; want 503", r)
	}
	if r := tc.api(t, "GET", "/api/v1/wait?timeout=1s", nil); r.Status != 503 {
		t.Errorf("wait after Close: %v; want 503", r)
	}
}

// A wait for an address that has never had mail waits for its first.
func TestAPI_waitNewAddress(t *testing.T) {
	tc := newTestConsole(t, nil)
	hooks := tc.waitHooks()
	reply := tc.asyncAPI(t, tc.apiRequest(t, "GET", "/api/v1/wait?address=new@example.org&timeout=20s", nil))
	expectHook(t, hooks, "block")
	tc.deliver(t, testMessage("carol@example.org", "new@example.org", "first", "x"), "new@example.org")
	if r := replyOf(t, reply); r.Status != 200 || !strings.Contains(string(r.Body), `"subject":"first"`) {
		t.Errorf("wait for a new address: %v", r)
	}
}

func TestAPI_newsWait(t *testing.T) {
	tc := newTestConsole(t, nil)
	hooks := tc.waitHooks()
	var groups []groupJSON
	tc.apiOK(t, 200, "GET", "/api/v1/groups", nil, &groups)
	if len(groups) == 0 {
		if err := tc.Store.AddGroup(t.Context(), "inetkit.test", ""); err != nil {
			t.Fatal(err)
		}
	}
	reply := tc.asyncAPI(t, tc.apiRequest(t, "GET", "/api/v1/news/wait?group=inetkit.test&subject=awaited&timeout=20s", nil))
	expectHook(t, hooks, "block")
	tc.apiOK(t, 201, "POST", "/api/v1/articles", map[string]any{"from": "a@example.org", "groups": []string{"inetkit.test"}, "subject": "other", "text": "x"}, nil)
	expectHook(t, hooks, "block")
	tc.apiOK(t, 201, "POST", "/api/v1/articles", map[string]any{"from": "a@example.org", "groups": []string{"inetkit.test"}, "subject": "the awaited one", "text": "x"}, nil)
	r := replyOf(t, reply)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"subject":"the awaited one"`) {
		t.Errorf("news wait: %v", r)
	}
	if r := tc.api(t, "GET", "/api/v1/news/wait?group=inetkit.test&timeout=20ms", nil); r.Status != 408 {
		t.Errorf("news wait without news: %v; want 408", r)
	}
}

// BenchmarkWait measures the time from Deliver's return to the answer of
// a wait that was blocked on it (the goal is under 10 ms).
func BenchmarkWait(b *testing.B) {
	tc := newTestConsole(b, nil)
	hooks := tc.waitHooks()
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		subject := fmt.Sprint("bench ", i)
		reply := tc.asyncAPI(b, tc.apiRequest(b, "GET", "/api/v1/wait?to=bob@example.org&timeout=60s&subject="+strings.ReplaceAll(subject, " ", "+"), nil))
		expectHook(b, hooks, "block")
		msg := testMessage("carol@example.org", "bob@example.org", subject, "x")
		b.StartTimer()
		tc.deliver(b, msg, "bob@example.org")
		start := time.Now()
		r := replyOf(b, reply)
		total += time.Since(start)
		b.StopTimer()
		if r.Status != 200 {
			b.Fatalf("wait: %v", r)
		}
		expectHook(b, hooks, "end")
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-after-commit/op")
}

// FuzzSearchTerms: a wait's to=, from= and subject= become terms that the
// store's search parses back to exactly those values.
func FuzzSearchTerms(f *testing.F) {
	f.Add("bob@example.org", "Alice Smith", `say "hi"`, "is:unread")
	f.Add(`a\`, `\"`, "-x", "")
	f.Add("to:x", "\t", "\u00e9t\u00e9", "has:attachment")
	f.Fuzz(func(t *testing.T, to, from, subject, query string) {
		if _, err := store.ParseSearch(query); err != nil {
			query = ""
		}
		base, _ := store.ParseSearch(query)
		q := url.Values{"to": {to}, "from": {from}, "subject": {subject}}
		r := httptest.NewRequest("GET", "/api/v1/wait?"+q.Encode(), nil)
		s, err := store.ParseSearch(searchTerms(r, query, "to", "from", "subject"))
		if err != nil {
			t.Fatalf("ParseSearch(%q) error = %v", searchTerms(r, query, "to", "from", "subject"), err)
		}
		var want []store.SearchTerm
		for _, fv := range []struct{ field, v string }{{"to", r.URL.Query().Get("to")}, {"from", r.URL.Query().Get("from")}, {"subject", r.URL.Query().Get("subject")}} {
			if v := strings.TrimSpace(fv.v); v != "" {
				want = append(want, store.SearchTerm{Field: fv.field, Value: strings.ToLower(v)})
			}
		}
		want = append(want, base.Terms...)
		if len(want) == 0 {
			want = nil
		}
		if diff := cmp.Diff(want, s.Terms); diff != "" {
			t.Errorf("terms (-want +got):\n%s", diff)
		}
	})
}
