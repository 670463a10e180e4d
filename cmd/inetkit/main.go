// Command inetkit serves and speaks the internet protocols of the Python socket
// tutorial: see "inetkit --help".
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/inetkit/inetkit/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
