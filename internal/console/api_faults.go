package console

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/inetkit/inetkit/fault"
	"github.com/inetkit/inetkit/web"
)

// The fault rules of the servers (Config.Faults), through the API: GET
// /api/v1/faults lists them with their counters and the seed, POST adds
// one, DELETE /api/v1/faults/{id} removes one and DELETE /api/v1/faults
// every one. The Faults page (ui_faults.go) does the same with forms.

var (
	errFaultsOff    = &apiError{http.StatusNotFound, "faults are off"}
	errFaultsLocal  = &apiError{http.StatusForbidden, "only a console without a login, from a client on loopback, may change faults: a rule reaches every client of every service"}
	errNoFaultRule  = &apiError{http.StatusNotFound, "no such fault rule"}
	errFaultRuleOne = badRequest(`body: give "rule", or the rule's fields, not both`)
)

// mayChangeFaults reports whether r may add and remove fault rules: on a
// console that asks no login (isAdmin), from a client on loopback. A rule
// changes what every client of every service gets, so a console opened to
// the network without a login (--auth any) still does not let other
// machines change them.
func mayChangeFaults(r *http.Request) bool {
	if !isAdmin(r.Context()) {
		return false
	}
	ap, ok := web.ClientAddr(r.Context())
	if !ok {
		var err error
		if ap, err = netip.ParseAddrPort(r.RemoteAddr); err != nil {
			return false
		}
	}
	return ap.Addr().Unmap().IsLoopback()
}

// A faultRuleJSON is a fault rule as the API shows it: its id, the rule in
// the format of a --faults file, its fields under the names of that format
// (kind is the fault: reply, close, reset, ...; text is the reply's or the
// close's), and its counters.
type faultRuleJSON struct {
	ID       int     `json:"id"`
	Rule     string  `json:"rule"`
	Service  string  `json:"service"`
	Moment   string  `json:"moment"`
	User     string  `json:"user,omitempty"`
	Client   string  `json:"client,omitempty"`
	To       string  `json:"to,omitempty"`
	Kind     string  `json:"kind"`
	Text     string  `json:"text,omitempty"`
	Delay    string  `json:"delay,omitempty"`
	Trickle  int     `json:"trickle,omitempty"`
	Truncate *int    `json:"truncate,omitempty"`
	Prob     float64 `json:"prob,omitempty"`
	Every    int     `json:"every,omitempty"`
	First    int     `json:"first,omitempty"`
	After    string  `json:"after,omitempty"`
	For      string  `json:"for,omitempty"`
	Matched  int64   `json:"matched"`
	Fired    int64   `json:"fired"`
}

// A faultListJSON is the answer of GET /api/v1/faults.
type faultListJSON struct {
	// Seed is the set's seed, in decimal: a string, since it may exceed
	// the integers a JSON number holds exactly in JavaScript.
	Seed string `json:"seed"`
	// CanChange says whether this request's client may add and remove
	// rules (mayChangeFaults).
	CanChange bool            `json:"canChange"`
	Rules     []faultRuleJSON `json:"rules"`
}

// faultRule returns the JSON of st.
func faultRule(st fault.Status) faultRuleJSON {
	r := st.Rule
	j := faultRuleJSON{
		ID: r.ID, Rule: r.String(), Service: r.Service, Moment: r.Moment, User: r.User, To: r.Rcpt,
		Kind: r.Kind.String(), Text: r.Text, Trickle: r.Rate, Prob: r.Probability, Every: r.Every, First: r.First,
		Matched: st.Matched, Fired: st.Fired,
	}
	if r.Client.IsValid() {
		if r.Client.IsSingleIP() {
			j.Client = r.Client.Addr().String()
		} else {
			j.Client = r.Client.String()
		}
	}
	if r.Kind == fault.KindTruncate {
		n := r.Bytes
		j.Truncate = &n
	}
	if r.Delay != 0 {
		j.Delay = r.Delay.String()
	}
	if r.After != 0 {
		j.After = r.After.String()
	}
	if r.For != 0 {
		j.For = r.For.String()
	}
	return j
}

