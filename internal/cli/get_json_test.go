package cli

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// decodeJSON decodes the one JSON document s must be.
func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, s)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document:\n%s", s)
	}
	return doc
}

func keysOf(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// list returns doc[key], which must be a list of objects.
func list(t *testing.T, doc map[string]any, key string) []map[string]any {
	t.Helper()
	l, ok := doc[key].([]any)
	if !ok {
		t.Fatalf("%q is %T, not a list: %v", key, doc[key], doc)
	}
	out := make([]map[string]any, len(l))
	for i, e := range l {
		if out[i], ok = e.(map[string]any); !ok {
			t.Fatalf("%q[%d] is %T, not an object", key, i, e)
		}
	}
	return out
}

// The shapes documented in get's --help, key for key.
var (
	mailboxKeys     = []string{"attributes", "messages", "name", "unseen"}
	imapMessageKeys = []string{"date", "flags", "from", "seq", "size", "subject", "to", "uid"}
	pop3MessageKeys = []string{"n", "size", "uidl"}
)

func TestGetJSON_shapes(t *testing.T) {
	srv, _ := mailServe(t)
	a := srv.addrs
	sendTestMail(t, a["smtp"], "bob@example.org", "alice@example.org", "hello \"json\" <&>")
	sendTestMail(t, a["smtp"], "carol@example.net", "alice@example.org", "second")
	root := userURL("imap", "alice@example.org", "pw", a["imap"], "/")

	code, stdout, stderr := getMain(t, root, "--json")
	if code != exitOK {
		t.Fatalf("get imap mailboxes --json = %d, %q", code, stderr)
	}
	doc := decodeJSON(t, stdout)
	if !cmp.Equal(keysOf(doc), []string{"mailboxes"}) {
		t.Errorf("mailboxes document has keys %q", keysOf(doc))
	}
	boxes := list(t, doc, "mailboxes")
	var inbox map[string]any
	for _, b := range boxes {
		if !cmp.Equal(keysOf(b), mailboxKeys) {
			t.Errorf("mailbox keys %q; want %q", keysOf(b), mailboxKeys)
		}
		if b["name"] == "INBOX" {
			inbox = b
		}
	}
	if inbox == nil || inbox["messages"] != json.Number("2") || inbox["unseen"] != json.Number("2") ||
		!cmp.Equal(inbox["attributes"], []any{`\HasNoChildren`}) {
		t.Errorf("INBOX = %v; want 2 messages, 2 unseen, attributes [\\HasNoChildren]", inbox)
	}

	code, stdout, stderr = getMain(t, root+"INBOX", "--json")
	if code != exitOK {
		t.Fatalf("get imap INBOX --json = %d, %q", code, stderr)
	}
	if strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, `"hello \"json\" <&>"`) {
		t.Errorf("want one line, with <&> as they are:\n%s", stdout)
	}
	doc = decodeJSON(t, stdout)
	msgs := list(t, doc, "messages")
	if len(msgs) != 2 || !cmp.Equal(keysOf(doc), []string{"messages"}) {
		t.Fatalf("INBOX document: %v; want two messages", doc)
	}
	for _, m := range msgs {
		if !cmp.Equal(keysOf(m), imapMessageKeys) {
			t.Errorf("message keys %q; want %q", keysOf(m), imapMessageKeys)
		}
	}
	m := msgs[0]
	if m["uid"] != json.Number("1") || m["seq"] != json.Number("1") || m["from"] != "bob@example.org" ||
		!cmp.Equal(m["to"], []any{"alice@example.org"}) || m["subject"] != `hello "json" <&>` ||
		// \Recent: the client speaks IMAP4rev1 (RFC 3501 §2.3.2).
		!cmp.Equal(m["flags"], []any{}) && !cmp.Equal(m["flags"], []any{`\Recent`}) {
		t.Errorf("first message = %v", m)
	}
	if d, err := time.Parse(time.RFC3339, m["date"].(string)); err != nil || time.Since(d) > time.Hour || d.Location() != time.UTC {
		t.Errorf("date %v: want a recent RFC 3339 time in UTC (%v)", m["date"], err)
	}
	if n, err := m["size"].(json.Number).Int64(); err != nil || n < 100 {
		t.Errorf("size %v", m["size"])
	}

	// A search prints the same shape; an empty result is [], not null.
	code, stdout, _ = getMain(t, root+"INBOX?SUBJECT=second", "--json")
	if msgs := list(t, decodeJSON(t, stdout), "messages"); code != exitOK || len(msgs) != 1 || msgs[0]["subject"] != "second" {
		t.Errorf("search --json = %d, %s", code, stdout)
	}
	if _, stdout, _ = getMain(t, root+"INBOX?SUBJECT=nothing", "--json"); stdout != "{\"messages\":[]}\n" {
		t.Errorf("empty search --json = %q; want {\"messages\":[]}", stdout)
	}

	maildrop := userURL("pop3", "alice@example.org", "pw", a["pop3"], "/")
	code, stdout, stderr = getMain(t, maildrop, "--json")
	if code != exitOK {
		t.Fatalf("get pop3 --json = %d, %q", code, stderr)
	}
	msgs = list(t, decodeJSON(t, stdout), "messages")
	if len(msgs) != 2 || !cmp.Equal(keysOf(msgs[0]), pop3MessageKeys) || msgs[1]["n"] != json.Number("2") ||
		!regexp.MustCompile(`^\d+\.2$`).MatchString(msgs[1]["uidl"].(string)) {
		t.Errorf("pop3 --json = %s", stdout)
	}
	code, stdout, _ = getMain(t, maildrop, "--json", "--from", "carol")
	if msgs := list(t, decodeJSON(t, stdout), "messages"); code != exitOK || len(msgs) != 1 || msgs[0]["n"] != json.Number("2") {
		t.Errorf("pop3 --from carol --json = %d, %s", code, stdout)
	}

	// --delete adds "deleted", and says nothing on stderr.
	code, stdout, stderr = getMain(t, root+"INBOX", "--json", "--delete", "--subject", "second")
	doc = decodeJSON(t, stdout)
	if code != exitOK || doc["deleted"] != json.Number("1") || len(list(t, doc, "messages")) != 1 || stderr != "" {
		t.Errorf("--json --delete = %d, %s, %q; want deleted 1, the message, nothing on stderr", code, stdout, stderr)
	}
	code, stdout, _ = getMain(t, maildrop, "--json", "--delete", "--from", "nobody")
	if doc = decodeJSON(t, stdout); code != exitOK || doc["deleted"] != json.Number("0") {
		t.Errorf("pop3 --json --delete of nothing = %d, %s; want deleted 0", code, stdout)
	}
}

