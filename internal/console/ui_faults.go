package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/inetkit/inetkit/fault"
)

// faultsPage is the data of faults.html: the fault rules, their counters,
// and the form that adds rules.
type faultsPage struct {
	page
	Seed      string
	Rules     []faultRuleJSON
	CanChange bool
	// Draft and Error are the text of an add form refused and why.
	Draft    string
	Error    string
	Examples []faultExample
}

// A faultExample is a rule the Faults page offers as an example.
type faultExample struct {
	Rule, What string
}

// faultExamples are the examples of the Faults page's help.
var faultExamples = []faultExample{
	{`smtp DATA reply="451 4.3.0 try again later" first=1`, "the first message is refused for now; the retry is delivered"},
	{`smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"`, "no recipient at fail.test exists"},
	{`smtp MAIL delay=5s`, "every MAIL is answered 5 seconds late"},
	{`pop3 RETR user=alice* reset`, "RETR resets the connection of alice's logins"},
	{`imap FETCH close="* BYE [UNAVAILABLE] going away" first=1`, "the first FETCH ends the session"},
	{`ftp data reply="425 Can't open data connection." prob=0.5`, "half the data connections fail, the same ones for the same seed"},
	{`http /api/ reply="503 Service Unavailable" every=2`, "every second request under /api/ gets a 503"},
	{`tcp connect hang`, "connections are taken, then nothing is answered"},
	{`udp datagram drop prob=0.2`, "a fifth of the datagrams get no reply"},
}

// maxFaultRulesAdded caps the rules of one add form.
const maxFaultRulesAdded = 1000

// handleFaults shows the fault rules: GET /faults.
func (s *Server) handleFaults(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Faults == nil {
		s.notFound(w, r)
		return
	}
	s.renderFaults(w, r, http.StatusOK, "", "")
}

// renderFaults renders the Faults page with status; draft and msg are the
// text of an add form refused and why ("" for none).
func (s *Server) renderFaults(w http.ResponseWriter, r *http.Request, status int, draft, msg string) {
	l := s.faultList(r)
	d := &faultsPage{page: s.newPage(r, "faults", "Faults"), Seed: l.Seed, Rules: l.Rules, CanChange: l.CanChange,
		Draft: draft, Error: msg, Examples: faultExamples}
	if msg != "" {
		d.Flash = ""
	}
	s.render(w, r, status, "faults.html", d)
}

// mayChangeFaultsPage answers a form that would change the rules with a
// 404 or 403 page, and returns false, unless it may.
func (s *Server) mayChangeFaultsPage(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Faults == nil {
		s.notFound(w, r)
		return false
	}
	if !mayChangeFaults(r) {
		s.fail(w, r, http.StatusForbidden, userError("Only the console's administrator (a console without a login, used from its own machine) may change faults: they reach every client of every service."))
		return false
	}
	return true
}

// handleFaultsAdd adds the rules of a form, one a line as in a --faults
// file, all or none: POST /faults. A form refused shows the page again
// with the rules, to correct, and what is wrong with them.
func (s *Server) handleFaultsAdd(w http.ResponseWriter, r *http.Request) {
	if !s.mayChangeFaultsPage(w, r) {
		return
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, userError("The form is larger than this console accepts."))
		} else {
			s.badRequest(w, r, "The form could not be read.")
		}
		return
	}
	text := r.PostForm.Get("rules")
	rules, err := fault.Parse(strings.NewReader(text))
	switch {
	case err != nil:
		s.renderFaults(w, r, http.StatusBadRequest, text, err.Error())
		return
	case len(rules) == 0:
		s.renderFaults(w, r, http.StatusBadRequest, text, "Write a rule: SERVICE MOMENT [WHO...] WHAT [HOW OFTEN...].")
		return
	case len(rules) > maxFaultRulesAdded:
		s.renderFaults(w, r, http.StatusBadRequest, text, "At most "+strconv.Itoa(maxFaultRulesAdded)+" rules at once.")
		return
	}
	if s.cfg.FaultCheck != nil {
		for _, rule := range rules {
			if err := s.cfg.FaultCheck(rule); err != nil {
				s.renderFaults(w, r, http.StatusBadRequest, text, rule.String()+": "+err.Error())
				return
			}
		}
	}
	for i, rule := range rules {
		if _, err := s.addFault(r, rule); err != nil {
			// Parse and FaultCheck passed it a moment ago.
			s.renderFaults(w, r, http.StatusBadRequest, text, rule.String()+": "+err.Error()+
				" (the "+strconv.Itoa(i)+" rule"+plural(i)+" before it were added)")
			return
		}
	}
	redirectDone(w, r, "/faults", "fadded", len(rules))
}

// handleFaultDelete removes a rule: POST /faults/{id}/delete.
func (s *Server) handleFaultDelete(w http.ResponseWriter, r *http.Request) {
	if !s.mayChangeFaultsPage(w, r) {
		return
	}
	id, err := faultID(r)
	if err != nil || !s.removeFault(r, id) {
		s.fail(w, r, http.StatusNotFound, userError("There is no fault rule "+r.PathValue("id")+": it was removed already."))
		return
	}
	redirectDone(w, r, "/faults", "fremoved", -1)
}

// handleFaultsClear removes every rule: POST /faults/delete.
func (s *Server) handleFaultsClear(w http.ResponseWriter, r *http.Request) {
	if !s.mayChangeFaultsPage(w, r) {
		return
	}
	redirectDone(w, r, "/faults", "fcleared", s.clearFaults(r))
}