// faultList returns the rules of the console's set as r's client sees
// them.
func (s *Server) faultList(r *http.Request) faultListJSON {
	l := faultListJSON{
		Seed:      strconv.FormatUint(s.cfg.Faults.Seed(), 10),
		CanChange: mayChangeFaults(r),
		Rules:     []faultRuleJSON{},
	}
	for _, st := range s.cfg.Faults.Rules() {
		l.Rules = append(l.Rules, faultRule(st))
	}
	return l
}

// A faultRequest is the body of POST /api/v1/faults: Rule, a rule in the
// format of a --faults file, or the rule's fields, named as
// faultRuleJSON's.
type faultRequest struct {
	Rule     *string `json:"rule"`
	Service  string  `json:"service"`
	Moment   string  `json:"moment"`
	User     string  `json:"user"`
	Client   string  `json:"client"`
	To       string  `json:"to"`
	Kind     string  `json:"kind"`
	Text     *string `json:"text"`
	Delay    string  `json:"delay"`
	Trickle  int     `json:"trickle"`
	Truncate *int    `json:"truncate"`
	Prob     float64 `json:"prob"`
	Every    int     `json:"every"`
	First    int     `json:"first"`
	After    string  `json:"after"`
	For      string  `json:"for"`
}

// line returns the rule of q as a line of a --faults file, for
// fault.ParseRule: q.Rule, or its fields written out, each value quoted,
// so that the parser checks both the same way.
func (q *faultRequest) line() (string, error) {
	if q.Rule != nil {
		fields := *q
		fields.Rule = nil
		if fields != (faultRequest{}) {
			return "", errFaultRuleOne
		}
		line := strings.TrimSpace(*q.Rule)
		switch {
		case line == "":
			return "", badRequest("rule: empty")
		case strings.ContainsAny(line, "\r\n"):
			return "", badRequest("rule: one rule, on one line")
		}
		return line, nil
	}
	if q.Service == "" || q.Moment == "" {
		return "", badRequest(`body: "rule", or "service", "moment" and the fault's fields, are required`)
	}
	for _, f := range []struct{ name, v string }{{"service", q.Service}, {"moment", q.Moment}, {"kind", q.Kind}} {
		if strings.ContainsAny(f.v, " \t\r\n\"#=\\") {
			return "", badRequest("%s: %q is not one word", f.name, f.v)
		}
	}
	words := []string{q.Service, q.Moment}
	field := func(key, v string) { words = append(words, key+"="+strconv.Quote(v)) }
	number := func(key string, n int) {
		if n != 0 {
			field(key, strconv.Itoa(n))
		}
	}
	text := ""
	if q.Text != nil {
		text = *q.Text
		if q.Kind != "reply" && q.Kind != "close" {
			return "", badRequest("text: goes with the kind reply or close")
		}
	}
	if q.Truncate != nil && q.Kind != "truncate" && q.Kind != "" {
		return "", badRequest("truncate: goes with the kind truncate")
	}
	if q.User != "" {
		field("user", q.User)
	}
	if q.Client != "" {
		field("client", q.Client)
	}
	if q.To != "" {
		field("to", q.To)
	}
	switch q.Kind {
	case "reply":
		field("reply", text)
	case "close":
		if text != "" {
			field("close", text)
		} else {
			words = append(words, "close")
		}
	case "truncate", "":
		if q.Truncate != nil || q.Kind == "truncate" {
			n := 0
			if q.Truncate != nil {
				n = *q.Truncate
			}
			field("truncate", strconv.Itoa(n))
		}
	case "delay", "trickle":
		// Given by delay and trickle.
	default:
		words = append(words, q.Kind)
	}
	if q.Delay != "" {
		field("delay", q.Delay)
	}
	number("trickle", q.Trickle)
	if q.Prob != 0 {
		field("prob", strconv.FormatFloat(q.Prob, 'g', -1, 64))
	}
	number("every", q.Every)
	number("first", q.First)
	if q.After != "" {
		field("after", q.After)
	}
	if q.For != "" {
		field("for", q.For)
	}
	return strings.Join(words, " "), nil
}

