package imap_test

import (
	"context"
	"fmt"
	"log"

	"github.com/inetkit/inetkit/imap"
	"github.com/inetkit/inetkit/imap/imaptest"
)

func ExampleServer() {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	srv := &imap.Server{
		Addr:      ":1143",
		Backend:   be,
		TLSConfig: nil, // set a *tls.Config to offer STARTTLS
		// Without TLS, logins are refused unless InsecureAuth is set.
		InsecureAuth: true,
	}
	_ = srv // go srv.ListenAndServe(); ... srv.Shutdown(ctx)
}

func ExampleListMessages() {
	be := imaptest.NewMemBackend()
	be.AddUser("alice", "secret")
	be.Deliver("alice", []byte("From: Bob <bob@example.org>\r\nSubject: Hello\r\n\r\nHi Alice\r\n"))
	s := imaptest.NewServer(be)
	defer s.Close()

	ctx := context.Background()
	c, err := imap.Dial(ctx, s.Addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret").Wait(); err != nil {
		log.Fatal(err)
	}
	msgs, err := imap.ListMessages(ctx, c, "INBOX")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range msgs {
		fmt.Printf("%d %s %q\n", m.UID, m.From, m.Subject)
	}
	body, err := imap.FetchMessage(ctx, c, "INBOX", msgs[0].UID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d bytes\n", len(body))
	// Output:
	// 1 Bob <bob@example.org> "Hello"
	// 57 bytes
}

func ExampleParseURL() {
	u, err := imap.ParseURL("imap://alice:secret@127.0.0.1:1143/INBOX;UID=7")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(u.User, u.Password, u.Host, u.Mailbox, u.UID)
	// Output: alice secret 127.0.0.1:1143 INBOX 7
}