// Each shape in get's --help is valid JSON with the keys the output has.
func TestGetJSON_documented(t *testing.T) {
	_, help, _ := runMain(t, "", "get", "--help")
	var docs []string
	for _, name := range []string{"mailboxes", "IMAP", "POP3"} {
		i := strings.Index(help, "\n  "+name+" ")
		if i < 0 {
			t.Fatalf("--help has no %s shape:\n%s", name, help)
		}
		// The document runs over the lines that follow, up to its last "}".
		rest := help[i+len(name)+3:]
		var b bytes.Buffer
		for _, line := range strings.Split(rest, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '(' || !strings.HasPrefix(line, "{") && !strings.HasPrefix(line, `"`) {
				break
			}
			b.WriteString(line)
		}
		docs = append(docs, b.String())
	}
	want := [][]string{mailboxKeys, imapMessageKeys, pop3MessageKeys}
	tops := []string{"mailboxes", "messages", "messages"}
	for i, d := range docs {
		var doc map[string]any
		if err := json.Unmarshal([]byte(d), &doc); err != nil {
			t.Errorf("documented shape %d is not JSON: %v\n%s", i, err, d)
			continue
		}
		if got := keysOf(list(t, doc, tops[i])[0]); !cmp.Equal(got, want[i]) {
			t.Errorf("documented %s element has keys %q; the output has %q", tops[i], got, want[i])
		}
	}
}
