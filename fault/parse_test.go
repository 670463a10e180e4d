package fault_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inetkit/inetkit/fault"
)

// prefixes compares netip.Prefix values, whose fields are unexported.
var prefixes = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestParseRule(t *testing.T) {
	tests := []struct {
		name string
		line string
		want fault.Rule
	}{
		{"reply to a recipient", `smtp RCPT to=*@fail.test reply="550 5.1.1 no such user" first=3`,
			fault.Rule{Service: "smtp", Moment: "RCPT", Rcpt: "*@fail.test", Kind: fault.KindReply, Text: "550 5.1.1 no such user", First: 3}},
		{"greeting refused", `smtp connect reply="554 5.3.2 not now"`,
			fault.Rule{Service: "smtp", Moment: "connect", Kind: fault.KindReply, Text: "554 5.3.2 not now"}},
		{"bye", `imap FETCH close="* BYE [UNAVAILABLE] going away" user=alice`,
			fault.Rule{Service: "imap", Moment: "FETCH", User: "alice", Kind: fault.KindClose, Text: "* BYE [UNAVAILABLE] going away"}},
		{"clean close", `pop3 RETR close`, fault.Rule{Service: "pop3", Moment: "RETR", Kind: fault.KindClose}},
		{"reset from a prefix", `pop3 RETR reset client=10.1.2.3/8`,
			fault.Rule{Service: "pop3", Moment: "RETR", Kind: fault.KindReset, Client: netip.MustParsePrefix("10.0.0.0/8")}},
		{"one address", `ftp connect hang client=::ffff:127.0.0.2`,
			fault.Rule{Service: "ftp", Moment: "connect", Kind: fault.KindHang, Client: netip.MustParsePrefix("127.0.0.2/32")}},
		{"delay alone", `nntp ARTICLE delay=1.5s`, fault.Rule{Service: "nntp", Moment: "ARTICLE", Kind: fault.KindDelay, Delay: 1500 * time.Millisecond}},
		{"delay before a reply", `pop3 login reply="-ERR [SYS/TEMP] busy" delay=2s prob=0.25`,
			fault.Rule{Service: "pop3", Moment: "login", Kind: fault.KindReply, Text: "-ERR [SYS/TEMP] busy", Delay: 2 * time.Second, Probability: 0.25}},
		{"trickle alone", `smtp connect trickle=10`, fault.Rule{Service: "smtp", Moment: "connect", Kind: fault.KindTrickle, Rate: 10}},
		{"trickled reply", `ftp LIST reply="450 busy" trickle=5`,
			fault.Rule{Service: "ftp", Moment: "LIST", Kind: fault.KindReply, Text: "450 busy", Rate: 5}},
		{"truncate", `pop3 RETR truncate=100 every=2`, fault.Rule{Service: "pop3", Moment: "RETR", Kind: fault.KindTruncate, Bytes: 100, Every: 2}},
		{"ftp data", `ftp data reply="425 Can't open data connection."`,
			fault.Rule{Service: "ftp", Moment: "data", Kind: fault.KindReply, Text: "425 Can't open data connection."}},
		{"http path", `http /api/ reply="503 Service Unavailable" after=1m for=30s # comment`,
			fault.Rule{Service: "http", Moment: "/api/", Kind: fault.KindReply, Text: "503 Service Unavailable", After: time.Minute, For: 30 * time.Second}},
		{"http disk full", `http / disk-full`, fault.Rule{Service: "http", Moment: "/", Kind: fault.KindDiskFull}},
		{"udp", "udp\tdatagram\tdrop\tprob=0.2", fault.Rule{Service: "udp", Moment: "datagram", Kind: fault.KindDrop, Probability: 0.2}},
		{"udp delay", `udp datagram delay=50ms`, fault.Rule{Service: "udp", Moment: "datagram", Kind: fault.KindDelay, Delay: 50 * time.Millisecond}},
		{"disk full", `smtp DATA disk-full first=1`, fault.Rule{Service: "smtp", Moment: "DATA", Kind: fault.KindDiskFull, First: 1}},
		{"store error", `nntp POST store-error`, fault.Rule{Service: "nntp", Moment: "POST", Kind: fault.KindStoreError}},
		{"escaped quote", `smtp MAIL reply="451 4.3.0 \"quoted\""`, fault.Rule{Service: "smtp", Moment: "MAIL", Kind: fault.KindReply, Text: `451 4.3.0 "quoted"`}},
		{"tcp connect", `tcp connect reset`, fault.Rule{Service: "tcp", Moment: "connect", Kind: fault.KindReset}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fault.ParseRule(tc.line)
			if err != nil {
				t.Fatalf("ParseRule(%q) = %v", tc.line, err)
			}
			if diff := cmp.Diff(tc.want, got, prefixes); diff != "" {
				t.Errorf("ParseRule(%q) mismatch (-want +got):\n%s", tc.line, diff)
			}
			back, err := fault.ParseRule(got.String())
			if err != nil {
				t.Fatalf("ParseRule(%q), of String() = %v", got.String(), err)
			}
			if diff := cmp.Diff(got, back, prefixes); diff != "" {
				t.Errorf("String() %q does not parse back (-want +got):\n%s", got.String(), diff)
			}
		})
	}
}

