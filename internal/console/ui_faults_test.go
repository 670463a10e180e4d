package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/inetkit/inetkit/fault"
)

// The Faults page lists the rules with their counters, and its forms add,
// remove and clear them.
func TestUIFaults(t *testing.T) {
	set := testFaults(t, 42)
	tc := newTestConsole(t, withFaults(set))

	body := tc.uiPage(t, "/faults")
	for _, w := range []string{`<a href="/faults" aria-current="page">`, "No rules: every service behaves.", "<code>42</code>",
		`<form method="post" action="/faults">`, `name="rules"`, "Rule syntax and examples", "inetkit serve --faults FILE --fault-seed 42",
		`data-value="smtp DATA reply=&#34;451 4.3.0 try again later&#34; first=1"`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /faults: no %q in the page:\n%s", w, body)
		}
	}
	if strings.Contains(body, `action="/faults/delete"`) {
		t.Error("GET /faults: a Remove all button with no rules")
	}
	if body := tc.uiPage(t, "/server"); !strings.Contains(body, `<a href="/faults">`) {
		t.Error("GET /server: the nav has no link to /faults")
	}

	// Two rules at once, a comment and a blank line.
	r := tc.uiPostForm(t, "/faults", url.Values{"rules": {"# retries\r\n" + `smtp DATA reply="451 4.3.0 <b>later</b>" first=1` + "\r\n\r\npop3 RETR reset\r\n"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/faults?done=fadded&n=2" {
		t.Fatalf("POST /faults = %d, Location %q; want 303 to /faults?done=fadded&n=2", r.Status, r.Header.Get("Location"))
	}
	set.Fire(fault.Point{Service: "smtp", Moment: "DATA"})
	set.Fire(fault.Point{Service: "smtp", Moment: "DATA"})
	body = tc.uiPage(t, "/faults?done=fadded&n=2")
	for _, w := range []string{"Added 2 fault rules.", "2 rules", `<tr data-fault="1">`, `<tr data-fault="2">`,
		`<code>smtp DATA reply=&#34;451 4.3.0 &lt;b&gt;later&lt;/b&gt;&#34; first=1</code>`, `<td class="num matched">2</td>`, `<td class="num fired">1</td>`,
		"<code>pop3 RETR reset</code>", `action="/faults/1/delete"`, `action="/faults/delete"`, `data-refresh="/api/v1/faults"`} {
		if !strings.Contains(body, w) {
			t.Errorf("GET /faults: no %q in the page:\n%s", w, body)
		}
	}
	if strings.Contains(body, "<b>later") {
		t.Error("GET /faults: a rule's text is not escaped")
	}

	// A mistake: the page again, with the text to correct and the parser's
	// words; nothing is added, not even the good rule before it.
	bad := "tcp connect hang\nsmtp rcpt reply=\"550 <i>x</i>\""
	r = tc.uiPostForm(t, "/faults", url.Values{"rules": {bad}})
	_, perr := fault.Parse(strings.NewReader(bad))
	for _, w := range []string{`role="alert"`, `aria-invalid="true"`, "line 2: ", ">tcp connect hang\nsmtp rcpt reply=&#34;550 &lt;i&gt;x&lt;/i&gt;&#34;</textarea>"} {
		if !strings.Contains(r.Body, w) {
			t.Errorf("POST /faults of a mistake: no %q in the page:\n%s", w, r.Body)
		}
	}
	if r.Status != http.StatusBadRequest || perr == nil || !strings.Contains(r.Body, template.HTMLEscapeString(perr.Error())) {
		t.Errorf("POST /faults of a mistake = %d; want 400 and %v", r.Status, perr)
	}
	for _, form := range []string{"", "# nothing\n"} {
		if r := tc.uiPostForm(t, "/faults", url.Values{"rules": {form}}); r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "Write a rule") {
			t.Errorf("POST /faults of %q = %d; want 400, Write a rule", form, r.Status)
		}
	}
	if n := len(set.Rules()); n != 2 {
		t.Errorf("the set has %d rules after the mistakes; want 2", n)
	}

	// Removed, one, then all.
	r = tc.uiPostForm(t, "/faults/1/delete", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/faults?done=fremoved" {
		t.Errorf("POST /faults/1/delete = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	for _, p := range []string{"/faults/1/delete", "/faults/x/delete"} {
		if r := tc.uiPostForm(t, p, nil); r.Status != http.StatusNotFound || !strings.Contains(r.Body, "it was removed already") {
			t.Errorf("POST %s = %d; want 404", p, r.Status)
		}
	}
	if body := tc.uiPage(t, "/faults?done=fremoved"); !strings.Contains(body, "Removed the fault rule.") || strings.Contains(body, `data-fault="1"`) {
		t.Errorf("GET /faults after removing rule 1:\n%s", body)
	}
	r = tc.uiPostForm(t, "/faults/delete", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/faults?done=fcleared&n=1" {
		t.Errorf("POST /faults/delete = %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if body := tc.uiPage(t, "/faults?done=fcleared&n=1"); !strings.Contains(body, "Removed 1 fault rule.") || !strings.Contains(body, "No rules") {
		t.Errorf("GET /faults after clearing:\n%s", body)
	}
	if n := len(set.Rules()); n != 0 {
		t.Errorf("the set has %d rules after clearing", n)
	}
}

// A rule that Config.FaultCheck refuses is shown as a mistake, and none
// of the form's rules is added.
func TestUIFaultsChecked(t *testing.T) {
	set := testFaults(t, 1)
	tc := newTestConsole(t, func(c *Config) {
		c.Faults = set
		c.FaultCheck = func(r fault.Rule) error {
			if r.Service == "tcp" {
				return userError("tcp rules need --faults")
			}
			return nil
		}
	})
	r := tc.uiPostForm(t, "/faults", url.Values{"rules": {"smtp DATA reset\ntcp connect hang"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, "tcp connect hang: tcp rules need --faults") {
		t.Errorf("POST /faults with a tcp rule = %d:\n%s", r.Status, r.Body)
	}
	if n := len(set.Rules()); n != 0 {
		t.Errorf("the set has %d rules; want none", n)
	}
}

// A logged-in user sees the rules, without the forms, and cannot post
// them.
func TestUIFaultsReadOnly(t *testing.T) {
	set := testFaults(t, 1, "tcp connect reset")
	tc := newTestConsole(t, func(c *Config) {
		withLogin(&testLogin{}, nil)(c)
		c.Faults = set
	})
	get := func(path string) uiReply {
		req, _ := http.NewRequest("GET", tc.HTTP.URL+path, nil)
		req.SetBasicAuth("alice@example.org", "secret")
		return tc.uiDo(t, req)
	}
	r := get("/faults")
	if r.Status != 200 || !strings.Contains(r.Body, "<code>tcp connect reset</code>") || !strings.Contains(r.Body, "Only the console's administrator") {
		t.Errorf("alice's GET /faults = %d:\n%s", r.Status, r.Body)
	}
	for _, w := range []string{`action="/faults"`, `action="/faults/1/delete"`, `action="/faults/delete"`} {
		if strings.Contains(r.Body, w) {
			t.Errorf("alice's page has the form %s", w)
		}
	}
	for _, p := range []string{"/faults", "/faults/1/delete", "/faults/delete"} {
		req, _ := http.NewRequest("POST", tc.HTTP.URL+p, strings.NewReader("rules=tcp+connect+hang"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("alice@example.org", "secret")
		if r := tc.uiDo(t, req); r.Status != http.StatusForbidden {
			t.Errorf("alice's POST %s = %d; want 403", p, r.Status)
		}
	}
	if n := len(set.Rules()); n != 1 {
		t.Errorf("the set has %d rules; want 1", n)
	}
}

// Every example of the page's help is a rule.
func TestUIFaultExamples(t *testing.T) {
	for _, ex := range faultExamples {
		r, err := fault.ParseRule(ex.Rule)
		if err != nil {
			t.Errorf("ParseRule(%q): %v", ex.Rule, err)
			continue
		}
		if r.String() != ex.Rule {
			t.Errorf("example %q is written %q by Rule.String", ex.Rule, r.String())
		}
	}
}
