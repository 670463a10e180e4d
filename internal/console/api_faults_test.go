package console

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/fault"
)

// withFaults gives a test console the fault set set.
func withFaults(set *fault.Set) func(*Config) {
	return func(c *Config) { c.Faults = set }
}

// testFaults returns a set of the rules with seed, logging the faults it
// injects to the test's log.
func testFaults(t testing.TB, seed uint64, rules ...string) *fault.Set {
	t.Helper()
	set := fault.NewSet(seed, testLogger(t))
	for _, line := range rules {
		r, err := fault.ParseRule(line)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return set
}

// faultList gets the rules of a test console.
func (tc *testConsole) faultList(t testing.TB, header ...string) faultListJSON {
	t.Helper()
	var l faultListJSON
	tc.apiOK(t, 200, "GET", "/api/v1/faults", nil, &l, header...)
	return l
}

// checkSchema checks the JSON of r against the schema name of openapi.json.
func checkSchema(t testing.TB, r apiReply, name string) {
	t.Helper()
	doc := loadOpenAPI(t)
	var v any
	r.decode(t, &v)
	s := &jsonSchema{Ref: "#/components/schemas/" + name}
	if err := doc.validate(s, v, name); err != nil {
		t.Errorf("%v\n%s", err, r.Body)
	}
	if err := doc.checkDocumented(s, v, name); err != nil {
		t.Errorf("%v", err)
	}
}

func TestAPI_faults(t *testing.T) {
	set := testFaults(t, 3)
	tc := newTestConsole(t, withFaults(set))

	if l := tc.faultList(t); l.Seed != "3" || !l.CanChange || l.Rules == nil || len(l.Rules) != 0 {
		t.Errorf("GET /api/v1/faults of an empty set = %+v; want seed 3, canChange, no rules", l)
	}

	// A rule in the file format, and rules as fields.
	one := 1
	zero := 0
	for _, tt := range []struct {
		name string
		body any
		want faultRuleJSON
	}{
		{"rule", map[string]any{"rule": ` smtp DATA reply="451 4.3.0 later" first=1 `}, faultRuleJSON{ID: 1,
			Rule: `smtp DATA reply="451 4.3.0 later" first=1`, Service: "smtp", Moment: "DATA", Kind: "reply", Text: "451 4.3.0 later", First: one}},
		{"fields", map[string]any{"service": "smtp", "moment": "RCPT", "to": "*@fail.test", "kind": "reply", "text": "550 5.1.1 no such user", "first": 3}, faultRuleJSON{ID: 2,
			Rule: `smtp RCPT to=*@fail.test reply="550 5.1.1 no such user" first=3`, Service: "smtp", Moment: "RCPT", To: "*@fail.test", Kind: "reply", Text: "550 5.1.1 no such user", First: 3}},
		{"truncate 0", map[string]any{"service": "tcp", "moment": "connect", "kind": "truncate", "truncate": 0}, faultRuleJSON{ID: 3,
			Rule: "tcp connect truncate=0", Service: "tcp", Moment: "connect", Kind: "truncate", Truncate: &zero}},
		{"delay alone", map[string]any{"service": "pop3", "moment": "RETR", "user": "alice*", "client": "10.1.2.3/8", "delay": "1500ms", "every": 2, "after": "1s", "for": "1m"}, faultRuleJSON{ID: 4,
			Rule: "pop3 RETR user=alice* client=10.0.0.0/8 delay=1.5s every=2 after=1s for=1m0s", Service: "pop3", Moment: "RETR", User: "alice*", Client: "10.0.0.0/8",
			Kind: "delay", Delay: "1.5s", Every: 2, After: "1s", For: "1m0s"}},
		{"close with text", map[string]any{"service": "imap", "moment": "FETCH", "kind": "close", "text": "* BYE [UNAVAILABLE] bye", "client": "::1"}, faultRuleJSON{ID: 5,
			Rule: `imap FETCH client=::1 close="* BYE [UNAVAILABLE] bye"`, Service: "imap", Moment: "FETCH", Client: "::1", Kind: "close", Text: "* BYE [UNAVAILABLE] bye"}},
		{"word kind", map[string]any{"service": "udp", "moment": "datagram", "kind": "drop", "prob": 0.25}, faultRuleJSON{ID: 6,
			Rule: "udp datagram drop prob=0.25", Service: "udp", Moment: "datagram", Kind: "drop", Prob: 0.25}},
		{"trickle", map[string]any{"service": "smtp", "moment": "connect", "trickle": 10}, faultRuleJSON{ID: 7,
			Rule: "smtp connect trickle=10", Service: "smtp", Moment: "connect", Kind: "trickle", Trickle: 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tc.apiOK(t, 201, "POST", "/api/v1/faults", tt.body, nil)
			checkSchema(t, r, "FaultRule")
			var got faultRuleJSON
			r.decode(t, &got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("POST %v: rule (-want +got):\n%s", tt.body, diff)
			}
			// The rule's text parses back to the rule.
			back, err := fault.ParseRule(got.Rule)
			if err != nil {
				t.Fatalf("ParseRule(%q): %v", got.Rule, err)
			}
			if back.String() != got.Rule {
				t.Errorf("ParseRule(%q).String() = %q", got.Rule, back.String())
			}
		})
	}
	if n := len(set.Rules()); n != 7 {
		t.Fatalf("the set has %d rules; want 7", n)
	}

	// The counters are those of the set.
	set.Fire(fault.Point{Service: "smtp", Moment: "DATA"})
	set.Fire(fault.Point{Service: "smtp", Moment: "DATA"})
	r := tc.api(t, "GET", "/api/v1/faults", nil)
	checkSchema(t, r, "FaultList")
	var l faultListJSON
	r.decode(t, &l)
	if len(l.Rules) != 7 || l.Rules[0].Matched != 2 || l.Rules[0].Fired != 1 || l.Rules[1].Matched != 0 {
		t.Errorf("after two DATA: %+v; want rule 1 matched 2, fired 1", l.Rules)
	}

	// Removed one by one, then all at once; ids are not reused.
	var n map[string]int
	tc.apiOK(t, 200, "DELETE", "/api/v1/faults/2", nil, &n)
	if n["deleted"] != 1 {
		t.Errorf("DELETE /api/v1/faults/2 = %v", n)
	}
	for _, tt := range []struct {
		path string
		want int
		msg  string
	}{
		{"/api/v1/faults/2", 404, "no such fault rule"},
		{"/api/v1/faults/99", 404, "no such fault rule"},
		{"/api/v1/faults/x", 400, `id: not a positive integer: "x"`},
		{"/api/v1/faults/0", 400, `id: not a positive integer: "0"`},
		{"/api/v1/faults/99999999999999999999", 400, `id: not a positive integer: "99999999999999999999"`},
	} {
		r := tc.api(t, "DELETE", tt.path, nil)
		var e struct{ Error string }
		r.decode(t, &e)
		if r.Status != tt.want || e.Error != tt.msg {
			t.Errorf("DELETE %s = %v; want %d %q", tt.path, r, tt.want, tt.msg)
		}
	}
	tc.apiOK(t, 200, "DELETE", "/api/v1/faults", nil, &n)
	if n["deleted"] != 6 || len(set.Rules()) != 0 {
		t.Errorf("DELETE /api/v1/faults = %v, left %d rules; want 6 deleted, none left", n, len(set.Rules()))
	}
	var added faultRuleJSON
	tc.apiOK(t, 201, "POST", "/api/v1/faults", map[string]string{"rule": "tcp connect reset"}, &added)
	if added.ID != 8 {
		t.Errorf("the rule added after a clear has id %d; want 8", added.ID)
	}
}

// A rule refused is a 400 whose text says why: the parser's own words for a
// rule in the file format.
func TestAPI_faultsRefused(t *testing.T) {
	set := testFaults(t, 1)
	tc := newTestConsole(t, func(c *Config) {
		c.Faults = set
		c.FaultCheck = func(r fault.Rule) error {
			if r.Service == "http" {
				return errors.New("http rules need --faults")
			}
			return nil
		}
	})
	parserSays := func(line string) string {
		_, err := fault.ParseRule(line)
		if err == nil {
			t.Fatalf("ParseRule(%q) = nil error", line)
		}
		return err.Error()
	}
	for _, tt := range []struct {
		name string
		body any
		want string
	}{
		{"upper case", map[string]string{"rule": "smtp rcpt reset"}, parserSays("smtp rcpt reset")},
		{"no fault", map[string]string{"rule": "smtp DATA"}, parserSays("smtp DATA")},
		{"bad reply", map[string]string{"rule": `smtp DATA reply="hello"`}, parserSays(`smtp DATA reply="hello"`)},
		{"unknown service", map[string]string{"rule": "smtx DATA reset"}, parserSays("smtx DATA reset")},
		{"quote", map[string]string{"rule": `smtp DATA reply="451 x`}, parserSays(`smtp DATA reply="451 x`)},
		{"empty", map[string]string{"rule": "  "}, "rule: empty"},
		{"two lines", map[string]string{"rule": "tcp connect reset\ntcp connect hang"}, "rule: one rule, on one line"},
		{"rule and fields", map[string]any{"rule": "tcp connect reset", "service": "tcp"}, `body: give "rule", or the rule's fields, not both`},
		{"nothing", map[string]any{}, `body: "rule", or "service", "moment" and the fault's fields, are required`},
		{"moment of two words", map[string]any{"service": "smtp", "moment": "DATA first=1", "kind": "reset"}, `moment: "DATA first=1" is not one word`},
		{"kind of two words", map[string]any{"service": "smtp", "moment": "DATA", "kind": "reset first=1"}, `kind: "reset first=1" is not one word`},
		{"text without reply", map[string]any{"service": "smtp", "moment": "DATA", "kind": "reset", "text": "451 x"}, "text: goes with the kind reply or close"},
		{"truncate without truncate", map[string]any{"service": "tcp", "moment": "connect", "kind": "reset", "truncate": 3}, "truncate: goes with the kind truncate"},
		{"unknown kind", map[string]any{"service": "smtp", "moment": "DATA", "kind": "explode"}, parserSays("smtp DATA explode")},
		{"reply without text", map[string]any{"service": "smtp", "moment": "DATA", "kind": "reply"}, parserSays(`smtp DATA reply=""`)},
		{"bad prob", map[string]any{"service": "smtp", "moment": "DATA", "kind": "reset", "prob": 2}, parserSays("smtp DATA reset prob=2")},
		{"bad duration", map[string]any{"service": "smtp", "moment": "DATA", "delay": "soon"}, parserSays("smtp DATA delay=soon")},
		{"bad client", map[string]any{"service": "smtp", "moment": "DATA", "kind": "reset", "client": "x"}, parserSays("smtp DATA reset client=x")},
		{"checked", map[string]string{"rule": "http / hang"}, "http rules need --faults"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tc.api(t, "POST", "/api/v1/faults", tt.body)
			var e struct{ Error string }
			r.decode(t, &e)
			if r.Status != 400 || e.Error != tt.want {
				t.Errorf("POST %v = %v; want 400 %q", tt.body, r, tt.want)
			}
		})
	}
	for _, body := range []string{`{"rule": "tcp connect reset", "extra": 1}`, `{"rule": 1}`, `not json`, `{"rule": "tcp connect reset"} {}`} {
		if r := tc.api(t, "POST", "/api/v1/faults", body); r.Status != 400 {
			t.Errorf("POST %s = %v; want 400", body, r)
		}
	}
	if r := tc.api(t, "POST", "/api/v1/faults", `{"rule": "`+strings.Repeat("x", maxJSONBytes)+`"}`); r.Status != 413 {
		t.Errorf("POST of more than %d bytes = %v; want 413", maxJSONBytes, r)
	}
	if n := len(set.Rules()); n != 0 {
		t.Errorf("%d rules added by refused requests", n)
	}
}

