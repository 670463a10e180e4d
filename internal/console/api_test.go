package console

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/store"
)

// apiMessageJSON is what the tests read of GET /api/v1/messages/{id}.
type apiMessageJSON struct {
	ID          int64           `json:"id"`
	Address     string          `json:"address"`
	Subject     string          `json:"subject"`
	Unread      bool            `json:"unread"`
	MessageID   string          `json:"messageId"`
	From        []store.Address `json:"from"`
	To          []store.Address `json:"to"`
	Headers     []HeaderField   `json:"headers"`
	Text        string          `json:"text"`
	HTML        string          `json:"html"`
	Attachments []Part          `json:"attachments"`
	Inline      []Part          `json:"inline"`
}

func (m *apiMessageJSON) header(name string) (string, bool) {
	for _, f := range m.Headers {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// messageIDs lists the ids of the messages a GET /api/v1/messages query
// answers, newest first.
func (tc *testConsole) messageIDs(t testing.TB, query string, header ...string) []int64 {
	t.Helper()
	var page store.MessagePage
	tc.apiOK(t, 200, "GET", "/api/v1/messages?"+query, nil, &page, header...)
	ids := []int64{}
	for _, m := range page.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestAPI_messages(t *testing.T) {
	tc := newTestConsole(t, nil)
	tc.deliver(t, testMessage("carol@example.org", "bob@example.org", "for bob", "hello bob"), "bob@example.org")
	tc.deliver(t, crlf(mixedMessage), "alice@example.org")

	var addrs []store.AddressSummary
	tc.apiOK(t, 200, "GET", "/api/v1/addresses", nil, &addrs)
	if len(addrs) != 2 || addrs[0].Address != "alice@example.org" || addrs[1].Address != "bob@example.org" {
		t.Errorf("addresses = %+v; want alice and bob", addrs)
	}
	all := tc.messageIDs(t, "")
	if len(all) != 2 {
		t.Fatalf("all messages: %v; want 2", all)
	}
	alice := tc.messageIDs(t, "address=alice@example.org")
	if len(alice) != 1 || alice[0] != all[0] {
		t.Fatalf("alice's messages: %v; want [%d]", alice, all[0])
	}
	if ids := tc.messageIDs(t, "query="+url.QueryEscape("subject:bob")); len(ids) != 1 || ids[0] != all[1] {
		t.Errorf("subject:bob: %v; want [%d]", ids, all[1])
	}
	if ids := tc.messageIDs(t, "limit=1&offset=1"); len(ids) != 1 || ids[0] != all[1] {
		t.Errorf("second page of 1: %v; want [%d]", ids, all[1])
	}
	if ids := tc.messageIDs(t, fmt.Sprintf("before=%d", all[0])); len(ids) != 1 || ids[0] != all[1] {
		t.Errorf("before the newest: %v; want [%d]", ids, all[1])
	}
	for _, bad := range []string{"limit=0", "limit=1001", "offset=-1", "before=x", "query=" + url.QueryEscape("nofield:x")} {
		if r := tc.api(t, "GET", "/api/v1/messages?"+bad, nil); r.Status != 400 {
			t.Errorf("GET /api/v1/messages?%s = %v; want 400", bad, r)
		}
	}

	id := alice[0]
	var m apiMessageJSON
	tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", id), nil, &m)
	if m.Subject != "café" || m.Text != "café au lait" || !strings.Contains(m.HTML, "cid:logo@x") || !m.Unread {
		t.Errorf("message = %+v", m)
	}
	if v, _ := m.header("subject"); v != "=?utf-8?q?caf=C3=A9?=" {
		t.Errorf("Subject field %q; want it as written", v)
	}
	if len(m.Attachments) != 2 || m.Attachments[0].Filename != "résumé.pdf" || len(m.Inline) != 1 {
		t.Errorf("attachments %+v, inline %+v", m.Attachments, m.Inline)
	}

	r := tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", id, "/raw"), nil, nil)
	if string(r.Body) != crlf(mixedMessage) || r.Header.Get("Content-Type") != "message/rfc822" {
		t.Errorf("raw: %q, %q", r.Header.Get("Content-Type"), r.Body)
	}
	for _, p := range []struct {
		part, ct, disp, body string
	}{
		{"2", "application/pdf", `attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf`, "%PDF-1.4\n"},
		{"1.1.2", "text/html; charset=utf-8", "attachment", `<p>café<img src="cid:logo@x"></p>`},
		{"1.1.1", "text/plain; charset=iso-8859-1", "inline", "caf\xe9 au lait"},
		{"cid:logo@x", "image/png", "inline", "\x89PNG\r\n\x1a\n\x00"},
		{"3", "message/rfc822", "attachment", "From: carol@example.org\r\n"},
	} {
		r := tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", id, "/parts/", p.part), nil, nil)
		if r.Header.Get("Content-Type") != p.ct || !strings.HasPrefix(r.Header.Get("Content-Disposition"), p.disp) ||
			!strings.HasPrefix(string(r.Body), p.body) || !strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("part %s: %q, %q, CSP %q, %q", p.part, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"),
				r.Header.Get("Content-Security-Policy"), r.Body)
		}
	}
	for path, want := range map[string]int{
		fmt.Sprint("/api/v1/messages/", id, "/parts/9"): 404,
		"/api/v1/messages/abc":                          400,
		"/api/v1/messages/0":                            400,
		"/api/v1/messages/999999":                       404,
		"/api/v1/messages/999999/raw":                   404,
		"/api/v1/nothing":                               404,
	} {
		if r := tc.api(t, "GET", path, nil); r.Status != want || !strings.HasPrefix(string(r.Body), `{"error":`) {
			t.Errorf("GET %s = %v; want %d and a JSON error", path, r, want)
		}
	}
}

func TestAPI_markReadAndDelete(t *testing.T) {
	tc := newTestConsole(t, nil)
	for i := range 3 {
		tc.deliver(t, testMessage("carol@example.org", "alice@example.org", fmt.Sprint("a", i), "x"), "alice@example.org")
		tc.deliver(t, testMessage("carol@example.org", "bob@example.org", fmt.Sprint("b", i), "x"), "bob@example.org")
	}
	alice := tc.messageIDs(t, "address=alice@example.org")
	var changed map[string]int
	tc.apiOK(t, 200, "PUT", "/api/v1/messages/read", map[string]any{"ids": alice[:2], "read": true}, &changed)
	if changed["changed"] != 2 {
		t.Errorf("mark read: %v; want 2 changed", changed)
	}
	if ids := tc.messageIDs(t, "address=alice@example.org&query=is:unread"); len(ids) != 1 || ids[0] != alice[2] {
		t.Errorf("unread after marking: %v; want [%d]", ids, alice[2])
	}
	// As curl -d sends it.
	tc.apiOK(t, 200, "PUT", "/api/v1/messages/read", fmt.Sprintf(`{"ids":[%d],"read":false}`, alice[0]), &changed,
		"Content-Type", "application/x-www-form-urlencoded")
	if changed["changed"] != 1 {
		t.Errorf("mark unread: %v; want 1 changed", changed)
	}
	for _, bad := range []any{map[string]any{"ids": alice}, map[string]any{"ids": alice, "read": true, "x": 1}, "not json"} {
		if r := tc.api(t, "PUT", "/api/v1/messages/read", bad, "Content-Type", "application/json"); r.Status != 400 {
			t.Errorf("PUT read %v = %v; want 400", bad, r)
		}
	}

	var deleted map[string]int
	tc.apiOK(t, 200, "DELETE", fmt.Sprint("/api/v1/messages/", alice[0]), nil, &deleted)
	if r := tc.api(t, "DELETE", fmt.Sprint("/api/v1/messages/", alice[0]), nil); r.Status != 404 {
		t.Errorf("deleting again: %v; want 404", r)
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/messages", map[string]any{"ids": alice[1:2]}, &deleted)
	if deleted["deleted"] != 1 {
		t.Errorf("delete by ids: %v", deleted)
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/messages?address=bob@example.org", nil, &deleted)
	if deleted["deleted"] != 3 {
		t.Errorf("delete bob's: %v; want 3", deleted)
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/messages?address=nobody@example.org", nil, &deleted)
	if deleted["deleted"] != 0 {
		t.Errorf("delete nobody's: %v; want 0", deleted)
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/messages", nil, &deleted)
	if deleted["deleted"] != 1 {
		t.Errorf("delete everything: %v; want 1", deleted)
	}
	if ids := tc.messageIDs(t, ""); len(ids) != 0 {
		t.Errorf("left: %v", ids)
	}
}

// Off loopback, a user sees and changes only their own mail, through
// every route.
func TestAPI_ownMailOnly(t *testing.T) {
	tl := &testLogin{}
	tc := newTestConsole(t, withLogin(tl, nil))
	tc.deliver(t, testMessage("carol@example.org", "alice@example.org", "for alice", "a"), "alice@example.org")
	tc.deliver(t, crlf(mixedMessage), "bob@example.org")
	asAlice := []string{"Authorization", basic("alice@example.org", "secret")}
	asBob := []string{"Authorization", basic("bob@example.org", "secret")}
	aliceIDs := tc.messageIDs(t, "", asAlice...)
	bobIDs := tc.messageIDs(t, "", asBob...)
	if len(aliceIDs) != 1 || len(bobIDs) != 1 {
		t.Fatalf("alice sees %v, bob sees %v; want one each", aliceIDs, bobIDs)
	}
	bob := bobIDs[0]

	var addrs []store.AddressSummary
	tc.apiOK(t, 200, "GET", "/api/v1/addresses", nil, &addrs, asAlice...)
	if len(addrs) != 1 || addrs[0].Address != "alice@example.org" {
		t.Errorf("alice's addresses: %+v", addrs)
	}
	for _, rq := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"GET", "/api/v1/messages?address=bob@example.org", nil, 403},
		{"GET", "/api/v1/messages?address=BOB@example.org", nil, 403},
		{"GET", fmt.Sprint("/api/v1/messages/", bob), nil, 404},
		{"GET", fmt.Sprint("/api/v1/messages/", bob, "/raw"), nil, 404},
		{"GET", fmt.Sprint("/api/v1/messages/", bob, "/parts/2"), nil, 404},
		{"DELETE", fmt.Sprint("/api/v1/messages/", bob), nil, 404},
		{"DELETE", "/api/v1/messages?address=bob@example.org", nil, 403},
		{"GET", "/api/v1/wait?address=bob@example.org&existing=true&timeout=1s", nil, 403},
		{"DELETE", "/api/v1/articles/1", nil, 403},
		{"DELETE", "/api/v1/articles", map[string]any{"ids": []int{1}}, 403},
	} {
		if r := tc.api(t, rq.method, rq.path, rq.body, asAlice...); r.Status != rq.want {
			t.Errorf("alice: %s %s = %v; want %d", rq.method, rq.path, r, rq.want)
		}
	}
	var n map[string]int
	tc.apiOK(t, 200, "PUT", "/api/v1/messages/read", map[string]any{"ids": []int64{bob}, "read": true}, &n, asAlice...)
	tc.apiOK(t, 200, "DELETE", "/api/v1/messages", map[string]any{"ids": []int64{bob}}, &n, asAlice...)
	if n["deleted"] != 0 {
		t.Errorf("alice deleting bob's by id: %v", n)
	}
	// A wait with no address is a wait for alice's mail only: bob's
	// existing message is not hers.
	if r := tc.api(t, "GET", "/api/v1/wait?existing=true&timeout=50ms", nil, asAlice...); r.Status != 200 {
		t.Errorf("alice's wait: %v", r)
	} else {
		var m apiMessageJSON
		r.decode(t, &m)
		if m.Address != "alice@example.org" {
			t.Errorf("alice's wait answered %s's message", m.Address)
		}
	}
	// "Everything" is alice's everything.
	tc.apiOK(t, 200, "DELETE", "/api/v1/messages", nil, &n, asAlice...)
	if n["deleted"] != 1 {
		t.Errorf("alice deleting all: %v; want 1", n)
	}
	var m apiMessageJSON
	tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", bob), nil, &m, asBob...)
	if !m.Unread {
		t.Error("alice marked bob's message read")
	}
	// Sending is allowed; the answer lists only what the sender may see.
	var sent sendResult
	tc.apiOK(t, 201, "POST", "/api/v1/send", map[string]any{"from": "alice@example.org", "to": []string{"bob@example.org", "alice@example.org"}, "subject": "hi", "text": "x"}, &sent, asAlice...)
	if len(sent.IDs) != 1 {
		t.Errorf("alice sent to bob and herself: ids %v; want only hers", sent.IDs)
	}
	// Files are shared: a logged-in user may write them.
	tc.apiOK(t, 201, "PUT", "/api/v1/files/alice.txt", "a", nil, asAlice...)
}

func TestAPI_send(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) { c.MaxMessageBytes = 64 << 10 })
	png := "\x89PNG\r\n\x1a\nfake"
	req := map[string]any{
		"from": "Zoë <zoe@example.org>", "to": []string{"Bob <bob@example.org>"}, "cc": []string{"carol@example.org"},
		"bcc": []string{"dave@example.org"}, "subject": "Grüße", "text": "hello\nworld", "html": `<p>hello <img src="cid:img1"></p>`,
		"headers": map[string]string{"X-Test": "yes", "Reply-To": "r@example.org"},
		"attachments": []map[string]string{
			{"filename": "notes.txt", "content": base64.StdEncoding.EncodeToString([]byte("notes"))},
			{"filename": "img.png", "contentType": "image/png", "content": base64.StdEncoding.EncodeToString([]byte(png)), "contentId": "img1"},
		},
	}
	var res sendResult
	tc.apiOK(t, 201, "POST", "/api/v1/send", req, &res)
	if len(res.IDs) != 3 || res.MessageID == "" {
		t.Fatalf("send: %+v; want 3 ids and a Message-ID", res)
	}
	var m apiMessageJSON
	tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", res.IDs[0]), nil, &m)
	if m.Subject != "Grüße" || m.Text != "hello\r\nworld" || m.HTML != `<p>hello <img src="cid:img1"></p>` || m.MessageID != res.MessageID {
		t.Errorf("sent message: %+v", m)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "notes.txt" || len(m.Inline) != 1 || m.Inline[0].ContentID != "img1" {
		t.Errorf("attachments %+v, inline %+v", m.Attachments, m.Inline)
	}
	if len(m.From) != 1 || m.From[0].Name != "Zoë" {
		t.Errorf("From %+v", m.From)
	}
	for _, f := range []string{"Date", "Message-ID", "X-Test", "Reply-To", "Cc"} {
		if _, ok := m.header(f); !ok {
			t.Errorf("no %s field", f)
		}
	}
	if _, ok := m.header("Bcc"); ok {
		t.Error("the message shows its Bcc")
	}
	r := tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", res.IDs[0], "/parts/cid:img1"), nil, nil)
	if string(r.Body) != png {
		t.Errorf("inline image: %q", r.Body)
	}
	if ids := tc.messageIDs(t, "address=dave@example.org"); len(ids) != 1 {
		t.Errorf("bcc recipient: %v", ids)
	}

	// Raw, recipients from the header; Date and Message-ID added.
	raw := "From: a@example.org\nTo: Bob <bob@example.org>, eve@example.org\nSubject: raw\n\nbody\n"
	tc.apiOK(t, 201, "POST", "/api/v1/send", raw, &res, "Content-Type", "message/rfc822")
	if len(res.IDs) != 2 || !strings.Contains(res.MessageID, "@") {
		t.Errorf("raw send: %+v", res)
	}
	tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/messages/", res.IDs[0]), nil, &m)
	if _, ok := m.header("Date"); !ok || m.Text != "body\r\n" {
		t.Errorf("raw message: %+v", m)
	}
	// JSON as curl -d sends it, without its Content-Type.
	tc.apiOK(t, 201, "POST", "/api/v1/send", `{"from":"a@example.org","to":["curl@example.org"],"subject":"curl"}`, &res,
		"Content-Type", "application/x-www-form-urlencoded")
	// Raw, recipients from ?to=.
	tc.apiOK(t, 201, "POST", "/api/v1/send?to=frank@example.org", testMessage("a@example.org", "x@example.org", "to frank", "b"), &res, "Content-Type", "message/rfc822")
	if ids := tc.messageIDs(t, "address=frank@example.org"); len(ids) != 1 || len(res.IDs) != 1 || res.IDs[0] != ids[0] {
		t.Errorf("frank: %v, answered %v", ids, res.IDs)
	}

	for name, body := range map[string]any{
		"no recipient":      map[string]any{"from": "a@example.org", "subject": "x"},
		"bad from":          map[string]any{"from": "nobody", "to": []string{"b@example.org"}},
		"header injection":  map[string]any{"from": "a@example.org", "to": []string{"b@example.org"}, "headers": map[string]string{"X-A": "1\r\nBcc: x@example.org"}},
		"structural header": map[string]any{"from": "a@example.org", "to": []string{"b@example.org"}, "headers": map[string]string{"content-type": "text/html"}},
		"subject injection": map[string]any{"from": "a@example.org", "to": []string{"b@example.org"}, "subject": "a\nBcc: x@example.org"},
		"bad base64":        map[string]any{"from": "a@example.org", "to": []string{"b@example.org"}, "attachments": []map[string]string{{"content": "!!"}}},
		"unknown member":    map[string]any{"from": "a@example.org", "to": []string{"b@example.org"}, "body": "x"},
	} {
		if r := tc.api(t, "POST", "/api/v1/send", body); r.Status != 400 {
			t.Errorf("%s: %v; want 400", name, r)
		}
	}
	if r := tc.api(t, "POST", "/api/v1/send", "Subject: x\n\nno recipients\n", "Content-Type", "message/rfc822"); r.Status != 400 {
		t.Errorf("raw without recipients: %v; want 400", r)
	}
	big := map[string]any{"from": "a@example.org", "to": []string{"b@example.org"}, "text": strings.Repeat("x", 70<<10)}
	if r := tc.api(t, "POST", "/api/v1/send", big); r.Status != 413 {
		t.Errorf("send over MaxMessageBytes: %v; want 413", r)
	}
}

func TestAPI_articles(t *testing.T) {
	tc := newTestConsole(t, nil)
	var posted struct {
		ID        int64  `json:"id"`
		MessageID string `json:"messageId"`
		Groups    []struct {
			Group  string `json:"group"`
			Number int64  `json:"number"`
		} `json:"groups"`
	}
	var groups []groupJSON
	tc.apiOK(t, 200, "GET", "/api/v1/groups", nil, &groups)
	if len(groups) == 0 {
		if err := tc.Store.AddGroup(t.Context(), "inetkit.test", ""); err != nil {
			t.Fatal(err)
		}
	}
	tc.apiOK(t, 201, "POST", "/api/v1/articles", map[string]any{
		"from": "Zoë <zoe@example.org>", "groups": []string{"inetkit.test"}, "subject": "Grüße", "text": "line one\nline two",
	}, &posted)
	if posted.ID == 0 || len(posted.Groups) != 1 || posted.Groups[0].Group != "inetkit.test" {
		t.Fatalf("posted: %+v", posted)
	}
	var a struct {
		ID      int64    `json:"id"`
		Subject string   `json:"subject"`
		From    string   `json:"from"`
		Groups  []string `json:"groups"`
		Text    string   `json:"text"`
	}
	tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/articles/", posted.ID), nil, &a)
	if a.Subject != "Grüße" || a.Text != "line one\r\nline two" || !strings.Contains(a.From, "Zoë") {
		t.Errorf("article: %+v", a)
	}
	raw := "From: a@example.org\nNewsgroups: inetkit.test\nSubject: Re: Grüße\nMessage-ID: <reply@test>\nReferences: " + posted.MessageID + "\n\nreply\n"
	tc.apiOK(t, 201, "POST", "/api/v1/articles", raw, &posted, "Content-Type", "message/rfc822")
	if posted.MessageID != "<reply@test>" {
		t.Errorf("raw post: %+v", posted)
	}
	if r := tc.api(t, "POST", "/api/v1/articles", raw, "Content-Type", "message/rfc822"); r.Status != 409 {
		t.Errorf("the same Message-ID again: %v; want 409", r)
	}
	r := tc.apiOK(t, 200, "GET", fmt.Sprint("/api/v1/articles/", posted.ID, "/raw"), nil, nil)
	if !strings.Contains(string(r.Body), "Message-ID: <reply@test>") {
		t.Errorf("raw article: %q", r.Body)
	}
	var page store.ArticlePage
	tc.apiOK(t, 200, "GET", "/api/v1/articles?group=inetkit.test", nil, &page)
	if page.Total != 2 || len(page.Articles) != 2 || page.Articles[0].ID != posted.ID {
		t.Errorf("articles: %+v", page)
	}
	for name, body := range map[string]any{
		"no group":      map[string]any{"from": "a@example.org", "subject": "x"},
		"unknown group": map[string]any{"from": "a@example.org", "subject": "x", "groups": []string{"no.such.group"}},
		"injection":     map[string]any{"from": "a@example.org", "subject": "x\r\nApproved: yes", "groups": []string{"inetkit.test"}},
	} {
		if r := tc.api(t, "POST", "/api/v1/articles", body); r.Status != 400 {
			t.Errorf("%s: %v; want 400", name, r)
		}
	}
	var n map[string]int
	tc.apiOK(t, 200, "DELETE", fmt.Sprint("/api/v1/articles/", posted.ID), nil, &n)
	if r := tc.api(t, "GET", fmt.Sprint("/api/v1/articles/", posted.ID), nil); r.Status != 404 {
		t.Errorf("deleted article: %v; want 404", r)
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/articles", map[string]any{"ids": []int64{page.Articles[1].ID}}, &n)
	if n["deleted"] != 1 {
		t.Errorf("delete by ids: %v", n)
	}
}

func TestAPI_files(t *testing.T) {
	tc := newTestConsole(t, nil)
	for name, content := range map[string]string{
		"a.txt": "text", "page.html": "<script>alert(1)</script>", "pic.svg": "<svg onload=alert(1)/>",
		"dir/sub/deep.txt": "deep", "<img src=x onerror=alert(1)>.txt": "h12",
	} {
		tc.apiOK(t, 201, "PUT", "/api/v1/files/"+url.PathEscape(name), content, nil)
	}
	up, _ := tc.Files.Create(".secret")
	up.Write([]byte("s"))
	up.Close()

	var dir apiDirListing
	tc.apiOK(t, 200, "GET", "/api/v1/files", nil, &dir)
	var names []string
	for _, e := range dir.Entries {
		names = append(names, e.Name)
	}
	if got := strings.Join(names, ","); got != "dir,<img src=x onerror=alert(1)>.txt,a.txt,page.html,pic.svg" {
		t.Errorf("root: %s", got)
	}
	tc.apiOK(t, 200, "GET", "/api/v1/files/dir/sub", nil, &dir)
	if dir.Path != "dir/sub" || len(dir.Entries) != 1 || dir.Entries[0].Size != 4 {
		t.Errorf("dir/sub: %+v", dir)
	}
	for _, f := range []struct{ name, ct, disp string }{
		{"a.txt", "text/plain; charset=utf-8", "inline"},
		{"page.html", "text/html; charset=utf-8", "attachment"},
		{"pic.svg", "image/svg+xml", "attachment"},
	} {
		r := tc.apiOK(t, 200, "GET", "/api/v1/files/"+f.name, nil, nil)
		if r.Header.Get("Content-Type") != f.ct || !strings.HasPrefix(r.Header.Get("Content-Disposition"), f.disp) ||
			!strings.Contains(r.Header.Get("Content-Security-Policy"), "sandbox") {
			t.Errorf("%s: %q %q %q", f.name, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"), r.Header.Get("Content-Security-Policy"))
		}
	}
	for _, p := range []string{"/api/v1/files/.secret", "/api/v1/files/none", "/api/v1/files/dir/..%2f..%2fetc", "/api/v1/files/.inetkit-upload-x"} {
		if r := tc.api(t, "GET", p, nil); r.Status != 404 {
			t.Errorf("GET %s = %v; want 404", p, r)
		}
	}
	if r := tc.api(t, "PUT", "/api/v1/files/.hidden", "x"); r.Status != 400 {
		t.Errorf("PUT a dotfile: %v; want 400", r)
	}
	if r := tc.api(t, "DELETE", "/api/v1/files/dir", nil); r.Status != 409 {
		t.Errorf("DELETE a directory that is not empty: %v; want 409", r)
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/files/dir/sub/deep.txt", nil, nil)
	tc.apiOK(t, 200, "DELETE", "/api/v1/files/dir/sub", nil, nil)
	if r := tc.api(t, "DELETE", "/api/v1/files/dir/sub", nil); r.Status != 404 {
		t.Errorf("DELETE again: %v; want 404", r)
	}

	none := newTestConsole(t, func(c *Config) { c.Files = nil })
	if r := none.api(t, "GET", "/api/v1/files", nil); r.Status != 404 {
		t.Errorf("no file root: %v; want 404", r)
	}
}

func TestAPI_servicesAndCA(t *testing.T) {
	tc := newTestConsole(t, func(c *Config) {
		c.CACert = []byte("PEM")
		c.Services = func() []Service { return []Service{{Name: "smtp", Addr: "127.0.0.1:2525"}} }
	})
	var svcs []serviceJSON
	tc.apiOK(t, 200, "GET", "/api/v1/services", nil, &svcs)
	if len(svcs) != 1 || svcs[0].Name != "smtp" || svcs[0].Stats != nil {
		t.Errorf("services: %+v", svcs)
	}
	r := tc.apiOK(t, 200, "GET", "/api/v1/ca.pem", nil, nil)
	if string(r.Body) != "PEM" || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("ca.pem: %q %q", r.Header, r.Body)
	}
	none := newTestConsole(t, nil)
	if r := none.api(t, "GET", "/api/v1/ca.pem", nil); r.Status != 404 {
		t.Errorf("no CA: %v; want 404", r)
	}
	if r := none.apiOK(t, 200, "GET", "/api/v1/services", nil, nil); string(r.Body) != "[]\n" {
		t.Errorf("no services: %q; want []", r.Body)
	}
}
