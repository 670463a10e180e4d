package telnettest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/inetkit/inetkit/telnet"
	"github.com/inetkit/inetkit/telnet/telnettest"
)

var hello = telnet.HandlerFunc(func(ctx context.Context, c *telnet.Conn) {
	fmt.Fprintf(c, "hello, tls=%v\n", c.TLS())
})

func TestServer(t *testing.T) {
	for _, tls := range []bool{false, true} {
		s := telnettest.NewUnstartedServer(hello)
		if tls {
			s.StartTLS()
		} else {
			s.Start()
		}
		c, err := s.Client(nil)
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("hello, tls=%v\r\n", tls)
		if got, err := c.ReadUntil("\r\n", 5*time.Second); err != nil || string(got) != want {
			t.Errorf("ReadUntil = %q, %v; want %q", got, err, want)
		}
		c.Close()
		s.Close()
		s.Close() // twice does nothing
	}
}

func ExampleNewServer() {
	s := telnettest.NewServer(hello)
	defer s.Close()
	c, err := s.Client(nil)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	line, _ := c.ReadUntil("\n", 5*time.Second)
	fmt.Printf("%q\n", line)
	// Output:
	// "hello, tls=false\r\n"
}
