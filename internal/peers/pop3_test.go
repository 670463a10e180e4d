//go:build unix

package peers_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/internal/testcert"
	"github.com/inetkit/inetkit/pop3"
)

// Messages put into Dovecot for the POP3 tests. msgDots holds every line
// that POP3's dot-stuffing changes, and the line "." in the middle, which
// ends a multi-line reply if the server does not stuff it or the client
// does not unstuff it.
var (
	msgHello = message("hello", "Hello Alice.\r\nSecond line.\r\n")
	msgDots  = message("dots", ".\r\n..\r\n.leading dot\r\n...three\r\nbefore\r\n.\r\nafter an end-of-data line\r\n. \r\n.\r\n\r\n.\r\nlast\r\n")
	msgBig   = message("big", bigBody())
)

// bigBody returns a body of about 300 KB, larger than any buffer on the
// way, with a dotted line every few lines.
func bigBody() string {
	var b strings.Builder
	for i := range 6000 {
		if i%7 == 0 {
			b.WriteString(".")
		}
		fmt.Fprintf(&b, "line %d of a long message, padded to about fifty bytes\r\n", i)
	}
	return b.String()
}

// pop3Login starts Dovecot with msgs in the INBOX, and logs in over POP3
// with USER and PASS. Messages are put in over IMAP, which the test then
// needs too.
func pop3Login(t *testing.T, msgs ...string) (*peers.Dovecot, *pop3.Client) {
	t.Helper()
	d := peers.StartDovecot(t, pop3Protocols(msgs)...)
	if len(msgs) > 0 {
		deliver(t, d, msgs...)
	}
	return d, pop3Dial(t, d)
}

// pop3Protocols returns the protocols a POP3 test needs: POP3, and IMAP to
// put msgs in (see deliver).
func pop3Protocols(msgs []string) []string {
	if len(msgs) > 0 {
		return []string{peers.POP3, peers.IMAP}
	}
	return []string{peers.POP3}
}

