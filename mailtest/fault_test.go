package mailtest_test

import (
	"context"
	"errors"
	"testing"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/mailtest"
	"github.com/inetkit/inetkit/smtp"
)

// TestServer_faults: a client that retries a 451 gets its message
// delivered once; the store's delivery is not reached by the fault.
func TestServer_faults(t *testing.T) {
	s := mailtest.NewServerWithOptions(t, &mailtest.Options{
		Faults: fault.MustParseSet(1, `smtp DATA reply="451 4.3.0 try later" first=1`),
	})
	ctx := context.Background()
	const msg = "Subject: retry\r\n\r\nhello\r\n"
	err := s.Send(ctx, "a@example.org", []string{"b@example.org"}, msg)
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 451 {
		t.Fatalf("first Send = %v; want 451", err)
	}
	if err := s.Send(ctx, "a@example.org", []string{"b@example.org"}, msg); err != nil {
		t.Fatalf("retry: Send = %v", err)
	}
	if _, err := s.WaitForMessage(ctx, "b@example.org", nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Store.Messages(ctx, "b@example.org", "INBOX")
	if err != nil || len(msgs) != 1 {
		t.Errorf("b@example.org holds %d messages, %v; want 1", len(msgs), err)
	}
}
