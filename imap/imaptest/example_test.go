package imaptest_test

import (
	"fmt"
	"log"

	"github.com/inetkit/inetkit/imap/imaptest"
)

func ExampleNewServer() {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	if err := be.Deliver("alice", []byte("Subject: Hello\r\n\r\nHi.\r\n")); err != nil {
		log.Fatal(err)
	}
	s := imaptest.NewServer(be)
	defer s.Close()

	c, err := s.Client(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret").Wait(); err != nil {
		log.Fatal(err)
	}
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("messages:", data.NumMessages)
	// Output: messages: 1
}
