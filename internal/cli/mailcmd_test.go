package cli

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/smtp"
)

// parseMailRmArgs runs args through a root whose mail command has a runF
// hook, and returns the options the hook received (nil if not called).
func parseMailRmArgs(t *testing.T, args ...string) (*mailRmOptions, error) {
	t.Helper()
	var got *mailRmOptions
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	root := newRootCmd(e)
	for _, c := range root.Commands() {
		if c.Name() == "mail" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newMailCmd(e, func(_ context.Context, o *mailRmOptions) error { got = o; return nil }))
	refuseUnknownSubcommands(root)
	root.SetArgs(args)
	_, err := root.ExecuteContextC(context.Background())
	return got, err
}

func TestMailRmArgs(t *testing.T) {
	d := defaultDataDir
	tests := []struct {
		args []string
		want mailRmOptions
	}{
		{[]string{"alice@example.org"}, mailRmOptions{data: d, address: "alice@example.org", mailbox: "INBOX"}},
		{[]string{"alice@example.org", "--mailbox", "Sent", "--data", "x"}, mailRmOptions{data: "x", address: "alice@example.org", mailbox: "Sent"}},
		{[]string{"alice@example.org", "--all"}, mailRmOptions{data: d, address: "alice@example.org", all: true}},
		{[]string{"--everyone"}, mailRmOptions{data: d, everyone: true, mailbox: "INBOX"}},
		{[]string{"--everyone", "--all"}, mailRmOptions{data: d, everyone: true, all: true}},
		{[]string{"alice@example.org", "--subject", "Invoice", "--from", "bob"}, mailRmOptions{data: d, address: "alice@example.org", mailbox: "INBOX", subject: "Invoice", from: "bob"}},
	}
	for _, tc := range tests {
		args := append([]string{"mail", "rm"}, tc.args...)
		got, err := parseMailRmArgs(t, args...)
		if err != nil || got == nil {
			t.Errorf("%q: %v; want options", args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(mailRmOptions{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", args, diff)
		}
	}
}

func TestMailRmUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "mail rm takes an ADDRESS (or --everyone)"},
		{[]string{"a@x", "b@x"}, "mail rm takes an ADDRESS (or --everyone)"},
		{[]string{"a@x", "--everyone"}, "mail rm takes an ADDRESS or --everyone, not both"},
		{[]string{"a@x", "--all", "--mailbox", "Sent"}, "--all and --mailbox: choose one"},
		{[]string{"a@x", "--mailbox", ""}, "--mailbox needs a NAME"},
		{[]string{"a@x", "--subject", ""}, "--subject needs a TEXT"},
		{[]string{"a@x", "--from="}, "--from needs a TEXT"},
		{[]string{"a@x", "--nope"}, "unknown flag: --nope"},
	}
	for _, tc := range tests {
		args := append([]string{"mail", "rm"}, tc.args...)
		got, err := parseMailRmArgs(t, args...)
		var ue *usageError
		if got != nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q = %v, %v; want a usage error containing %q", args, got, err, tc.want)
		}
		if code, _, _ := runMain(t, "", args...); code != exitUsage {
			t.Errorf("Main(%q) = %d; want %d", args, code, exitUsage)
		}
	}
}

// mailRm runs inetkit mail rm with args and checks that it prints want.
func mailRm(t *testing.T, want string, args ...string) {
	t.Helper()
	args = append([]string{"mail", "rm"}, args...)
	code, stdout, stderr := runMain(t, "", args...)
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("Main(%q) = %d, %q, %q; want 0, %q", args, code, stdout, stderr, want)
	}
}