// addFault adds rule to the console's set, after Config.FaultCheck, and
// logs it; it returns the rule with its ID. A rule refused is a 400 with
// the reason.
func (s *Server) addFault(r *http.Request, rule fault.Rule) (fault.Rule, error) {
	if s.cfg.FaultCheck != nil {
		if err := s.cfg.FaultCheck(rule); err != nil {
			return fault.Rule{}, badRequest("%s", err.Error())
		}
	}
	id, err := s.cfg.Faults.Add(rule)
	if err != nil {
		return fault.Rule{}, badRequest("%s", err.Error())
	}
	rule.ID = id
	s.log.Info("console: fault rule added", "rule", id, "text", rule.String(), "remote", r.RemoteAddr)
	return rule, nil
}

// faultID returns the {id} of r's path, a rule's ID: a positive integer.
func faultID(r *http.Request) (int, error) {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id <= 0 {
		return 0, badRequest("id: not a positive integer: %q", r.PathValue("id"))
	}
	return id, nil
}

// removeFault removes rule id from the console's set, and logs it.
func (s *Server) removeFault(r *http.Request, id int) bool {
	if !s.cfg.Faults.Remove(id) {
		return false
	}
	s.log.Info("console: fault rule removed", "rule", id, "remote", r.RemoteAddr)
	return true
}

// clearFaults removes every rule from the console's set, logs it, and
// returns how many rules there were.
func (s *Server) clearFaults(r *http.Request) int {
	n := len(s.cfg.Faults.Rules())
	s.cfg.Faults.Clear()
	s.log.Info("console: fault rules cleared", "rules", n, "remote", r.RemoteAddr)
	return n
}

// faultsChange returns the error of a request that would change the fault
// rules, or nil if it may.
func (s *Server) faultsChange(r *http.Request) error {
	if s.cfg.Faults == nil {
		return errFaultsOff
	}
	if !mayChangeFaults(r) {
		return errFaultsLocal
	}
	return nil
}

// apiFaults answers GET /api/v1/faults: the rules, in the order the
// servers consult them, with how often each matched and fired, and the
// seed of their probabilities.
func (s *Server) apiFaults(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Faults == nil {
		s.apiFail(w, r, errFaultsOff)
		return
	}
	writeJSON(w, http.StatusOK, s.faultList(r))
}

// apiAddFault answers POST /api/v1/faults {"rule": "smtp DATA
// reply=\"451 4.3.0 later\" first=1"} (or the rule's fields): the rule
// added after the others, 201 with its id; a rule that does not parse or
// check is a 400 that says why.
func (s *Server) apiAddFault(w http.ResponseWriter, r *http.Request) {
	if err := s.faultsChange(r); err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req faultRequest
	if err := decodeJSON(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	line, err := req.line()
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	rule, err := fault.ParseRule(line)
	if err != nil {
		s.apiFail(w, r, badRequest("%s", err.Error()))
		return
	}
	if rule, err = s.addFault(r, rule); err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, faultRule(fault.Status{Rule: rule}))
}

// apiDeleteFault answers DELETE /api/v1/faults/{id}: the rule removed.
func (s *Server) apiDeleteFault(w http.ResponseWriter, r *http.Request) {
	if err := s.faultsChange(r); err != nil {
		s.apiFail(w, r, err)
		return
	}
	id, err := faultID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	if !s.removeFault(r, id) {
		s.apiFail(w, r, errNoFaultRule)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": 1})
}

// apiClearFaults answers DELETE /api/v1/faults: every rule removed; it
// answers how many there were.
func (s *Server) apiClearFaults(w http.ResponseWriter, r *http.Request) {
	if err := s.faultsChange(r); err != nil {
		s.apiFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"deleted": s.clearFaults(r)})
}