// Without a fault set, the API answers 404 and the page does not exist.
func TestAPI_faultsOff(t *testing.T) {
	tc := newTestConsole(t, nil)
	for _, rq := range []struct{ method, path string }{
		{"GET", "/api/v1/faults"}, {"POST", "/api/v1/faults"}, {"DELETE", "/api/v1/faults"}, {"DELETE", "/api/v1/faults/1"},
	} {
		r := tc.api(t, rq.method, rq.path, map[string]string{"rule": "tcp connect reset"})
		var e struct{ Error string }
		r.decode(t, &e)
		if r.Status != 404 || e.Error != "faults are off" {
			t.Errorf("%s %s = %v; want 404 faults are off", rq.method, rq.path, r)
		}
	}
	if r := tc.uiGet(t, "/faults"); r.Status != 404 {
		t.Errorf("GET /faults = %d; want 404", r.Status)
	}
	if r := tc.uiPostForm(t, "/faults", map[string][]string{"rules": {"tcp connect reset"}}); r.Status != 404 {
		t.Errorf("POST /faults = %d; want 404", r.Status)
	}
	if body := tc.uiPage(t, "/server"); strings.Contains(body, `href="/faults"`) {
		t.Error("the nav links to /faults on a console without faults")
	}
}

// Every user sees the rules; only a console without a login, used from
// loopback, changes them.
func TestAPI_faultsWho(t *testing.T) {
	set := testFaults(t, 5, "tcp connect reset")
	t.Run("logged in", func(t *testing.T) {
		tc := newTestConsole(t, func(c *Config) {
			withLogin(&testLogin{}, nil)(c)
			c.Faults = set
		})
		asAlice := []string{"Authorization", basic("alice@example.org", "secret")}
		if l := tc.faultList(t, asAlice...); l.CanChange || len(l.Rules) != 1 || l.Seed != "5" {
			t.Errorf("alice's list = %+v; want the rule, canChange false", l)
		}
		for _, rq := range []struct{ method, path string }{
			{"POST", "/api/v1/faults"}, {"DELETE", "/api/v1/faults"}, {"DELETE", "/api/v1/faults/1"},
		} {
			r := tc.api(t, rq.method, rq.path, map[string]string{"rule": "tcp connect hang"}, asAlice...)
			var e struct{ Error string }
			r.decode(t, &e)
			if r.Status != 403 || e.Error != errFaultsLocal.msg {
				t.Errorf("alice: %s %s = %v; want 403", rq.method, rq.path, r)
			}
		}
		if r := tc.api(t, "GET", "/api/v1/faults", nil); r.Status != 401 {
			t.Errorf("GET /api/v1/faults without a login = %v; want 401", r)
		}
	})
	t.Run("off loopback", func(t *testing.T) {
		tc := newTestConsole(t, withFaults(set))
		do := func(method, path, body, remote string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Host = "127.0.0.1:8025"
			req.RemoteAddr = remote
			w := httptest.NewRecorder()
			tc.Server.ServeHTTP(w, req)
			return w
		}
		for _, remote := range []string{"192.0.2.7:5555", "[2001:db8::1]:5555"} {
			if w := do("POST", "/api/v1/faults", `{"rule": "tcp connect hang"}`, remote); w.Code != 403 {
				t.Errorf("POST from %s = %d %s; want 403", remote, w.Code, w.Body)
			}
			if w := do("DELETE", "/api/v1/faults", "", remote); w.Code != 403 {
				t.Errorf("DELETE from %s = %d %s; want 403", remote, w.Code, w.Body)
			}
			if w := do("GET", "/api/v1/faults", "", remote); w.Code != 200 || !strings.Contains(w.Body.String(), `"canChange":false`) {
				t.Errorf("GET from %s = %d %s; want 200, canChange false", remote, w.Code, w.Body)
			}
		}
		for _, remote := range []string{"127.0.0.1:5555", "[::1]:5555", "[::ffff:127.0.0.1]:5555"} {
			if w := do("GET", "/api/v1/faults", "", remote); w.Code != 200 || !strings.Contains(w.Body.String(), `"canChange":true`) {
				t.Errorf("GET from %s = %d %s; want 200, canChange true", remote, w.Code, w.Body)
			}
		}
		if n := len(set.Rules()); n != 1 {
			t.Errorf("the set has %d rules; want the one it had", n)
		}
	})
}

