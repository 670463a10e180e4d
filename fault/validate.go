package fault

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// A service is what the servers of one service can inject, and where.
type service struct {
	moments  []string // moments that are not commands or paths
	commands bool     // commands, in upper case
	paths    bool     // path prefixes
	logins   bool     // sessions log in: User matches
	// kinds are the kinds allowed at each moment; the key "" stands for
	// commands and paths.
	kinds map[string][]Kind
	// storage are the moments at which a delivery can fail.
	storage []string
	// replyOK checks the form of a reply text.
	replyOK func(text string) bool
}

var (
	// lineKinds are the kinds of the line protocols at every moment.
	lineKinds = []Kind{KindReply, KindClose, KindReset, KindHang, KindDelay, KindTrickle, KindTruncate}
	// connKinds are the kinds sockserver injects when a connection opens.
	connKinds = []Kind{KindClose, KindReset, KindHang, KindDelay, KindTrickle, KindTruncate}
)

func lineService(storage ...string) *service {
	return &service{
		moments:  []string{MomentConnect, MomentLogin},
		commands: true,
		logins:   true,
		kinds:    map[string][]Kind{MomentConnect: lineKinds, MomentLogin: lineKinds, "": lineKinds},
		storage:  storage,
		replyOK:  codeReply,
	}
}

func connService() *service {
	return &service{moments: []string{MomentConnect}, kinds: map[string][]Kind{MomentConnect: connKinds}}
}

var services = map[string]*service{
	"smtp": lineService("DATA"),
	"pop3": func() *service {
		s := lineService()
		s.replyOK = func(t string) bool { return strings.HasPrefix(t, "-ERR") || strings.HasPrefix(t, "+OK") }
		return s
	}(),
	"imap": func() *service {
		s := lineService("APPEND")
		k := []Kind{KindReply, KindClose, KindReset, KindHang, KindDelay}
		s.kinds = map[string][]Kind{MomentConnect: k, MomentLogin: k, "": k}
		s.replyOK = func(t string) bool {
			return slices.ContainsFunc([]string{"NO ", "BAD ", "OK ", "* "}, func(p string) bool { return strings.HasPrefix(t, p) })
		}
		return s
	}(),
	"ftp": func() *service {
		s := lineService("STOR", "APPE", "STOU")
		s.moments = append(s.moments, MomentData)
		s.kinds[MomentData] = []Kind{KindReply, KindClose, KindReset, KindDelay}
		return s
	}(),
	"nntp": lineService("POST", "IHAVE"),
	"http": {
		moments: []string{MomentConnect},
		paths:   true,
		kinds: map[string][]Kind{
			MomentConnect: {KindClose, KindReset, KindHang},
			"":            append(slices.Clone(lineKinds), KindDiskFull, KindStoreError),
		},
		replyOK: codeReply,
	},
	"gopher": connService(),
	"telnet": connService(),
	"tcp":    connService(),
	"udp": {
		moments: []string{MomentDatagram},
		kinds:   map[string][]Kind{MomentDatagram: {KindDrop, KindDuplicate, KindReorder, KindDelay}},
	},
}

