package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// parentCommands returns the path under the root (nil for the root) of
// every command of cmd's tree that has subcommands.
func parentCommands(cmd *cobra.Command, path []string) [][]string {
	var out [][]string
	if cmd.HasSubCommands() {
		out = append(out, path)
	}
	for _, c := range cmd.Commands() {
		if c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out = append(out, parentCommands(c, append(slices.Clip(path), c.Name()))...)
	}
	return out
}

// An unknown subcommand is a usage error (exit 2) for every command that
// has subcommands, not its help and exit 0; with no arguments the command
// prints its help.
func TestMain_unknownSubcommand(t *testing.T) {
	var out bytes.Buffer
	parents := parentCommands(newRootCmd(&env{stdin: strings.NewReader(""), stdout: &out, stderr: &out}), nil)
	var names []string
	for _, p := range parents {
		names = append(names, strings.Join(p, " "))
	}
	// The tree is walked, so that a parent added later is tested too; these
	// must be among them.
	for _, want := range []string{"", "user", "mail", "imap"} {
		if !slices.Contains(names, want) {
			t.Errorf("parent commands %q; want %q among them", names, want)
		}
	}
	for _, p := range parents {
		path := "inetkit " + strings.Join(p, " ")
		path = strings.TrimSpace(path)
		t.Run(path, func(t *testing.T) {
			args := append(slices.Clip(p), "frobnicate")
			code, stdout, stderr := runMain(t, "", args...)
			if code != exitUsage {
				t.Errorf("Main(%q) = %d; want %d (usage)", args, code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("Main(%q) stdout = %q; want nothing", args, stdout)
			}
			want := `inetkit: unknown command "frobnicate" for "` + path + `"` + "\nRun '" + path + " --help' for usage.\n"
			if stderr != want {
				t.Errorf("Main(%q) stderr = %q; want %q", args, stderr, want)
			}

			code, stdout, stderr = runMain(t, "", p...)
			if code != exitOK || !strings.Contains(stdout, "Usage:") || stderr != "" {
				t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0 and the help", p, code, stdout, stderr)
			}
		})
	}
}

// A near miss is answered with the command meant.
func TestMain_unknownSubcommandSuggests(t *testing.T) {
	code, _, stderr := runMain(t, "", "user", "lsit")
	if code != exitUsage || !strings.Contains(stderr, `unknown command "lsit" for "inetkit user" (did you mean list?)`) {
		t.Errorf("Main(user lsit) = %d, %q; want 2 and a suggestion of list", code, stderr)
	}
}
