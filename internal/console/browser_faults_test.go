package console

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/inetkit/inetkit/fault"
)

// TestBrowserFaults drives the Faults page in a headless Chromium: an
// example fills the form, the form adds the rule, the counters follow the
// rule's without a reload, a rule added elsewhere shows the notice to
// reload, and the page fits a phone's screen. Screenshots go where
// TestBrowser's do (INETKIT_SCREENSHOTS).
func TestBrowserFaults(t *testing.T) {
	exe := chromiumPath(t)
	shots := os.Getenv("INETKIT_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	set := testFaults(t, 7, `smtp RCPT to=*@fail.test reply="550 5.1.1 no such user"`, "pop3 RETR user=alice* reset prob=0.5")
	tc := newTestConsole(t, withFaults(set))
	base := tc.HTTP.URL

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.WindowSize(1280, 800))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	ctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	run("open the Faults page", chromedp.Navigate(base+"/faults"), chromedp.WaitVisible(chromedp.CSS("#fault-rules")))
	poll("the notice hidden", `document.getElementById("faults-changed").hidden && getComputedStyle(document.getElementById("faults-changed")).display === "none"`)
	run("use the first example", chromedp.Click(chromedp.CSS("#fault-help summary")), chromedp.Click(chromedp.CSS(`[data-fill="rules"]`)))
	poll("the example in the form", `document.getElementById("rules").value === 'smtp DATA reply="451 4.3.0 try again later" first=1'`)
	run("add it", chromedp.Click(chromedp.CSS(`form[action="/faults"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`[data-fault="3"]`)))
	poll("the notice of the add", `document.querySelector(".flash").textContent === "Added 1 fault rule."`)
	if got := set.Rules(); len(got) != 3 || got[2].Rule.String() != `smtp DATA reply="451 4.3.0 try again later" first=1` {
		t.Fatalf("after the form, the rules are %+v", got)
	}
	run("mark the page", chromedp.Evaluate[chromedp.Void](`window.noReload = true`))

	set.Fire(fault.Point{Service: "smtp", Moment: "DATA"})
	set.Fire(fault.Point{Service: "smtp", Moment: "DATA"})
	poll("the counters without a reload", `document.querySelector('[data-fault="3"] .matched').textContent === "2" && `+
		`document.querySelector('[data-fault="3"] .fired').textContent === "1" && window.noReload === true`)
	shot("faults-desktop")

	if _, err := set.Add(fault.Rule{Service: "tcp", Moment: fault.MomentConnect, Kind: fault.KindReset}); err != nil {
		t.Fatal(err)
	}
	poll("the notice of rules changed elsewhere", `!document.getElementById("faults-changed").hidden`)

	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)),
		chromedp.Navigate(base+"/faults"), chromedp.WaitVisible(chromedp.CSS("#fault-rules")))
	poll("a page as wide as the phone", `document.documentElement.scrollWidth <= window.innerWidth`)
	shot("faults-phone")
	t.Logf("screenshots in %s", shots)
}
