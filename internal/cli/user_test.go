package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/store"
)

// parseUserArgs runs args through a root whose user command has a runF
// hook, and returns the options the hook received (nil if not called).
func parseUserArgs(t *testing.T, args ...string) (*userOptions, error) {
	t.Helper()
	var got *userOptions
	var out bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	root := newRootCmd(e)
	for _, c := range root.Commands() {
		if c.Name() == "user" {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(newUserCmd(e, func(_ context.Context, o *userOptions) error { got = o; return nil }))
	refuseUnknownSubcommands(root)
	root.SetArgs(args)
	_, err := root.ExecuteContextC(context.Background())
	return got, err
}

func TestUserArgs(t *testing.T) {
	tests := []struct {
		args []string
		want userOptions
	}{
		{[]string{"user", "add", "alice@example.org"}, userOptions{data: defaultDataDir, action: "add", address: "alice@example.org"}},
		{[]string{"user", "add", "--password", "pw", "--data", "d", "bøb@exämple.org"}, userOptions{data: "d", action: "add", address: "bøb@exämple.org", password: "pw"}},
		{[]string{"user", "passwd", "alice@example.org"}, userOptions{data: defaultDataDir, action: "passwd", address: "alice@example.org"}},
		{[]string{"user", "remove", "alice@example.org"}, userOptions{data: defaultDataDir, action: "remove", address: "alice@example.org"}},
		{[]string{"user", "rm", "alice@example.org"}, userOptions{data: defaultDataDir, action: "remove", address: "alice@example.org"}},
		{[]string{"user", "list"}, userOptions{data: defaultDataDir, action: "list"}},
		{[]string{"user", "list", "--json", "--data", "x"}, userOptions{data: "x", action: "list", json: true}},
	}
	for _, tc := range tests {
		got, err := parseUserArgs(t, tc.args...)
		if err != nil || got == nil {
			t.Errorf("%q: %v; want options", tc.args, err)
			continue
		}
		if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(userOptions{})); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.args, diff)
		}
	}
}

func TestUserUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"user", "add"}, "user add takes an ADDRESS"},
		{[]string{"user", "add", "alice"}, `invalid address "alice": no @`},
		{[]string{"user", "add", "al ice@example.org"}, `invalid address "al ice@example.org"`},
		{[]string{"user", "add", "\xff\xfe@example.org"}, "not valid UTF-8"},
		{[]string{"user", "passwd"}, "user passwd takes an ADDRESS"},
		{[]string{"user", "remove"}, "user remove takes an ADDRESS"},
		{[]string{"user", "remove", "a@x", "b@x"}, "user remove takes an ADDRESS"},
		{[]string{"user", "list", "x"}, "user list takes no arguments"},
		{[]string{"user", "list", "--nope"}, "unknown flag: --nope"},
	}
	for _, tc := range tests {
		got, err := parseUserArgs(t, tc.args...)
		var ue *usageError
		if got != nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q = %v, %v; want a usage error containing %q", tc.args, got, err, tc.want)
		}
		if code, _, _ := runMain(t, "", tc.args...); code != exitUsage {
			t.Errorf("Main(%q) = %d; want %d", tc.args, code, exitUsage)
		}
	}
}

