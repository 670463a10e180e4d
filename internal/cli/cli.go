// Package cli is the inetkit command: one cobra command tree, a file per verb.
// Each command has an options struct, a constructor that only parses flags and
// arguments, and a run function that does the work, so tests can check either.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes of Main.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// env holds what a command reads and writes, so tests can replace it.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// ran is set once a command's run function starts: an error before that
	// is a usage error.
	ran bool

	// services are the services of `inetkit serve`; nil means services.
	services []service
	// stopBound replaces the package's stopBound when not zero.
	stopBound time.Duration
}

// usageError is a mistake in the command line; Main prints it with a usage
// hint and exits with exitUsage.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// Main runs the inetkit command with args (without the program name) and
// returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return (&env{stdin: stdin, stdout: stdout, stderr: stderr}).main(ctx, args)
}

// main is Main in e, which a test may have given other services.
func (e *env) main(ctx context.Context, args []string) int {
	stderr := e.stderr
	root := newRootCmd(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	if !e.ran || errors.As(err, &ue) {
		fmt.Fprintf(stderr, "inetkit: %v\n", err)
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	fmt.Fprintf(stderr, "inetkit: %v\n", err)
	return exitError
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "inetkit",
		Short: "Network protocol servers and clients, from sockets up",
		Long: `inetkit serves and speaks the protocols of the Python socket tutorial it grew
from: the uppercase service on TCP and UDP, SMTP, POP3 and IMAP4 over one
durable store, and FTP over a file tree, with clients for each.

It binds to 127.0.0.1 unless told otherwise.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newServeCmd(e, nil), newSendCmd(e, nil), newBenchCmd(e, nil), newUserCmd(e, nil), newGetCmd(e, nil), newPutCmd(e, nil), newWaitCmd(e, nil),
		newIMAPCmd(e, nil), newMailCmd(e, nil), newNewsCmd(e, nil), newTelnetCmd(e, nil))
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes cmd and every command under it that has
// subcommands answer an unknown one with a usage error, as the root does:
// cobra would print the parent's help and exit 0. With no arguments such a
// command prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	if cmd.HasSubCommands() {
		if cmd.Args == nil {
			cmd.Args = unknownSubcommand
		}
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's own default for the root
		}
		if cmd.Run == nil && cmd.RunE == nil {
			cmd.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			// Its usage line is then the bare command ("inetkit user"),
			// which prints the help, and not "inetkit user [flags]".
			cmd.DisableFlagsInUseLine = true
		}
	}
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
}

// unknownSubcommand is the Args of a parent command: any argument is an
// unknown subcommand.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return usagef("%s", msg)
}

// run marks the start of a command's work and calls f.
func (e *env) run(ctx context.Context, f func(context.Context) error) error {
	e.ran = true
	return f(ctx)
}

// logOptions are the logging flags of long-running commands.
type logOptions struct {
	format string // "text" or "json"
	quiet  bool
}

func (o *logOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.format, "log-format", "text", "log format: text or json")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "log only warnings and errors")
}

func (o *logOptions) validate() error {
	if o.format != "text" && o.format != "json" {
		return usagef("--log-format must be text or json, not %q", o.format)
	}
	return nil
}

func (o *logOptions) logger(w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if o.quiet {
		level = slog.LevelWarn
	}
	hopts := &slog.HandlerOptions{Level: level}
	if o.format == "json" {
		return slog.New(slog.NewJSONHandler(w, hopts))
	}
	return slog.New(slog.NewTextHandler(w, hopts))
}
