package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// An apiReply is an answer of the console to a test request.
type apiReply struct {
	Status int
	Header http.Header
	Body   []byte
}

// String shows a reply in a test failure.
func (r apiReply) String() string {
	b := string(r.Body)
	if len(b) > 300 {
		b = b[:300] + "..."
	}
	return fmt.Sprintf("%d %s", r.Status, b)
}

// decode decodes the reply's JSON body into v.
func (r apiReply) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("reply %v: %v", r, err)
	}
}

// apiRequest makes a request to the console; body is a string, []byte, an
// io.Reader or, for anything else, its JSON. Headers come in pairs.
func (tc *testConsole) apiRequest(t testing.TB, method, path string, body any, header ...string) *http.Request {
	t.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = strings.NewReader(string(b))
	case io.Reader:
		r = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r, ct = strings.NewReader(string(j)), "application/json"
	}
	req, err := http.NewRequest(method, tc.HTTP.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// apiDo sends req and reads the reply.
func (tc *testConsole) apiDo(t testing.TB, req *http.Request) apiReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	resp, err := tc.HTTP.Client().Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the reply: %v", req.Method, req.URL.Path, err)
	}
	return apiReply{resp.StatusCode, resp.Header, b}
}

// api makes a request and reads the reply.
func (tc *testConsole) api(t testing.TB, method, path string, body any, header ...string) apiReply {
	t.Helper()
	return tc.apiDo(t, tc.apiRequest(t, method, path, body, header...))
}

// apiOK makes a request that must answer want, and decodes its JSON into
// v if v is not nil.
func (tc *testConsole) apiOK(t testing.TB, want int, method, path string, body, v any, header ...string) apiReply {
	t.Helper()
	r := tc.api(t, method, path, body, header...)
	if r.Status != want {
		t.Fatalf("%s %s = %v; want %d", method, path, r, want)
	}
	if v != nil {
		r.decode(t, v)
	}
	return r
}

// testMessage returns a small message from from to to.
func testMessage(from, to, subject, body string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@test>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n"
}

// basic returns an Authorization header value for Basic auth.
func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}
