// Package prototest runs "C:/S:" transcripts against line protocols, for
// server and client tests alike.
//
// A script is a sequence of lines, each starting with "C: " (what the client
// sends) or "S: " (what the server sends), without the CRLF, which is added.
// Blank lines and lines starting with "#" are ignored. In the lines checked,
// a pattern is matched with path.Match, so "S: +OK *" accepts any text after
// "+OK ".
//
//	S: +OK inetkit POP3 ready*
//	C: USER alice
//	S: +OK*
package prototest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"path"
	"strings"
	"testing"
	"time"
)

// Timeout bounds every read and write a script makes.
const Timeout = 10 * time.Second

type step struct {
	client bool
	text   string
	line   int
}

func parse(t testing.TB, script string) []step {
	t.Helper()
	var steps []step
	for i, l := range strings.Split(script, "\n") {
		l = strings.TrimRight(strings.TrimLeft(l, " \t"), "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(l, "C:"):
			steps = append(steps, step{client: true, text: strings.TrimPrefix(strings.TrimPrefix(l, "C:"), " "), line: i + 1})
		case strings.HasPrefix(l, "S:"):
			steps = append(steps, step{client: false, text: strings.TrimPrefix(strings.TrimPrefix(l, "S:"), " "), line: i + 1})
		default:
			t.Fatalf("prototest: script line %d: %q starts with neither C: nor S:", i+1, l)
		}
	}
	return steps
}

// Client plays the C: lines of script on conn and checks that the server
// sends the S: lines. It returns a reader positioned after the last line
// checked, for a test that continues by hand.
func Client(t testing.TB, conn net.Conn, script string) *bufio.Reader {
	t.Helper()
	r := bufio.NewReader(conn)
	play(t, conn, r, script, true)
	return r
}

// Run is Client with a reader the caller already holds (after a previous
// Client call on the same connection).
func Run(t testing.TB, conn net.Conn, r *bufio.Reader, script string) {
	t.Helper()
	play(t, conn, r, script, true)
}

// Server plays the S: lines of script on conn and checks that the client
// sends the C: lines: a canned server for client tests. It runs in its own
// goroutine and reports a mismatch with t.Errorf; the returned channel is
// closed when the script is over (conn is then closed).
func Server(t testing.TB, conn net.Conn, script string) <-chan struct{} {
	t.Helper()
	steps := parse(t, script)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer conn.Close()
		r := bufio.NewReader(conn)
		if err := run(conn, r, steps, false); err != nil {
			t.Errorf("prototest server: %v", err)
		}
	}()
	return done
}

func play(t testing.TB, conn net.Conn, r *bufio.Reader, script string, asClient bool) {
	t.Helper()
	if err := run(conn, r, parse(t, script), asClient); err != nil {
		t.Fatal(err)
	}
}

func run(conn net.Conn, r *bufio.Reader, steps []step, asClient bool) error {
	for _, s := range steps {
		if s.client == asClient {
			conn.SetWriteDeadline(time.Now().Add(Timeout))
			if _, err := io.WriteString(conn, s.text+"\r\n"); err != nil {
				return fmt.Errorf("script line %d: write %q: %w", s.line, s.text, err)
			}
			continue
		}
		conn.SetReadDeadline(time.Now().Add(Timeout))
		got, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("script line %d: want %q, read error %w (got %q)", s.line, s.text, err, got)
		}
		got = strings.TrimSuffix(strings.TrimSuffix(got, "\n"), "\r")
		if ok, err := path.Match(s.text, got); err != nil || !ok {
			if got != s.text {
				return fmt.Errorf("script line %d: got %q, want %q", s.line, got, s.text)
			}
		}
	}
	return nil
}
