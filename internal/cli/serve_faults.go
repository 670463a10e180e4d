package cli

import (
	"crypto/rand"
	"encoding/binary"
	"os"

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

// faultSet returns the set of rules of --faults that the services of one
// serve share, or nil without --faults. The seed is logged, so that a run
// can be made again.
func faultSet(se *serveEnv) *fault.Set {
	o := &se.opts.faults
	if o.file == "" {
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
		se.log.Info("faults loaded", "file", o.file, "rules", len(o.rules), "seed", seed)
		return set, nil
	})
	return set
}
