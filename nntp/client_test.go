package nntp_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/prototest"
	"github.com/inetkit/inetkit/nntp"
)

// TestClient runs every method of the Client against the server.
func TestClient(t *testing.T) {
	sp := newSpool()
	s := newServer(t, sp)
	var debug bytes.Buffer
	c, err := s.Client(&nntp.ClientOptions{DebugWriter: &debug})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.PostingAllowed() || !strings.HasPrefix(c.Greeting(), "inetkit NNTP") {
		t.Errorf("greeting %q, posting %v", c.Greeting(), c.PostingAllowed())
	}
	caps, err := c.Capabilities()
	if err != nil || !slices.Equal(caps["VERSION"], []string{"2"}) || !slices.Contains(caps["LIST"], "ACTIVE") {
		t.Errorf("Capabilities() = %v, %v", caps, err)
	}
	if ok, err := c.ModeReader(); !ok || err != nil {
		t.Errorf("ModeReader() = %v, %v", ok, err)
	}
	if err := c.Login("alice", "wrong"); !isCode(err, 481) {
		t.Errorf("Login(wrong) = %v; want 481", err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		t.Errorf("Login = %v", err)
	}
	before := time.Now().Add(-2 * time.Second)
	body := ".dot\r\n..two\r\n.\r\nend\r\n"
	id, err := c.Post(strings.NewReader("From: a@example.org\r\nNewsgroups: misc.test,alt.test\r\nSubject: hi\r\n\r\n" + body))
	if err != nil || id == "" {
		t.Fatalf("Post = %q, %v", id, err)
	}
	id2, err := c.Post(strings.NewReader(article("<given@example.org>")))
	if err != nil || id2 != "<given@example.org>" {
		t.Errorf("Post = %q, %v", id2, err)
	}
	if err := c.IHave("<given@example.org>", strings.NewReader(article("<given@example.org>"))); !isCode(err, 435) {
		t.Errorf("IHave(known) = %v; want 435", err)
	}
	if err := c.IHave("<peer@example.org>", strings.NewReader(article("<peer@example.org>"))); err != nil {
		t.Errorf("IHave = %v", err)
	}
	groups, err := c.List("")
	if err != nil || len(groups) != 2 || groups[1] != (nntp.Group{Name: "misc.test", High: 3, Low: 1, Status: 'y'}) {
		t.Errorf("List() = %+v, %v", groups, err)
	}
	if groups, err := c.List("alt.*"); err != nil || len(groups) != 1 {
		t.Errorf("List(alt.*) = %+v, %v", groups, err)
	}
	if d, err := c.Newsgroups(""); err != nil || len(d) != 2 {
		t.Errorf("Newsgroups() = %v, %v", d, err)
	}
	if ng, err := c.NewGroups(before.Add(-time.Hour)); err != nil || len(ng) != 2 {
		t.Errorf("NewGroups = %v, %v", ng, err)
	}
	g, err := c.Group("misc.test")
	if err != nil || g != (nntp.Group{Name: "misc.test", Count: 3, Low: 1, High: 3}) {
		t.Errorf("Group = %+v, %v", g, err)
	}
	if _, err := c.Group("no.such"); !isCode(err, 411) {
		t.Errorf("Group(no.such) = %v; want 411", err)
	}
	if nums, err := c.ListGroup("misc.test", 2, 0); err != nil || !slices.Equal(nums, []int64{2, 3}) {
		t.Errorf("ListGroup = %v, %v", nums, err)
	}
	ovs, err := c.Over(1, 0)
	if err != nil || len(ovs) != 3 || ovs[0].MessageID != id || ovs[0].Xref != "misc.test:1 alt.test:1" || ovs[0].Lines != 4 {
		t.Errorf("Over = %+v, %v", ovs, err)
	}
	ar, err := c.Article("1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(ar)
	ar.Close()
	if ar.Number != 1 || ar.MessageID != id || !strings.HasSuffix(string(got), "\r\n\r\n"+body) || !strings.Contains(string(got), "Xref: news.test misc.test:1 alt.test:1\r\n") {
		t.Errorf("Article(1) = %d %s %q", ar.Number, ar.MessageID, got)
	}
	if n, _, err := c.Stat(""); err != nil || n != 1 {
		t.Errorf("Stat() = %d, %v", n, err)
	}
	hr, err := c.Head(id)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(hr)
	hr.Close()
	if hr.Number != 0 || !strings.HasPrefix(string(got), "Path: ") || strings.Contains(string(got), "\r\n\r\n") {
		t.Errorf("Head = %q", got)
	}
	br, err := c.Body("2")
	if err != nil {
		t.Fatal(err)
	}
	// A reader not read to its end is drained by Close.
	br.Close()
	if n, mid, err := c.Next(); err != nil || n != 3 || mid != "<peer@example.org>" {
		t.Errorf("Next = %d %s %v", n, mid, err)
	}
	if n, _, err := c.Last(); err != nil || n != 2 {
		t.Errorf("Last = %d %v", n, err)
	}
	if n, mid, err := c.Stat(id2); err != nil || n != 0 || mid != id2 {
		t.Errorf("Stat(id) = %d %s %v", n, mid, err)
	}
	if _, err := c.Article("99"); !isCode(err, 423) {
		t.Errorf("Article(99) = %v; want 423", err)
	}
	ids, err := c.NewNews("misc.*", before)
	if err != nil || !slices.Equal(ids, []string{id, id2, "<peer@example.org>"}) {
		t.Errorf("NewNews = %v, %v", ids, err)
	}
	if d, err := c.Date(); err != nil || time.Since(d).Abs() > time.Minute {
		t.Errorf("Date = %v, %v", d, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit = %v", err)
	}
	if !strings.Contains(debug.String(), "AUTHINFO PASS secret") {
		t.Error("DebugWriter missed the traffic")
	}
}

func isCode(err error, code int) bool {
	var e *nntp.Error
	return errors.As(err, &e) && e.Code == code
}

// TestClient_transcript checks what the client sends, against a canned
// server.
func TestClient_transcript(t *testing.T) {
	sc, cc := net.Pipe()
	done := prototest.Server(t, sc, `
S: 201 canned server
C: MODE READER
S: 200 ok
C: POST
S: 340 go
C: Subject: x
C:
C: ..dot
C: .
S: 240 ok
C: BODY <a@b>
S: 222 0 <a@b>
S: ..x
S: .y
S: .
C: QUIT
S: 205 bye
`)
	c, err := nntp.NewClient(cc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.PostingAllowed() {
		t.Error("201 greeting read as posting allowed")
	}
	if ok, err := c.ModeReader(); !ok || err != nil || !c.PostingAllowed() {
		t.Errorf("ModeReader = %v %v", ok, err)
	}
	if id, err := c.Post(strings.NewReader("Subject: x\n\n.dot")); err != nil || id != "" {
		t.Errorf("Post = %q %v", id, err)
	}
	r, err := c.Body("<a@b>")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != ".x\r\ny\r\n" {
		t.Errorf("body %q", b)
	}
	if err := c.Quit(); err != nil {
		t.Error(err)
	}
	<-done
}

// TestClient_badGreeting: a server that is not an NNTP server.
func TestClient_badGreeting(t *testing.T) {
	for _, g := range []string{"400 go away", "+OK pop3", "502 no"} {
		sc, cc := net.Pipe()
		go func() { sc.Write([]byte(g + "\r\n")); sc.Close() }()
		if _, err := nntp.NewClient(cc, &nntp.ClientOptions{Timeout: time.Second}); err == nil {
			t.Errorf("NewClient after %q = nil error", g)
		}
	}
}

// TestClient_startTLS: DialStartTLS and a server that does not offer it.
func TestClient_startTLS(t *testing.T) {
	s := newServer(t, newSpool())
	c, err := s.Client(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(nil); !isCode(err, 580) {
		t.Errorf("StartTLS without TLSConfig = %v; want 580", err)
	}
}
