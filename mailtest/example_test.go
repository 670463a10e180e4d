package mailtest_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/inetkit/inetkit/mailtest"
	"github.com/inetkit/inetkit/pop3"
)

// ExampleServer sends a message over SMTP, waits until it is stored, and
// reads it back over POP3. In a test, mailtest.NewServer(t) replaces
// Start, the temporary directory and Close.
func ExampleServer() {
	dir, err := os.MkdirTemp("", "mailtest")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := mailtest.Start(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	err = s.Send(ctx, "bob@example.org", []string{"alice@example.org"}, "Subject: Hello\r\n\r\nHi Alice!\r\n")
	if err != nil {
		log.Fatal(err)
	}
	msg, err := s.WaitForMessage(ctx, "alice@example.org", func(msg []byte) bool {
		return bytes.Contains(msg, []byte("\r\nSubject: Hello\r\n"))
	})
	if err != nil {
		log.Fatal(err)
	}
	_, body, _ := bytes.Cut(msg, []byte("\r\n\r\n"))
	fmt.Printf("stored: %q\n", body)

	c, err := pop3.DialStartTLS(ctx, s.POP3Addr, &pop3.ClientOptions{TLSConfig: s.TLSConfig()})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice@example.org", "any password works"); err != nil {
		log.Fatal(err)
	}
	n, size, err := c.Stat()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("POP3 STAT: %d message(s); size as stored: %t\n", n, size == int64(len(msg)))
	// Output:
	// stored: "Hi Alice!\r\n"
	// POP3 STAT: 1 message(s); size as stored: true
}