func TestParseRule_invalid(t *testing.T) {
	tests := []struct{ line, want string }{
		{`smtp`, "want SERVICE MOMENT"},
		{`smtp RCPT`, "no fault"},
		{`mail RCPT reset`, `unknown service "mail"`},
		{`smtp rcpt reset`, "upper case (RCPT)"},
		{`smtp data reset`, "upper case (DATA)"},
		{`ftp DATA reset`, "in lower case"},
		{`udp RCPT drop`, "has no moment"},
		{`http api reset`, "has no moment"},
		{`smtp RCPT reply="try later"`, "is not a smtp reply"},
		{`pop3 RETR reply="451 nope"`, "is not a pop3 reply"},
		{`imap FETCH reply="A1 NO x"`, "is not a imap reply"},
		{`smtp RCPT reply=`, "reply needs a text"},
		{`smtp RCPT reply="451 a\r\nDATA"`, "one line"},
		{`smtp RCPT reset hang`, "one fault per rule"},
		{`smtp RCPT reset reset`, "given twice"},
		{`smtp RCPT reset bogus`, `unknown word "bogus"`},
		{`smtp RCPT reset bogus=1`, `unknown field "bogus"`},
		{`smtp RCPT reset prob=0`, "0 < prob"},
		{`smtp RCPT reset prob=1.5`, "0 < prob"},
		{`smtp RCPT reset every=0`, "want a number > 0"},
		{`smtp RCPT reset first=x`, "invalid syntax"},
		{`smtp RCPT reset delay=-1s`, "duration > 0"},
		{`smtp RCPT reset trickle=5`, "trickle paces a reply"},
		{`smtp MAIL reset to=x@y`, "to= matches the recipient of smtp RCPT only"},
		{`smtp connect reset user=alice`, "user= needs a login"},
		{`tcp connect reset user=alice`, "user= needs a login"},
		{`smtp RCPT reset user=[`, "malformed pattern"},
		{`smtp RCPT reset client=10.0.0.0/33`, "want an address or a prefix"},
		{`smtp RCPT reset client=host`, "want an address or a prefix"},
		{`smtp RCPT drop`, "cannot be injected here"},
		{`udp datagram reset`, "cannot be injected here"},
		{`tcp connect reply="hi"`, "cannot be injected here"},
		{`smtp RCPT disk-full`, "fails a delivery: at DATA"},
		{`smtp BDAT reset`, "moment DATA"},
		{`pop3 RETR disk-full`, "pop3 has none"},
		{`imap FETCH trickle=5`, "cannot be injected here"},
		{`ftp data hang`, "cannot be injected here"},
		{`smtp RCPT reply="451 x`, "unterminated"},
		{`smtp RCPT reply="451 x"y`, "after the closing quote"},
		{`smtp RCPT reply=451"x reset`, "must be quoted"},
		{`smtp RCPT reset"`, "unexpected quote"},
		{`smtp RCPT =x reset`, "malformed field"},
		{`smtp RCPT hang=1`, "takes no value"},
		{`smtp RCPT truncate=-1`, "bytes ≥ 0"},
	}
	for _, tc := range tests {
		_, err := fault.ParseRule(tc.line)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRule(%q) = %v; want an error containing %q", tc.line, err, tc.want)
		}
	}
}

func TestParse(t *testing.T) {
	const file = `# faults for the retry tests

smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"   # refused
  smtp DATA reply="451 4.3.0 try later" first=1
udp datagram drop prob=0.5
`
	rules, err := fault.Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 || rules[0].Rcpt != "*@fail.test" || rules[1].First != 1 || rules[2].Kind != fault.KindDrop {
		t.Errorf("Parse() = %+v; want the three rules of the file", rules)
	}
}

func TestParse_lineNumber(t *testing.T) {
	_, err := fault.Parse(strings.NewReader("# one\nsmtp RCPT reset\n\nsmtp RCPT reply=oops\n"))
	var pe *fault.ParseError
	if !errors.As(err, &pe) || pe.Line != 4 || !strings.HasPrefix(err.Error(), "line 4: ") {
		t.Fatalf("Parse() = %v; want a *ParseError on line 4", err)
	}
	_, err = fault.Parse(strings.NewReader("smtp RCPT reset\n" + strings.Repeat("x", 5000) + "\n"))
	if !errors.As(err, &pe) || pe.Line != 2 {
		t.Fatalf("Parse(long line) = %v; want a *ParseError on line 2", err)
	}
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{
		`smtp RCPT to=*@fail.test reply="550 5.1.1 no such user" first=3`,
		`imap FETCH close="* BYE [UNAVAILABLE] going away" user=alice`,
		`pop3 RETR reset client=10.0.0.0/8 delay=1s prob=0.5 every=2 after=1m for=1h`,
		`ftp data reply="425 Can't open data connection."`,
		`http /api/ reply="503 x" trickle=10`,
		`udp datagram reorder`,
		`smtp DATA disk-full # c`,
		`nntp ARTICLE truncate=0`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := fault.ParseRule(line)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRule(%q) = %+v, which Validate refuses: %v", line, r, err)
		}
		s := r.String()
		back, err := fault.ParseRule(s)
		if err != nil {
			t.Fatalf("ParseRule(%q) = %+v; its String() %q does not parse: %v", line, r, s, err)
		}
		if diff := cmp.Diff(r, back, prefixes); diff != "" {
			t.Fatalf("round trip of %q through %q (-want +got):\n%s", line, s, diff)
		}
	})
}
