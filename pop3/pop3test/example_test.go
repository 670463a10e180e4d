package pop3test_test

import (
	"fmt"
	"log"

	"github.com/inetkit/inetkit/pop3/pop3test"
)

func ExampleNewServer() {
	md := pop3test.NewMaildrop("alice", "secret", "Subject: one\n\nfirst\n", "Subject: two\n\nsecond\n")
	s := pop3test.NewServer(md)
	defer s.Close()

	c, err := s.Client(nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	if err := c.Delete(1); err != nil {
		log.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", md.Messages())
	// Output:
	// ["Subject: two\r\n\r\nsecond\r\n"]
}