// A page of another site cannot change the rules (CSRF), through the API
// or the page's forms.
func TestAPI_faultsCrossSite(t *testing.T) {
	set := testFaults(t, 5, "tcp connect reset")
	tc := newTestConsole(t, withFaults(set))
	evil := []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}
	for _, rq := range []struct{ method, path, body string }{
		{"POST", "/api/v1/faults", `{"rule": "smtp DATA reply=\"451 4.3.0 x\""}`},
		{"DELETE", "/api/v1/faults", ""},
		{"DELETE", "/api/v1/faults/1", ""},
		{"POST", "/faults", "rules=smtp+DATA+reset"},
		{"POST", "/faults/1/delete", ""},
		{"POST", "/faults/delete", ""},
	} {
		h := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, evil...)
		if r := tc.api(t, rq.method, rq.path, rq.body, h...); r.Status != 403 {
			t.Errorf("cross-site %s %s = %v; want 403", rq.method, rq.path, r)
		}
	}
	if got := set.Rules(); len(got) != 1 || got[0].ID != 1 {
		t.Errorf("after cross-site requests the rules are %+v; want rule 1 alone", got)
	}
	// The same requests from the console's own page pass.
	own := []string{"Origin", tc.HTTP.URL, "Sec-Fetch-Site", "same-origin"}
	tc.apiOK(t, 201, "POST", "/api/v1/faults", map[string]string{"rule": "tcp connect hang"}, nil, own...)
	tc.apiOK(t, 200, "DELETE", fmt.Sprint("/api/v1/faults/", 1), nil, nil, own...)
}
