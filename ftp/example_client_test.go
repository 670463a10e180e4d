package ftp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"strings"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp"
)

// exampleServer starts a Server over an empty in-memory tree, for user
// alice with password secret, and returns its address and a function that
// stops it.
func exampleServer() (addr string, stop func()) {
	mem := fileroot.NewMemFS()
	s := &ftp.Server{
		Backend: ftp.BackendFunc(func(ctx context.Context, user, pass string) (fs.FS, error) {
			if user != "alice" || pass != "secret" {
				return nil, ftp.ErrAuthFailed
			}
			return mem, nil
		}),
		InsecureAuth: true, // loopback only: no TLS in this example
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go s.Serve(l)
	return l.Addr().String(), func() { s.Close() }
}

func ExampleClient() {
	addr, stop := exampleServer()
	defer stop()

	c, err := ftp.Dial(context.Background(), addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	if err := c.MakeDir("docs"); err != nil {
		log.Fatal(err)
	}
	if err := c.Store("docs/hello.txt", strings.NewReader("Hello, FTP!\n")); err != nil {
		log.Fatal(err)
	}
	entries, err := c.List("docs")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Type, e.Name, e.Size)
	}
	r, err := c.Retrieve("docs/hello.txt", 7)
	if err != nil {
		log.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", rest)
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// file hello.txt 12
	// "FTP!\n"
}

func ExampleClient_Retrieve() {
	addr, stop := exampleServer()
	defer stop()

	c, err := ftp.Dial(context.Background(), addr, &ftp.ClientOptions{Active: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	_, err = c.Retrieve("missing.txt", 0)
	var reply *ftp.Error
	if errors.As(err, &reply) {
		fmt.Println(reply.Code, reply.Temporary())
	}
	// Output:
	// 550 false
}
