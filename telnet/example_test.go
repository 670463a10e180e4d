package telnet_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/inetkit/inetkit/telnet"
	"github.com/inetkit/inetkit/telnet/telnettest"
)

// ExampleServer serves a console that upper-cases each line, with the
// server's line editor, and drives it with a scripted client.
func ExampleServer() {
	h := telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
		fmt.Fprintf(c, "welcome (%d columns)\n", c.Width())
		for {
			line, err := c.ReadLine("> ")
			if err != nil || line == "quit" {
				return
			}
			fmt.Fprintln(c, strings.ToUpper(line))
		}
	})
	s := telnettest.NewServer(h)
	defer s.Close()

	c, err := s.Client(&telnet.ClientOptions{WindowSize: func() (int, int) { return 100, 30 }})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ReadUntil("> ", 5*time.Second); err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hello\n"))
	// The server echoes what is typed, then answers.
	text, err := c.ReadUntil("> ", 5*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", text)
	// Output:
	// "hello\r\nHELLO\r\n> "
}
