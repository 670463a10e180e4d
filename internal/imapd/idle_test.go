package imapd_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/imapd"
	"github.com/inetkit/inetkit/internal/prototest"
)

// TestIdle_seesDeliveries checks that a session in IDLE is told of a
// delivery, of another session's flag change and of an expunge at once,
// without sending anything (RFC 2177).
func TestIdle_seesDeliveries(t *testing.T) {
	s := newServer(t, nil)
	s.deliver(t, 1)
	c, r, _ := s.selected(t)
	other, ro, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a IDLE
S: + idling`)
	s.deliver(t, 1)
	prototest.Run(t, c, r, `
S: * 2 EXISTS
S: * 2 RECENT`)
	mustOK(t, other, ro, "a", `STORE 1 +FLAGS (\Deleted)`)
	prototest.Run(t, c, r, `
S: * 1 FETCH (FLAGS (\Deleted \Recent))`)
	mustOK(t, other, ro, "b", `EXPUNGE`)
	prototest.Run(t, c, r, `
S: * 1 EXPUNGE
C: DONE
S: a OK Idle completed.
C: b NOOP
S: b OK Noop completed.`)
}

// TestIdle_changeBeforeWait delivers right after "+ idling", many times:
// a change made between the continuation and the wait must not be missed.
func TestIdle_changeBeforeWait(t *testing.T) {
	s := newServer(t, nil)
	c, r, _ := s.selected(t)
	for i := range 20 {
		prototest.Run(t, c, r, `
C: a IDLE
S: + idling`)
		s.deliver(t, 1)
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := "* " + strconv.Itoa(i+1) + " EXISTS\r\n"; line != want {
			t.Fatalf("round %d: got %q; want %q", i, line, want)
		}
		prototest.Run(t, c, r, `
S: * * RECENT
C: DONE
S: a OK Idle completed.`)
	}
}

func TestIdle_badDoneAndAuthState(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	prototest.Run(t, c, r, `
C: a IDLE
S: + idling
C: NOTDONE
S: a BAD Expected DONE.
C: b IDLE
S: + idling
C: done
S: b OK Idle completed.`)
}

// TestIdle_shutdown checks that Shutdown ends an idling session with a
// goodbye rather than waiting for DONE.
func TestIdle_shutdown(t *testing.T) {
	s := newServer(t, nil)
	c, r, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a IDLE
S: + idling`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	rest := readUntilEOF(t, c, r)
	if rest == "" || rest[:5] != "* BYE" {
		t.Errorf("idling session got %q at shutdown; want * BYE", rest)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}

// TestIdle_keepaliveAndTimeout checks that an idling client gets "* OK
// Still here" now and then, and is logged out at the idle timeout all
// the same (RFC 2177 §3).
func TestIdle_keepaliveAndTimeout(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.IdleTimeout = 600 * time.Millisecond })
	c, r, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a IDLE
S: + idling
S: * OK Still here`)
	rest := readUntilEOF(t, c, r)
	if !strings.HasSuffix(rest, "\r\n") || !strings.Contains(rest, "* BYE ") {
		t.Errorf("after keepalives, got %q; want a * BYE at the idle timeout", rest)
	}
}

// TestIdle_longerThanCommandTimeout checks that IDLE is bounded by the
// idle timeout, not by the command timeout: a client idles for minutes.
func TestIdle_longerThanCommandTimeout(t *testing.T) {
	s := newServer(t, func(s *imapd.Server) { s.CommandTimeout = 200 * time.Millisecond })
	c, r, _ := s.selected(t)
	prototest.Run(t, c, r, `
C: a IDLE
S: + idling`)
	time.Sleep(600 * time.Millisecond) // the idle itself is what is tested
	prototest.Run(t, c, r, `
C: DONE
S: a OK Idle completed.`)
}

// TestIdle_mailboxDeletedElsewhere checks that a session idling on a
// mailbox another session deletes is told its messages are gone.
func TestIdle_mailboxDeletedElsewhere(t *testing.T) {
	s := newServer(t, nil)
	c, r := s.loggedIn(t)
	other, ro := s.loggedIn(t)
	mustOK(t, other, ro, "a", "CREATE tmp")
	mustOK(t, other, ro, "b", "APPEND tmp {3+}\r\nx\r\n")
	mustOK(t, c, r, "a", "SELECT tmp")
	prototest.Run(t, c, r, `
C: b IDLE
S: + idling`)
	mustOK(t, other, ro, "c", "DELETE tmp")
	prototest.Run(t, c, r, `
S: * 1 EXPUNGE
C: DONE
S: b OK Idle completed.`)
}