// anyLoginStore makes a store in a temporary directory as inetkit serve on
// loopback would have left it: alice logged in, mail to someone@gmail.com
// (two messages) and to alice (one), and carol@example.org an account.
func anyLoginStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(dir, &store.Options{AnyLogin: true, PasswordCost: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Authenticate(ctx, "alice@example.org", "any"); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ctx, "carol@example.org", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"someone@gmail.com", "someone@gmail.com", "alice@example.org"} {
		if err := st.Deliver(ctx, []string{rcpt}, []byte("Subject: hi\r\n\r\nhi\r\n"), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// user add gives a password to an address a login or a delivery made;
// only an address with a password is an error, and user passwd of an
// unknown address says how to add it.
func TestUserAdd_addressWithoutPassword(t *testing.T) {
	dir := anyLoginStore(t)
	for _, a := range []string{"alice@example.org", "Someone@gmail.com"} {
		code, stdout, stderr := runMain(t, "s3cret\n", "user", "add", "--data", dir, a)
		if code != exitOK || stdout != "added "+strings.ToLower(a)+"\n" || stderr != "" {
			t.Errorf("user add %s = %d, %q, %q; want 0 and added", a, code, stdout, stderr)
		}
	}
	code, _, stderr := runMain(t, "other\n", "user", "add", "--data", dir, "alice@example.org")
	if want := "inetkit: alice@example.org already has a password; use inetkit user passwd\n"; code != exitError || stderr != want {
		t.Errorf("user add of an account = %d, %q; want 1, %q", code, stderr, want)
	}
	code, _, stderr = runMain(t, "pw\n", "user", "passwd", "--data", dir, "Nobody@example.org")
	if want := "inetkit: no such address nobody@example.org in " + dir + "; add it with inetkit user add\n"; code != exitError || stderr != want {
		t.Errorf("user passwd of an unknown address = %d, %q; want 1, %q", code, stderr, want)
	}
	if code, stdout, _ := runMain(t, "pw\n", "user", "passwd", "--data", dir, "alice@example.org"); code != exitOK || stdout != "changed the password of alice@example.org\n" {
		t.Errorf("user passwd = %d, %q", code, stdout)
	}
	st, err := store.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if msgs, err := st.Messages(context.Background(), "someone@gmail.com", "INBOX"); err != nil || len(msgs) != 2 {
		t.Errorf("someone's INBOX after user add: %d messages, %v; want the 2 delivered", len(msgs), err)
	}
	if _, err := st.Authenticate(context.Background(), "alice@example.org", "pw"); err != nil {
		t.Errorf("alice's new password: %v", err)
	}
}

// Commands that read or change what a server made do not make a store
// where there is none; user add does (it can come before the first serve).
func TestUserMail_noStore(t *testing.T) {
	for _, args := range [][]string{
		{"user", "list"}, {"user", "list", "--json"}, {"user", "passwd", "a@example.org"},
		{"user", "remove", "a@example.org"}, {"mail", "rm", "a@example.org"}, {"mail", "rm", "--everyone", "--all"},
	} {
		dir := filepath.Join(t.TempDir(), "typo")
		args := append(args, "--data", dir)
		code, stdout, stderr := runMain(t, "pw\n", args...)
		want := "inetkit: no inetkit data in " + dir + " (inetkit serve --data " + dir + " creates it)\n"
		if code != exitError || stdout != "" || stderr != want {
			t.Errorf("Main(%q) = %d, %q, %q; want 1, nothing, %q", args, code, stdout, stderr, want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Main(%q) made %s", args, dir)
		}
	}
	dir := filepath.Join(t.TempDir(), "new")
	if code, _, stderr := runMain(t, "pw\n", "user", "add", "--data", dir, "a@example.org"); code != exitOK {
		t.Errorf("user add in a new directory = %d, %q; want 0", code, stderr)
	}
}

func TestUserList(t *testing.T) {
	dir := anyLoginStore(t)
	code, stdout, stderr := runMain(t, "", "user", "list", "--data", dir)
	want := `ADDRESS            KIND       MESSAGES  MAILBOXES
alice@example.org  any-login  1         INBOX 1
carol@example.org  account    0         -
someone@gmail.com  rcpt       2         INBOX 2
`
	if code != exitOK || stdout != want || stderr != "" {
		t.Errorf("user list = %d, stderr %q, stdout:\n%s\nwant:\n%s", code, stderr, stdout, want)
	}
}

func TestUserList_json(t *testing.T) {
	dir := anyLoginStore(t)
	code, stdout, stderr := runMain(t, "", "user", "list", "--json", "--data", dir)
	if code != exitOK || stderr != "" {
		t.Fatalf("user list --json = %d, %q", code, stderr)
	}
	// The documented shape, exactly: no field more or less.
	var doc struct {
		Users []struct {
			Address   string    `json:"address"`
			Kind      string    `json:"kind"`
			Created   time.Time `json:"created"`
			Messages  int       `json:"messages"`
			Mailboxes []struct {
				Name     string `json:"name"`
				Messages int    `json:"messages"`
			} `json:"mailboxes"`
		} `json:"users"`
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("user list --json: %v\n%s", err, stdout)
	}
	var got []string
	for _, u := range doc.Users {
		if time.Since(u.Created) > time.Minute || u.Created.Location() != time.UTC {
			t.Errorf("%s: created %v; want just now, UTC", u.Address, u.Created)
		}
		var boxes []string
		for _, mb := range u.Mailboxes {
			boxes = append(boxes, mb.Name+"="+strings.Repeat("*", mb.Messages))
		}
		got = append(got, u.Address+" "+u.Kind+" "+strings.Repeat("*", u.Messages)+" "+strings.Join(boxes, ","))
	}
	want := []string{
		"alice@example.org any-login * INBOX=*,Archive=,Drafts=,Junk=,Sent=,Trash=",
		"carol@example.org account  INBOX=,Archive=,Drafts=,Junk=,Sent=,Trash=",
		"someone@gmail.com rcpt ** INBOX=**,Archive=,Drafts=,Junk=,Sent=,Trash=",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user list --json (-want +got):\n%s\n%s", diff, stdout)
	}
	if !regexp.MustCompile(`"created": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"`).MatchString(stdout) {
		t.Errorf("created is not RFC 3339 in UTC:\n%s", stdout)
	}

	empty := t.TempDir()
	if st, err := store.Open(empty, nil); err != nil {
		t.Fatal(err)
	} else {
		st.Close()
	}
	if _, stdout, _ := runMain(t, "", "user", "list", "--json", "--data", empty); stdout != "{\n  \"users\": []\n}\n" {
		t.Errorf("user list --json of an empty store = %q; want an empty list", stdout)
	}
}

// user remove removes an address, its mailboxes and its mail, and says
// so; a second remove finds nothing.
func TestUserRemove(t *testing.T) {
	dir := anyLoginStore(t)
	for _, tc := range []struct{ address, want string }{
		{"Someone@gmail.com", "removed the address someone@gmail.com, its 6 mailboxes and 2 messages\n"},
		{"carol@example.org", "removed the account carol@example.org, its 6 mailboxes and 0 messages\n"},
	} {
		code, stdout, stderr := runMain(t, "", "user", "remove", "--data", dir, tc.address)
		if code != exitOK || stdout != tc.want || stderr != "" {
			t.Errorf("user remove %s = %d, %q, %q; want 0, %q", tc.address, code, stdout, stderr, tc.want)
		}
	}
	code, _, stderr := runMain(t, "", "user", "remove", "--data", dir, "carol@example.org")
	if want := "inetkit: no such address carol@example.org in " + dir + "\n"; code != exitError || stderr != want {
		t.Errorf("user remove again = %d, %q; want 1, %q", code, stderr, want)
	}
	if _, stdout, _ := runMain(t, "", "user", "list", "--data", dir); strings.Count(stdout, "\n") != 2 || !strings.Contains(stdout, "alice@example.org") {
		t.Errorf("user list after removals:\n%s\nwant alice only", stdout)
	}
}

// An address made from a client's bytes is listed escaped.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"alice@example.org": "alice@example.org",
		"bøb@exämple.org":   "bøb@exämple.org",
		"\xff\xfe":          `"\xff\xfe"`,
		"a\x1b[31m@x":       `"a\x1b[31m@x"`,
		"a b":               `"a b"`,
		"a\u202e@x":         `"a\u202e@x"`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %s; want %s", in, got, want)
		}
	}
}