// Services returns the names of the services that inject faults, sorted.
func Services() []string {
	names := make([]string, 0, len(services))
	for name := range services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// codeReply reports whether t starts with a three-digit reply code.
func codeReply(t string) bool {
	if len(t) < 3 || len(t) > 3 && t[3] != ' ' && t[3] != '-' {
		return false
	}
	for _, c := range t[:3] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return t[0] >= '1' && t[0] <= '5'
}

// Validate reports whether r is a rule the servers of its service can
// inject: a known service, a moment of it, who-fields it has (a login only
// where sessions log in, a recipient only at SMTP's RCPT), a kind allowed
// at the moment, the fields that kind needs (Text in the protocol's form for
// KindReply, Rate for KindTrickle, Bytes for KindTruncate), and sensible
// frequencies. This function doesn't perform I/O.
func (r *Rule) Validate() error {
	svc, ok := services[r.Service]
	if !ok {
		return fmt.Errorf("unknown service %q (want %s)", r.Service, strings.Join(Services(), ", "))
	}
	key, err := svc.moment(r.Service, r.Moment)
	if err != nil {
		return err
	}
	if r.Service == "smtp" && r.Moment == "BDAT" {
		return errors.New("smtp BDAT: the end of a message is the moment DATA, whether sent by DATA or BDAT")
	}
	if r.User != "" {
		if !svc.logins || r.Moment == MomentConnect {
			return fmt.Errorf("%s %s: user= needs a login, which %s", r.Service, r.Moment, cond(svc.logins, "comes after connect", r.Service+" has none"))
		}
		if _, err := path.Match(r.User, ""); err != nil {
			return fmt.Errorf("user=%q: malformed pattern", r.User)
		}
	}
	if r.Rcpt != "" {
		if r.Service != "smtp" || r.Moment != "RCPT" {
			return errors.New("to= matches the recipient of smtp RCPT only")
		}
		if _, err := path.Match(r.Rcpt, ""); err != nil {
			return fmt.Errorf("to=%q: malformed pattern", r.Rcpt)
		}
	}
	if err := r.validateKind(svc, key); err != nil {
		return err
	}
	switch {
	case r.Delay < 0:
		return errors.New("delay must not be negative")
	case r.Rate < 0:
		return errors.New("trickle must not be negative")
	case r.Rate > 0 && r.Kind != KindTrickle && r.Kind != KindReply && r.Kind != KindClose:
		return fmt.Errorf("trickle paces a reply: it goes with reply or close, not %s", r.Kind)
	case r.Bytes != 0 && r.Kind != KindTruncate:
		return fmt.Errorf("bytes go with truncate, not %s", r.Kind)
	case r.Probability < 0 || r.Probability > 1:
		return fmt.Errorf("prob=%v: want 0 < prob ≤ 1", r.Probability)
	case r.Every < 0:
		return errors.New("every must not be negative")
	case r.First < 0:
		return errors.New("first must not be negative")
	case r.After < 0 || r.For < 0:
		return errors.New("after and for must not be negative")
	}
	return nil
}

// moment checks that m is a moment of the service named name, and returns
// its key in kinds.
func (svc *service) moment(name, m string) (string, error) {
	switch {
	case slices.Contains(svc.moments, m):
		return m, nil
	case m == "":
		return "", fmt.Errorf("%s: no moment", name)
	case strings.HasPrefix(m, "/"):
		if svc.paths && !strings.ContainsAny(m, " \t\r\n") {
			return "", nil
		}
	case svc.commands && isCommand(m) && slices.Contains(svc.moments, strings.ToLower(m)):
		return "", fmt.Errorf("%s has no command %s (the moment is %s, in lower case)", name, m, strings.ToLower(m))
	case svc.commands && isCommand(m):
		return "", nil
	case svc.commands && isCommand(strings.ToUpper(m)) && !slices.Contains(svc.moments, strings.ToLower(m)):
		return "", fmt.Errorf("%s %s: commands are named in upper case (%s)", name, m, strings.ToUpper(m))
	}
	var want []string
	want = append(want, svc.moments...)
	if svc.commands {
		want = append(want, "a command in upper case")
	}
	if svc.paths {
		want = append(want, "a path starting with /")
	}
	return "", fmt.Errorf("%s has no moment %q (want %s)", name, m, strings.Join(want, ", "))
}

// isCommand reports whether s is a command name: upper-case letters and
// digits, starting with a letter, at most 16 of them.
func isCommand(s string) bool {
	if s == "" || len(s) > 16 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, c := range s {
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func (r *Rule) validateKind(svc *service, key string) error {
	where := r.Service + " " + r.Moment
	switch {
	case r.Kind == 0:
		return fmt.Errorf("%s: no fault (want one of %s)", where, kindList(svc.kinds[key], svc.storage != nil && key == ""))
	case r.Kind.isStorage():
		if !(svc.paths && key == "") && !slices.Contains(svc.storage, r.Moment) {
			if len(svc.storage) == 0 {
				return fmt.Errorf("%s: %s needs a delivery, which %s has none of", where, r.Kind, r.Service)
			}
			return fmt.Errorf("%s: %s fails a delivery: at %s", where, r.Kind, strings.Join(svc.storage, ", "))
		}
	case !slices.Contains(svc.kinds[key], r.Kind):
		return fmt.Errorf("%s: %s cannot be injected here (want one of %s)", where, r.Kind, kindList(svc.kinds[key], false))
	}
	switch r.Kind {
	case KindReply:
		if r.Text == "" {
			return fmt.Errorf("%s: reply needs a text", where)
		}
	case KindTrickle:
		if r.Rate <= 0 {
			return fmt.Errorf("%s: trickle needs a rate in bytes a second", where)
		}
	case KindTruncate:
		if r.Bytes < 0 {
			return fmt.Errorf("%s: truncate must not be negative", where)
		}
	case KindDelay:
		if r.Delay <= 0 {
			return fmt.Errorf("%s: delay needs a duration", where)
		}
	}
	if r.Text != "" {
		if r.Kind != KindReply && r.Kind != KindClose {
			return fmt.Errorf("%s: only reply and close have a text", where)
		}
		if strings.ContainsFunc(r.Text, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			return fmt.Errorf("%s: the text must be one line, without control characters", where)
		}
		if svc.replyOK != nil && !svc.replyOK(r.Text) {
			return fmt.Errorf("%s: %q is not a %s reply", where, r.Text, r.Service)
		}
	}
	return nil
}

func kindList(kinds []Kind, storage bool) string {
	names := make([]string, 0, len(kinds)+2)
	for _, k := range kinds {
		names = append(names, k.String())
	}
	if storage {
		names = append(names, KindDiskFull.String()+" (at a delivery)", KindStoreError.String()+" (at a delivery)")
	}
	return strings.Join(names, ", ")
}

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}
