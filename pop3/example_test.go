package pop3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"

	"github.com/inetkit/inetkit/pop3"
	"github.com/inetkit/inetkit/pop3/pop3test"
)

func ExampleClient() {
	md := pop3test.NewMaildrop("alice", "secret",
		"Subject: hello\r\n\r\nHi Alice!\r\n",
		"Subject: again\r\n\r\n.signature\r\n")
	s := pop3test.NewServer(md)
	defer s.Close()

	c, err := pop3.Dial(context.Background(), s.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	count, size, err := c.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d messages, %d octets\n", count, size)

	list, err := c.UIDL()
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range list {
		r, err := c.Retrieve(m.Number)
		if err != nil {
			log.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("--- %s\n%s", m.UID, strings.ReplaceAll(string(b), "\r\n", "\n"))
		if err := c.Delete(m.Number); err != nil {
			log.Fatal(err)
		}
	}
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(md.Messages()), "messages left")
	// Output:
	// 2 messages, 59 octets
	// --- uid-1
	// Subject: hello
	//
	// Hi Alice!
	// --- uid-2
	// Subject: again
	//
	// .signature
	// 0 messages left
}

func ExampleServer() {
	srv := &pop3.Server{
		Backend:      pop3test.NewMaildrop("alice", "secret", "Subject: hi\r\n\r\nhello\r\n"),
		InsecureAuth: true, // loopback only: no TLS needed for USER/PASS
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()

	c, err := pop3.Dial(context.Background(), l.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	count, size, _ := c.Stat()
	fmt.Println(count, size)
	c.Quit()

	if err := srv.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(errors.Is(<-done, pop3.ErrServerClosed))
	// Output:
	// 1 22
	// true
}

func ExampleClient_Top() {
	s := pop3test.NewServer(pop3test.NewMaildrop("alice", "secret",
		"From: bob@example.org\r\nSubject: report\r\n\r\nline 1\r\nline 2\r\nline 3\r\n"))
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	r, err := c.Top(1, 1)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(strings.ReplaceAll(string(b), "\r\n", "\n"))
	// Output:
	// From: bob@example.org
	// Subject: report
	//
	// line 1
}