func pop3Dial(t *testing.T, d *peers.Dovecot) *pop3.Client {
	t.Helper()
	c, err := pop3.Dial(testContext(t), d.POP3Addr, &pop3.ClientOptions{Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("pop3.Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(d.User, d.Pass); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c
}

func retrieve(t *testing.T, c *pop3.Client, n int) string {
	t.Helper()
	r, err := c.Retrieve(n)
	if err != nil {
		t.Fatalf("Retrieve(%d): %v", n, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Retrieve(%d): read: %v", n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Retrieve(%d): Close: %v", n, err)
	}
	return string(b)
}

func top(t *testing.T, c *pop3.Client, n, lines int) string {
	t.Helper()
	r, err := c.Top(n, lines)
	if err != nil {
		t.Fatalf("Top(%d, %d): %v", n, lines, err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Top(%d, %d): read: %v", n, lines, err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Top(%d, %d): Close: %v", n, lines, err)
	}
	return string(b)
}

func TestPOP3_retrieve(t *testing.T) {
	t.Parallel()
	msgs := []string{msgHello, msgDots, msgBig}
	_, c := pop3Login(t, msgs...)

	count, size, err := c.Stat()
	var total int64
	for _, m := range msgs {
		total += int64(len(m))
	}
	if err != nil || count != len(msgs) || size != total {
		t.Errorf("Stat() = %d, %d, %v; want %d, %d, nil", count, size, err, len(msgs), total)
	}
	list, err := c.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var want []pop3.MessageSize
	for i, m := range msgs {
		want = append(want, pop3.MessageSize{Number: i + 1, Size: int64(len(m))})
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
	if one, err := c.ListOne(2); err != nil || one != want[1] {
		t.Errorf("ListOne(2) = %+v, %v; want %+v, nil", one, err, want[1])
	}
	for i, m := range msgs {
		if got := retrieve(t, c, i+1); got != m {
			t.Errorf("Retrieve(%d) = %q...; want %q...", i+1, truncate(got), truncate(m))
			if i == 1 {
				t.Errorf("Retrieve(2) = %q; want %q", got, m)
			}
		}
	}
	// A second RETR of the same message gives the same bytes.
	if got := retrieve(t, c, 2); got != msgDots {
		t.Errorf("second Retrieve(2) = %q; want %q", got, msgDots)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

// truncate shortens s for messages about a long message.
func truncate(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

func TestPOP3_top(t *testing.T) {
	t.Parallel()
	_, c := pop3Login(t, msgHello, msgDots)
	header, _, _ := strings.Cut(msgDots, "\r\n\r\n")
	tests := []struct {
		n, lines int
		want     string
	}{
		{1, 0, strings.SplitAfter(msgHello, "\r\n\r\n")[0]},
		{1, 1, strings.SplitAfter(msgHello, "\r\n\r\n")[0] + "Hello Alice.\r\n"},
		{2, 3, header + "\r\n\r\n.\r\n..\r\n.leading dot\r\n"},
		{2, 6, header + "\r\n\r\n.\r\n..\r\n.leading dot\r\n...three\r\nbefore\r\n.\r\n"},
		{2, 1000, msgDots},
	}
	for _, tc := range tests {
		if got := top(t, c, tc.n, tc.lines); got != tc.want {
			t.Errorf("Top(%d, %d) = %q; want %q", tc.n, tc.lines, got, tc.want)
		}
	}
	// A reader closed before its end leaves the connection in step.
	r, err := c.Top(2, 1000)
	if err != nil {
		t.Fatalf("Top: %v", err)
	}
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatalf("Top: read: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Top: Close: %v", err)
	}
	if got := retrieve(t, c, 1); got != msgHello {
		t.Errorf("Retrieve(1) after a half-read Top = %q; want %q", got, msgHello)
	}
}

func TestPOP3_UIDL(t *testing.T) {
	t.Parallel()
	d, c := pop3Login(t, msgHello, msgDots, msgHello)
	uids, err := c.UIDL()
	if err != nil {
		t.Fatalf("UIDL: %v", err)
	}
	if len(uids) != 3 {
		t.Fatalf("UIDL() = %v; want 3 messages", uids)
	}
	seen := map[string]bool{}
	for i, u := range uids {
		// pop3_uidl_format = %08Xu%08Xv
		if u.Number != i+1 || len(u.UID) != 16 || seen[u.UID] {
			t.Errorf("UIDL()[%d] = %+v; want number %d and a new 16-digit UID", i, u, i+1)
		}
		seen[u.UID] = true
		if one, err := c.UIDLOne(i + 1); err != nil || one != u.UID {
			t.Errorf("UIDLOne(%d) = %q, %v; want %q, nil", i+1, one, err, u.UID)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	again, err := pop3Dial(t, d).UIDL()
	if err != nil || !slices.Equal(again, uids) {
		t.Errorf("UIDL() in a new session = %v, %v; want %v, nil", again, err, uids)
	}
}

func TestPOP3_deleteQuit(t *testing.T) {
	t.Parallel()
	d, c := pop3Login(t, msgHello, msgDots, msgBig)
	uids, err := c.UIDL()
	if err != nil {
		t.Fatalf("UIDL: %v", err)
	}
	if err := c.Delete(2); err != nil {
		t.Fatalf("Delete(2): %v", err)
	}
	// A deleted message is gone from STAT and LIST at once (RFC 1939 §5).
	if n, size, err := c.Stat(); err != nil || n != 2 || size != int64(len(msgHello)+len(msgBig)) {
		t.Errorf("Stat() after Delete(2) = %d, %d, %v; want 2, %d, nil", n, size, err, len(msgHello)+len(msgBig))
	}
	if list, err := c.List(); err != nil || len(list) != 2 || list[0].Number != 1 || list[1].Number != 3 {
		t.Errorf("List() after Delete(2) = %v, %v; want messages 1 and 3", list, err)
	}
	var perr *pop3.Error
	if _, err := c.Retrieve(2); !errors.As(err, &perr) {
		t.Errorf("Retrieve of a deleted message: %v; want a *pop3.Error", err)
	}
	if err := c.Delete(2); !errors.As(err, &perr) {
		t.Errorf("second Delete(2): %v; want a *pop3.Error", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatalf("Quit: %v", err)
	}

	c = pop3Dial(t, d)
	got, err := c.UIDL()
	want := []pop3.MessageUID{{Number: 1, UID: uids[0].UID}, {Number: 2, UID: uids[2].UID}}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("UIDL() after Delete(2) and Quit = %v, %v; want %v, nil", got, err, want)
	}
	if got := retrieve(t, c, 2); got != msgBig {
		t.Errorf("Retrieve(2) after Delete(2) and Quit = %q...; want the third message", truncate(got))
	}
}

func TestPOP3_reset(t *testing.T) {
	t.Parallel()
	d, c := pop3Login(t, msgHello, msgDots)
	for n := 1; n <= 2; n++ {
		if err := c.Delete(n); err != nil {
			t.Fatalf("Delete(%d): %v", n, err)
		}
	}
	if n, _, err := c.Stat(); err != nil || n != 0 {
		t.Errorf("Stat() after deleting all = %d, %v; want 0, nil", n, err)
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	if n, _, err := c.Stat(); err != nil || n != 2 {
		t.Errorf("Stat() after Reset = %d, %v; want 2, nil", n, err)
	}
	if got := retrieve(t, c, 2); got != msgDots {
		t.Errorf("Retrieve(2) after Reset = %q; want %q", got, msgDots)
	}
	// Close without QUIT: the server deletes nothing (RFC 1939 §6).
	if err := c.Delete(1); err != nil {
		t.Fatalf("Delete(1): %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	c = pop3Dial(t, d)
	if n, _, err := c.Stat(); err != nil || n != 2 {
		t.Errorf("Stat() after Reset, Delete and Close = %d, %v; want 2, nil", n, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

func TestPOP3_capabilities(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.POP3)
	c, err := pop3.Dial(testContext(t), d.POP3Addr, &pop3.ClientOptions{Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("pop3.Dial: %v", err)
	}
	defer c.Close()
	if g := c.Greeting(); !strings.Contains(g, "ready") {
		t.Errorf("Greeting() = %q; want Dovecot's \"Dovecot (Debian) ready.\"", g)
	}
	caps, err := c.Capabilities()
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	for _, name := range []string{"TOP", "UIDL", "USER", "STLS", "RESP-CODES", "PIPELINING"} {
		if _, ok := caps[name]; !ok {
			t.Errorf("Capabilities() = %v; want %s", caps, name)
		}
	}
	if sasl := caps["SASL"]; !slices.Contains(sasl, "PLAIN") || !slices.Contains(sasl, "LOGIN") {
		t.Errorf("Capabilities()[\"SASL\"] = %v; want PLAIN and LOGIN", sasl)
	}
	if err := c.StartTLS(testcert.ClientConfig()); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	caps, err = c.Capabilities()
	if err != nil {
		t.Fatalf("Capabilities after STLS: %v", err)
	}
	if _, ok := caps["STLS"]; ok {
		t.Errorf("Capabilities() after STLS = %v; want no STLS", caps)
	}
	if err := c.StartTLS(nil); err == nil {
		t.Error("a second StartTLS succeeded")
	}
	if err := c.LoginPlain(d.User, d.Pass); err != nil {
		t.Fatalf("LoginPlain: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

func TestPOP3_DialStartTLS(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.POP3, peers.IMAP)
	deliver(t, d, msgDots)
	ctx := testContext(t)
	c, err := pop3.DialStartTLS(ctx, d.POP3Addr, &pop3.ClientOptions{TLSConfig: testcert.ClientConfig(), Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("DialStartTLS: %v", err)
	}
	defer c.Close()
	if err := c.LoginPlain(d.User, d.Pass); err != nil {
		t.Fatalf("LoginPlain: %v", err)
	}
	if got := retrieve(t, c, 1); got != msgDots {
		t.Errorf("Retrieve(1) over TLS = %q; want %q", got, msgDots)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}

	// Without the test CA, the certificate is not trusted.
	_, err = pop3.DialStartTLS(ctx, d.POP3Addr, &pop3.ClientOptions{TLSConfig: &tls.Config{ServerName: "localhost"}, Timeout: clientTimeout})
	if err == nil {
		t.Error("DialStartTLS trusted a certificate from an unknown CA")
	}
}

func TestPOP3_authFailed(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.POP3)
	c, err := pop3.Dial(testContext(t), d.POP3Addr, &pop3.ClientOptions{Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("pop3.Dial: %v", err)
	}
	defer c.Close()
	// Dovecot answers "-ERR [AUTH] Authentication failed."
	for name, login := range map[string]func(user, pass string) error{"Login": c.Login, "LoginPlain": c.LoginPlain} {
		err := login(d.User, "wrong")
		var perr *pop3.Error
		if !errors.As(err, &perr) || perr.Code != "AUTH" || perr.Message != "Authentication failed." || perr.Temporary() {
			t.Errorf("%s with a wrong password: %#v; want *pop3.Error{Code: \"AUTH\", Message: \"Authentication failed.\"}", name, err)
		}
	}
	// Credentials too long for one command line go after AUTH PLAIN's
	// "+" continuation (RFC 5034 §4).
	err = c.LoginPlain(d.User, strings.Repeat("long password ", 20))
	if perr := (*pop3.Error)(nil); !errors.As(err, &perr) || perr.Code != "AUTH" {
		t.Errorf("LoginPlain with a long wrong password: %v; want -ERR [AUTH]", err)
	}
	// Dovecot's greeting has no APOP timestamp unless configured so.
	if err := c.APOP(d.User, d.Pass); err == nil {
		t.Error("APOP succeeded without a greeting timestamp")
	}
	var perr *pop3.Error
	if _, _, err := c.Stat(); !errors.As(err, &perr) {
		t.Errorf("Stat before login: %v; want a *pop3.Error", err)
	}
	// The session goes on: a right password still logs in.
	if err := c.Login(d.User, d.Pass); err != nil {
		t.Fatalf("Login after failures: %v", err)
	}
	if n, _, err := c.Stat(); err != nil || n != 0 {
		t.Errorf("Stat() = %d, %v; want 0, nil", n, err)
	}
	if _, err := c.Retrieve(1); !errors.As(err, &perr) || perr.Code != "" {
		t.Errorf("Retrieve(1) of an empty maildrop: %v; want a *pop3.Error without code", err)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop after an error reply: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}

func TestPOP3_DialTLS(t *testing.T) {
	t.Parallel()
	d := peers.StartDovecot(t, peers.POP3, peers.IMAP)
	deliver(t, d, msgHello)
	c, err := pop3.DialTLS(testContext(t), d.POP3SAddr, &pop3.ClientOptions{TLSConfig: testcert.ClientConfig(), Timeout: clientTimeout})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); err == nil {
		t.Error("StartTLS over implicit TLS succeeded")
	}
	if err := c.Login(d.User, d.Pass); err != nil {
		t.Fatalf("Login: %v", err)
	}
	if got := retrieve(t, c, 1); got != msgHello {
		t.Errorf("Retrieve(1) = %q; want %q", got, msgHello)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}
