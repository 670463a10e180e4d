package nntp_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
)

func TestNewPosting(t *testing.T) {
	be := nntptest.NewSpool("u", "p", "inetkit.test")
	be.AddGroup("inetkit.closed", "", nntp.StatusPostingNotAllowed)
	ctx := context.Background()

	p, err := nntp.NewPosting(ctx, be, []byte("From: a@example.org\nNewsgroups: inetkit.test, inetkit.test\nSubject: hi\nXref: x 1\n\nbody\n"), "news.example", "alice")
	if err != nil {
		t.Fatalf("NewPosting() error = %v", err)
	}
	if len(p.Groups) != 1 || p.Groups[0] != "inetkit.test" || p.User != "alice" || p.Subject != "hi" {
		t.Errorf("NewPosting() = groups %q, user %q, subject %q", p.Groups, p.User, p.Subject)
	}
	h := string(p.Header)
	if !strings.HasPrefix(h, "Path: news.example!not-for-mail\r\n") || !strings.Contains(h, "\r\nMessage-ID: <") ||
		!strings.HasSuffix(p.MessageID, "@news.example>") || strings.Contains(h, "Xref") || string(p.Body) != "body\r\n" {
		t.Errorf("NewPosting() header %q, body %q, id %q", h, p.Body, p.MessageID)
	}
	if _, err := be.Post(ctx, p); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ article, why string }{
		{"From: a@example.org\nSubject: hi\n\nbody\n", "missing Newsgroups"},
		{"From: a@example.org\nNewsgroups: inetkit.none\nSubject: hi\n\nbody\n", "no such newsgroup"},
		{"From: a@example.org\nNewsgroups: inetkit.closed\nSubject: hi\n\nbody\n", "not allowed"},
	} {
		_, err := nntp.NewPosting(ctx, be, []byte(tc.article), "", "")
		var e *nntp.Error
		if !errors.As(err, &e) || e.Code != 441 || !strings.Contains(e.Message, tc.why) {
			t.Errorf("NewPosting(%q) error = %v; want 441 %s", tc.article, err, tc.why)
		}
	}
}
