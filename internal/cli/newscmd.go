package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/inetkit/inetkit/nntp"
	"github.com/inetkit/inetkit/store"
)

type newsOptions struct {
	data        string
	action      string // add-group, list-groups, rm-group
	name        string
	description string
	json        bool
}

func newNewsCmd(e *env, runF func(context.Context, *newsOptions) error) *cobra.Command {
	o := &newsOptions{}
	cmd := &cobra.Command{
		Use:   "news",
		Short: "Manage the newsgroups of the store",
		Long: `Manage the newsgroups that 'inetkit serve nntp' serves from the store in
--data. Every store has the group inetkit.test from the start. The commands
work while inetkit serve runs on the same --data: its readers see the change
at their next command.`,
	}
	cmd.PersistentFlags().StringVar(&o.data, "data", defaultDataDir, "data directory")
	run := func(action string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			o.action = action
			if len(args) > 0 {
				o.name = args[0]
			}
			if len(args) > 1 {
				o.description = args[1]
			}
			if action == "add-group" {
				if o.name == "" || strings.ContainsFunc(o.name, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(",*?!\\[]:", r) }) {
					return usagef("%q is not a newsgroup name: no spaces, commas, colons or wildmat characters (*?![]\\)", o.name)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return e.run(cmd.Context(), func(ctx context.Context) error { return runNews(ctx, e, o) })
		}
	}
	add := &cobra.Command{
		Use:     "add-group NAME [DESCRIPTION]",
		Short:   "Add an empty newsgroup, open to posting",
		Long:    `Add an empty newsgroup, open to posting. DESCRIPTION is what LIST NEWSGROUPS shows.`,
		Example: `  inetkit news add-group local.talk 'Talk about anything'`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("news add-group takes a NAME and an optional DESCRIPTION")
			}
			return nil
		},
		RunE: run("add-group"),
	}
	list := &cobra.Command{
		Use:   "list-groups",
		Short: "List the newsgroups with their article counts and numbers",
		Long: `List every newsgroup: its name, the number of articles, the lowest and
highest article numbers, whether posting is allowed (y) and its description.

--json prints one JSON document:
  {"groups":[{"name":"inetkit.test","count":3,"low":1,"high":3,
              "posting":"y","description":"","created":"2026-11-25T19:13:52Z"}]}
  (sorted by name; an empty group has high = low - 1; created in UTC)`,
		Aliases: []string{"ls"},
		Args:    exactArgs(0, "news list-groups takes no arguments"),
		RunE:    run("list-groups"),
	}
	list.Flags().BoolVar(&o.json, "json", false, "print the list as one JSON document (shape above)")
	remove := &cobra.Command{
		Use:     "rm-group NAME",
		Aliases: []string{"remove-group"},
		Short:   "Remove a newsgroup and the articles filed in no other group",
		Long: `Remove a newsgroup and its articles, except those crossposted to a group
that stays. Nothing is asked.`,
		Example: `  inetkit news rm-group local.talk`,
		Args:    exactArgs(1, "news rm-group takes a NAME"),
		RunE:    run("rm-group"),
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

func runNews(ctx context.Context, e *env, o *newsOptions) error {
	open := openExistingStore
	if o.action == "add-group" {
		open = func(dir string) (*store.Store, error) { return store.Open(dir, nil) }
	}
	st, err := open(o.data)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(ctx, storeRequestTimeout)
	defer cancel()
	switch o.action {
	case "add-group":
		err := st.AddGroup(ctx, o.name, o.description)
		if errors.Is(err, store.ErrExists) {
			return fmt.Errorf("newsgroup %s exists", printable(o.name))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "added newsgroup %s\n", printable(o.name))
		return nil
	case "rm-group":
		err := st.RemoveGroup(ctx, o.name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no newsgroup %s in %s", printable(o.name), o.data)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "removed newsgroup %s\n", printable(o.name))
		return nil
	}
	groups, err := st.ListGroups(ctx)
	if err != nil {
		return err
	}
	return writeGroups(e.stdout, groups, o.json, true)
}

// jsonGroup is a newsgroup in the JSON of `inetkit news list-groups` and
// `inetkit get nntp://HOST/`; the shape is documented in their help.
type jsonGroup struct {
	Name        string     `json:"name"`
	Count       int64      `json:"count"`
	Low         int64      `json:"low"`
	High        int64      `json:"high"`
	Posting     string     `json:"posting"`
	Description *string    `json:"description,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
}

// writeGroups prints groups as a table or JSON; full adds the description
// and creation time, which a store has and LIST ACTIVE does not give.
func writeGroups(w io.Writer, groups []nntp.Group, asJSON, full bool) error {
	if asJSON {
		doc := struct {
			Groups []jsonGroup `json:"groups"`
		}{Groups: []jsonGroup{}}
		for _, g := range groups {
			j := jsonGroup{Name: g.Name, Count: g.Count, Low: g.Low, High: g.High, Posting: string(rune(g.Status))}
			if full {
				d, c := g.Description, g.Created.UTC()
				j.Description, j.Created = &d, &c
			}
			doc.Groups = append(doc.Groups, j)
		}
		return writeJSON(w, doc)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprint(tw, "GROUP\tCOUNT\tLOW\tHIGH\tPOSTING")
	if full {
		fmt.Fprint(tw, "\tDESCRIPTION")
	}
	fmt.Fprintln(tw)
	for _, g := range groups {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%c", printable(g.Name), g.Count, g.Low, g.High, g.Status)
		if full {
			fmt.Fprintf(tw, "\t%s", oneLine(g.Description))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
