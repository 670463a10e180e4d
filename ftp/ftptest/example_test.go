package ftptest_test

import (
	"fmt"
	"io/fs"
	"log"
	"strings"

	"github.com/inetkit/inetkit/fileroot"
	"github.com/inetkit/inetkit/ftp/ftptest"
)

func ExampleNewServer() {
	tree := fileroot.NewMemFS()
	s := ftptest.NewServer(ftptest.NewBackend(tree, "alice", "secret"))
	defer s.Close()

	c, err := s.Client(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("alice", "secret"); err != nil {
		log.Fatal(err)
	}
	if err := c.Store("hello.txt", strings.NewReader("hello, world\n")); err != nil {
		log.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	b, err := fs.ReadFile(tree, "hello.txt")
	fmt.Printf("%q %v\n", b, err)
	// Output:
	// "hello, world\n" <nil>
}
