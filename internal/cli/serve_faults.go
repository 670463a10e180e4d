package cli

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/inetkit/inetkit/fault"
)

// faultOptions are --faults and --fault-seed: the faults every service
// injects on demand, from one set of rules.
type faultOptions struct {
	file  string
	seed  uint64
	rules []fault.Rule // read from file by validate
	flags *pflag.FlagSet
}

func (o *faultOptions) addFlags(f *pflag.FlagSet) {
	o.flags = f
	f.StringVar(&o.file, "faults", "", "FILE of fault rules, one a line, that the services inject on demand: SERVICE MOMENT [WHO...] WHAT [HOW OFTEN...], such as\n"+
		`smtp RCPT to=*@fail.test reply="550 5.1.1 no such user" first=3`+" (see the README's Faults section)")
	f.Uint64Var(&o.seed, "fault-seed", 0, "seed of the faults' probabilities (prob=): the same seed makes the same faults again; random when not given, and logged")
}

// validate reads and checks the rules of --faults.
func (o *faultOptions) validate() error {
	if o.file == "" {
		if o.flags != nil && o.flags.Changed("fault-seed") {
			return usagef("--fault-seed needs --faults")
		}
		return nil
	}
	f, err := os.Open(o.file)
	if err != nil {
		return usagef("--faults: %v", err)
	}
	defer f.Close()
	if o.rules, err = fault.Parse(f); err != nil {
		return usagef("--faults %s: %v", o.file, err)
	}
	return nil
}

// faultSet returns the set of fault rules that the services of one serve
// share: the rules of --faults, and those added through the console (web)
// while they run. It is nil when there is neither --faults nor the console,
// so that no service consults a set that stays empty. The seed is logged,
// so that a run can be made again.
func faultSet(se *serveEnv) *fault.Set {
	o := &se.opts.faults
	if o.file == "" && !se.selected("web") {
		return nil
	}
	set, _ := sharedState(se, func() (*fault.Set, error) {
		seed := o.seed
		if o.flags == nil || !o.flags.Changed("fault-seed") {
			var b [8]byte
			rand.Read(b[:])
			seed = binary.LittleEndian.Uint64(b[:]) >> 1
		}
		set := fault.NewSet(seed, se.log)
		for _, r := range o.rules {
			set.Add(r) // checked by validate
		}
		if o.file != "" {
			se.log.Info("faults loaded", "file", o.file, "rules", len(o.rules), "seed", seed)
		} else {
			se.log.Info("faults: none loaded; the console can add rules", "seed", seed, "need_faults_flag", strings.Join(fastFaultServices, ","))
		}
		return set, nil
	})
	return set
}

// fastFaultServices are the services that consult the fault set only with
// --faults. Their fastest paths (tcp's inline and event-loop serving, udp's
// batched reads, http's direct file replies) are taken only when they have
// no set at all, so a set made for the console alone would slow them down
// whether or not it ever holds a rule of theirs.
var fastFaultServices = []string{"tcp", "udp", "http"}

// faultsFor returns the fault set that the named service consults:
// faultSet's, but nil for the fastFaultServices without --faults.
func faultsFor(se *serveEnv, service string) *fault.Set {
	if se.opts.faults.file == "" && slices.Contains(fastFaultServices, service) {
		return nil
	}
	return faultSet(se)
}

// consoleFaultCheck is the console's check of a rule added at run time:
// without --faults, a rule for one of the fastFaultServices is refused,
// since they do not consult the set (faultsFor).
func consoleFaultCheck(se *serveEnv) func(fault.Rule) error {
	if se.opts.faults.file != "" {
		return nil
	}
	return func(r fault.Rule) error {
		if slices.Contains(fastFaultServices, r.Service) {
			return fmt.Errorf("%s rules need inetkit serve --faults FILE (an empty file will do, such as /dev/null): "+
				"without it tcp, udp and http keep their fast paths and consult no rules", r.Service)
		}
		return nil
	}
}
