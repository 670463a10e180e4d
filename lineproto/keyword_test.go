package lineproto_test

import (
	"testing"

	"github.com/inetkit/inetkit/lineproto"
)

func TestUpperASCII(t *testing.T) {
	for in, want := range map[string]string{
		"":          "",
		"noop":      "NOOP",
		"NOOP":      "NOOP",
		"Auth tls":  "AUTH TLS",
		"ſtat":      "ſTAT",
		"ı":         "ı",
		"straße":    "STRAßE",
		"\xff\xfeq": "\xff\xfeQ",
	} {
		if got := lineproto.UpperASCII(in); got != want {
			t.Errorf("UpperASCII(%q) = %q; want %q", in, got, want)
		}
	}
}
