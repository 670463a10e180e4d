//go:build unix

package nntp_test

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inetkit/inetkit/internal/peers"
	"github.com/inetkit/inetkit/nntp"
)

// TestInterop_inn runs the client against INN: capabilities, MODE READER,
// LIST, GROUP, POST of dot lines and reading it back (ARTICLE, HEAD, BODY,
// STAT, OVER), NEWNEWS, IHAVE, DATE, QUIT.
func TestInterop_inn(t *testing.T) {
	addr, innGroup := peers.StartINN(t)
	var c *nntp.Client
	var err error
	for range 50 { // nnrpd may take a moment after newgroup
		if c, err = nntp.Dial(t.Context(), addr, &nntp.ClientOptions{Timeout: 10 * time.Second}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ModeReader(); err != nil {
		t.Fatalf("ModeReader: %v", err)
	}
	caps, err := c.Capabilities()
	if err != nil || !slices.Equal(caps["VERSION"], []string{"2"}) {
		t.Errorf("Capabilities = %v, %v", caps, err)
	}
	groups, err := c.List(innGroup)
	if err != nil || len(groups) != 1 || groups[0].Name != innGroup {
		t.Fatalf("List = %+v, %v", groups, err)
	}
	id := fmt.Sprintf("<%d.peer@inetkit.example>", time.Now().UnixNano())
	body := ".\r\n..x\r\n.hidden\r\nend\r\n"
	got, err := c.Post(strings.NewReader("From: Inetkit <test@inetkit.example>\r\nNewsgroups: " + innGroup + "\r\nSubject: dots\r\nMessage-ID: " + id + "\r\n\r\n" + body))
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	if got != id {
		t.Errorf("Post = %q; want %q", got, id)
	}
	var g nntp.Group
	for range 50 { // innd files the article a moment after nnrpd's 240
		if g, err = c.Group(innGroup); err == nil && g.Count > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || g.Count != 1 {
		t.Fatalf("Group = %+v, %v\n%s", g, err, peers.INNErrors())
	}
	ar, err := c.Body(id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(ar)
	ar.Close()
	if string(b) != body {
		t.Errorf("body from INN %q; want %q", b, body)
	}
	ar, err = c.Article(strconv.FormatInt(g.High, 10))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(ar)
	ar.Close()
	if ar.MessageID != id || !regexp.MustCompile(`(?m)^Path: `).Match(b) || !strings.HasSuffix(string(b), "\r\n\r\n"+body) {
		t.Errorf("article %s from INN: %q", ar.MessageID, b)
	}
	if n, mid, err := c.Stat(""); err != nil || n != g.High || mid != id {
		t.Errorf("Stat = %d %s %v", n, mid, err)
	}
	ovs, err := c.Over(g.Low, 0)
	if err != nil || len(ovs) != 1 || ovs[0].MessageID != id || ovs[0].Subject != "dots" {
		t.Errorf("Over = %+v, %v", ovs, err)
	}
	ids, err := c.NewNews(innGroup, time.Now().Add(-time.Hour))
	if err != nil || !slices.Contains(ids, id) {
		t.Errorf("NewNews = %v, %v", ids, err)
	}
	if err := c.IHave(id, strings.NewReader("x")); err == nil {
		t.Error("IHave of an article INN has succeeded")
	}
	if d, err := c.Date(); err != nil || time.Since(d).Abs() > time.Hour {
		t.Errorf("Date = %v, %v", d, err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("Quit: %v", err)
	}
}
