package imapdtest

import (
	"slices"
	"strings"
	"testing"
)

func TestScriptOutcome(t *testing.T) {
	const sum = "\nbase protocol: 0/9 individual commands failed\nextensions: 0/0 individual commands failed\n"
	tests := []struct {
		name string
		log  string
		want scriptResult
	}{
		{"pass", "1 test groups: 0 failed, 0 skipped due to missing capabilities" + sum, "PASS"},
		{"fail", "*** Test select command 3/9 (line 7)\n - failed: Missing 1 untagged replies\n1 test groups: 1 failed, 0 skipped due to missing capabilities" + sum + "\n[exit status 2]\n", "FAIL"},
		{"skip", "1 test groups: 0 failed, 1 skipped due to missing capabilities" + sum, "SKIP"},
		{"error line", "Error: imaptest@example.org[1]: Keyword used without being in FLAGS: $k: * 5 FETCH (FLAGS ($k))\n1 test groups: 0 failed, 0 skipped due to missing capabilities" + sum, "FAIL"},
		{"killed", "*** Test select command 1/9\n\n[killed after 30s]\n", "ERROR"},
		{"empty", "", "ERROR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := scriptOutcome(tc.log); got != tc.want {
				t.Errorf("scriptOutcome(%q) = %s; want %s", tc.log, got, tc.want)
			}
		})
	}
}

func TestErrorKinds(t *testing.T) {
	errs := errorLines("Logi List\n" +
		"Error: u[8]: Keyword used without being in FLAGS: $label5: * 2 FETCH (UID 2 FLAGS ($label5))\n" +
		"Error: u[17]: Keyword used without being in FLAGS: $label1: * 3 FETCH (UID 3 FLAGS ($label1))\n" +
		"Error: u[9]: STORE didn't return FETCH FLAGS for seq 4 (expunged=?): 9.6 OK Store completed.\n" +
		"Error: u[9]: STORE didn't return FETCH FLAGS for seq 7 (expunged=?): 9.7 OK Store completed.\n" +
		"Error: APPEND failed: Broken pipe\n" +
		"1354  697  684\n")
	if len(errs) != 5 {
		t.Fatalf("errorLines found %d lines; want 5: %q", len(errs), errs)
	}
	got := errorKinds(errs, 2)
	for _, want := range []string{"2 × Keyword used without being in FLAGS", "2 × STORE didn't return FETCH FLAGS for seq N (expunged=?)", "1 more kinds"} {
		if !strings.Contains(got, want) {
			t.Errorf("errorKinds =\n%s\nwant it to contain %q", got, want)
		}
	}
	if n := len(errs) - len(slices.DeleteFunc(slices.Clone(errs), ownFlagsArtifact)); n != 2 {
		t.Errorf("ownFlagsArtifact matched %d lines; want the 2 STORE lines", n)
	}
}