// Against a store with no server running.
func TestMailRm(t *testing.T) {
	dir := anyLoginStore(t) // alice 1 message, someone@gmail.com 2
	mailRm(t, "deleted 0 messages from Sent of alice@example.org\n", "--data", dir, "alice@example.org", "--mailbox", "Sent")
	mailRm(t, "deleted 0 messages whose subject holds \"nope\" and from holds \"x\" from INBOX of every address\n",
		"--data", dir, "--everyone", "--subject", "nope", "--from", "x")
	mailRm(t, "deleted 1 message whose subject holds \"HI\" from all mailboxes of alice@example.org\n", "--data", dir, "Alice@example.org", "--all", "--subject", "HI")
	mailRm(t, "deleted 2 messages from all mailboxes of every address\n", "--data", dir, "--everyone", "--all")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nobody@example.org"}, "inetkit: no such address nobody@example.org in " + dir + "\n"},
		{[]string{"alice@example.org", "--mailbox", "Nope"}, "inetkit: alice@example.org has no mailbox \"Nope\"\n"},
	} {
		args := append([]string{"mail", "rm", "--data", dir}, tc.args...)
		if code, _, stderr := runMain(t, "", args...); code != exitError || stderr != tc.want {
			t.Errorf("Main(%q) = %d, %q; want 1, %q", args, code, stderr, tc.want)
		}
	}
}

// sendPlain sends a message over SMTP without TLS.
func sendPlain(t *testing.T, addr, to, subject string) {
	t.Helper()
	msg := "From: bob@example.org\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\nhi\r\n"
	_, err := smtp.SendMail(context.Background(), addr, &smtp.ClientOptions{TLSPolicy: smtp.TLSPolicyNone}, "bob@example.org", []string{to}, strings.NewReader(msg))
	if err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
}

// imapWatcher is an IMAP session of `inetkit serve` with INBOX selected,
// recording the EXPUNGE responses it gets.
type imapWatcher struct {
	c   *imapclient.Client
	mu  sync.Mutex
	got []uint32
	ch  chan struct{}
}

func watchINBOX(t *testing.T, addr, user string) *imapWatcher {
	t.Helper()
	w := &imapWatcher{ch: make(chan struct{}, 100)}
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			w.mu.Lock()
			w.got = append(w.got, seq)
			w.mu.Unlock()
			w.ch <- struct{}{}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w.c = c
	if err := c.Login(user, "any").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *imapWatcher) wait(t *testing.T, n int) []uint32 {
	t.Helper()
	for range n {
		select {
		case <-w.ch:
		case <-time.After(10 * time.Second):
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Fatalf("EXPUNGEs %v; want %d", w.got, n)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got)
}

// While inetkit serve runs: mail rm reaches an IMAP session in IDLE through
// the server, and user remove disconnects the user's sessions.
func TestMailRm_whileServing(t *testing.T) {
	srv, data := mailServe(t)
	for _, s := range []string{"keep", "Invoice 1", "keep", "INVOICE 2"} {
		sendPlain(t, srv.addrs["smtp"], "alice@example.org", s)
	}
	sendPlain(t, srv.addrs["smtp"], "bob@example.org", "hi")
	w := watchINBOX(t, srv.addrs["imap"], "alice@example.org")
	idle, err := w.c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	mailRm(t, "deleted 2 messages whose subject holds \"invoice\" from INBOX of alice@example.org\n", "--data", data, "alice@example.org", "--subject", "invoice")
	if got := w.wait(t, 2); !slices.Equal(got, []uint32{4, 2}) {
		t.Errorf("EXPUNGEs in IDLE: %v; want [4 2]", got)
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	bob := watchINBOX(t, srv.addrs["imap"], "bob@example.org")
	code, stdout, stderr := runMain(t, "", "user", "remove", "--data", data, "bob@example.org")
	if want := "removed the address bob@example.org, its 6 mailboxes and 1 message\n"; code != exitOK || stdout != want {
		t.Errorf("user remove while serving = %d, %q, %q; want 0, %q", code, stdout, stderr, want)
	}
	if err := bob.c.Noop().Wait(); err == nil {
		t.Error("the IMAP session of a removed address still answers NOOP")
	}
	mailRm(t, "deleted 2 messages from all mailboxes of every address\n", "--data", data, "--everyone", "--all")
	if err := w.c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if got := w.wait(t, 2); !slices.Equal(got, []uint32{4, 2, 2, 1}) {
		t.Errorf("EXPUNGEs: %v; want [4 2 2 1]", got)
	}
}
