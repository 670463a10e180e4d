package uppertest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/inetkit/inetkit/upper"
	"github.com/inetkit/inetkit/upper/uppertest"
)

func ExampleNewServer() {
	s := uppertest.NewServer(nil)
	defer s.Close()

	reply, err := upper.Exchange(context.Background(), "tcp", s.Addr, []byte("hello"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", reply)
	// Output: HELLO
}

func ExampleNewUnstartedServer() {
	s := uppertest.NewUnstartedServer(&upper.Handler{Mode: upper.ModeLine})
	s.Config.Network = "unix"
	s.Start()
	defer s.Close()

	reply, err := s.Exchange(context.Background(), []byte("one\ntwo\n"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", reply)
	// Output: "ONE\nTWO\n"
}

func ExampleNewPacketServer() {
	s := uppertest.NewPacketServer(nil)
	defer s.Close()

	reply, err := upper.Exchange(context.Background(), "udp", s.Addr, []byte("hello"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", reply)
	// Output: HELLO
}
