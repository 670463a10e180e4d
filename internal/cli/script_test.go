package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts in testdata/script run "inetkit": testscript puts
// a copy of this test binary by that name on $PATH, and runs Main in it, as
// cmd/inetkit does.
func TestMain(m *testing.M) {
	// A program built with -race sleeps a second at exit, to let other
	// threads report races; the inetkit processes started by the tests
	// need not.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=0"))
	}
	testscript.Main(cleanupM{m}, map[string]func(){
		"inetkit": func() {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
	})
}

// cleanupM runs the tests, then removes the inetkit binary they built.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	defer removeBinary()
	return c.m.Run()
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport": cmdFreePort,
			"waitdial": cmdWaitDial,
		},
	})
}

// cmdFreePort sets the environment variable args[0] to a port on 127.0.0.1
// that is free for TCP and UDP.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			pc.Close()
			ts.Setenv(args[0], strconv.Itoa(port))
			return
		}
	}
	ts.Fatalf("no port free for both TCP and UDP")
}

// cmdWaitDial waits until a TCP connection to args[0] succeeds, for at most
// 10 seconds.
func cmdWaitDial(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitdial HOST:PORT")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", args[0], time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("nothing accepts connections on %s after 10s: %v", args[0], err)
		}
		time.Sleep(10 * time.Millisecond) // the next attempt of a poll with a deadline
	}
}
