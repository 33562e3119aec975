package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/chromedp"
)

// defaultConsoleChildren is the children of the node the console
// workload opens, when -n is not given.
const defaultConsoleChildren = 10_000

// consoleLoad measures the web console in a real browser (Debian's
// chromium, headless, a fresh profile per run, a phone's screen): how
// long its first page takes until the root's first rows show, and the
// bytes it transferred; then, after filling --prefix with -n children,
// how long opening that node takes until its first page of rows shows,
// and loading four more pages (the More button that scrolling to the end
// of the list presses).
func (b *bench) consoleLoad(ctx context.Context, res *Result) error {
	n := b.cli.Requests
	if n <= 0 {
		n = defaultConsoleChildren
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		return fmt.Errorf("the console workload drives Debian's chromium: %w (apt-get install chromium)", err)
	}
	t, _, err := b.launch.start(ctx, startOpts{http: true})
	if err != nil {
		return err
	}
	defer t.close()
	st, err := newDriver(b.fillSpec(t.addr, n, 16, 16), newClock()).run(ctx)
	if err != nil {
		return fmt.Errorf("fill %d children: %w", n, err)
	}
	if st.errors > 0 {
		return fmt.Errorf("fill %d children: %d errors, the first: %s", n, st.errors, st.firstErr)
	}
	res.Ops = n

	dir, err := os.MkdirTemp(b.dir, "chromium-")
	if err != nil {
		return err
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// This machine's network is closed: no background traffic.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(dir), chromedp.WindowSize(390, 844))
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	const rows = `document.querySelectorAll('#children li[data-path]').length`
	base := "http://" + t.http + "/"

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"#/tree/:")); err != nil {
		return err
	}
	if err := waitJS(bctx, "the root's rows", rows+` > 0`); err != nil {
		return err
	}
	res.PageMs = ms64(time.Since(start))
	sent, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((s, e) => s + e.transferSize, 0)`))
	if err != nil {
		return err
	}
	res.PageBytes = int64(sent)

	// A new query makes it a new page, not a move within this one.
	start = time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"?node#/tree/"+b.cli.Prefix)); err != nil {
		return err
	}
	if err := waitJS(bctx, "the node's first rows", fmt.Sprintf("%s >= %d", rows, min(100, n))); err != nil {
		return err
	}
	res.NodeMs = ms64(time.Since(start))
	start = time.Now()
	for want := int64(200); want < n+100 && want <= 500; want += 100 {
		// Scrolling to the end presses More (an IntersectionObserver);
		// pressing it here does not wait for the observer's next frame.
		if err := chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("more").click()`)); err != nil {
			return err
		}
		if err := waitJS(bctx, fmt.Sprintf("%d rows", min(want, n)), fmt.Sprintf("%s >= %d", rows, min(want, n))); err != nil {
			return err
		}
	}
	res.ScrollMs = ms64(time.Since(start))
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[float64](rows))
	if err != nil {
		return err
	}
	res.RowsShown = int64(shown)
	return nil
}

// waitJS polls a JavaScript expression until it is true, for up to 30 s.
func waitJS(ctx context.Context, what, expr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		switch {
		case err == nil && ok:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case time.Now().After(deadline):
			return errors.Join(fmt.Errorf("the console showed no %s within 30 s", what), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ms64(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
