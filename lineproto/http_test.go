package lineproto_test

import (
	"testing"

	"github.com/inetkit/inetkit/lineproto"
)

func TestIsHTTPRequest(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"GET / HTTP/1.1", true},
		{"POST /form HTTP/1.0", true},
		{"CONNECT example.org:443 HTTP/1.1", true},
		{"GET /index.html", true}, // HTTP/0.9
		{"OPTIONS * http/1.1", true},
		{"USER alice", false},
		{"a1 LOGIN alice secret", false},
		{"GET", false},
		{"DELETE mailbox", false},
		{"a DELETE /x HTTP", false},
		{"", false},
		{"MAIL FROM:<a@b> HTTP/1.1", true}, // three words ending in HTTP/: refused anyway
	} {
		if got := lineproto.IsHTTPRequest([]byte(tc.line)); got != tc.want {
			t.Errorf("IsHTTPRequest(%q) = %v; want %v", tc.line, got, tc.want)
		}
	}
}
