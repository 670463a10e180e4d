package nntp_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/nntp/nntptest"
)

func ExampleClient() {
	s := nntptest.NewServer(nntptest.NewSpool("alice", "secret", "misc.test"))
	defer s.Close()

	c, err := nntp.Dial(context.Background(), s.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	id, err := c.Post(strings.NewReader("From: alice@example.org\r\nNewsgroups: misc.test\r\nSubject: hello\r\nMessage-ID: <hello@example.org>\r\n\r\n.a line with a dot\r\n"))
	if err != nil {
		log.Fatal(err)
	}
	g, err := c.Group("misc.test")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id, g.Count, g.Low, g.High)
	body, err := c.Body(id)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := io.ReadAll(body)
	body.Close()
	fmt.Printf("%q\n", b)
	c.Quit()
	// Output:
	// <hello@example.org> 1 1 1
	// ".a line with a dot\r\n"
}

func ExampleServer() {
	srv := &nntp.Server{
		Addr:    "127.0.0.1:1119",
		Backend: nntptest.NewSpool("alice", "secret", "local.test"),
		// On loopback only: passwords in the clear and posting without
		// login, as for the mail servers.
		InsecureAuth:       true,
		AllowAnonymousPost: true,
	}
	_ = srv // srv.ListenAndServe() serves until srv.Shutdown
}
