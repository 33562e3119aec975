package console_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/distkv-go/distkv/core/path"
	"github.com/distkv-go/distkv/errlog"
)

// chrome starts Debian's chromium, headless, on its own profile, and
// returns a browser tab's context.
func chrome(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the chromium binary is missing (%v): apt-get install -y chromium", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844), // a phone
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab drives the page and waits for what it shows.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage: %s", err, b.text())
	}
}

// text is the page's visible text, for failure messages.
func (b *tab) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	return s
}

// wait polls a JavaScript expression until it is true.
func (b *tab) wait(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s (%s; %v)\npage: %s", what, expr, err, b.text())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (b *tab) click(sel string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

func (b *tab) login(name, password string) {
	b.t.Helper()
	b.wait("the login form", `!document.getElementById("login").hidden`)
	b.typeIn("#login-name", name)
	b.typeIn("#login-password", password)
	b.click(`#login button[type=submit]`)
	b.wait("the logged-in page", `!document.getElementById("nav").hidden`)
}

// typeIn replaces the text of an input field by keystrokes.
func (b *tab) typeIn(sel, text string) {
	b.t.Helper()
	b.wait(sel, `document.querySelector(`+js(sel)+`)`)
	b.eval(`document.querySelector(` + js(sel) + `).value = ""`)
	b.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

func (b *tab) eval(expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](expr)); err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
}
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// valueIs is an expression: the entry view shows v.
func valueIs(v string) string {
	return `document.getElementById("value") && document.getElementById("value").textContent === ` + js(v)
}

// TestBrowser drives the console in a real browser (Debian's chromium):
// log in, browse to an entry, see it change live, edit it, meet a
// conflict, resolve an error, and see a restricted user's view.
func TestBrowser(t *testing.T) {
	ctx := chrome(t)
	e := newEnv(t)
	e.set("home.lamp", "off")
	e.set("home.door", "closed")
	e.set("home.secret", "the key is under the mat")
	e.addUser("password", "joe", "joe's pw", "")
	e.addUser("password", "ann", "ann's pw", "guest")
	e.rule("guest", "home", "rxe")
	e.rule("guest", "home.lamp", "rxe")
	e.rule("guest", "home.door", "rxe")
	l, err := errlog.Open(ctxT(t), e.root, "one")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Record(ctxT(t), errlog.Failure{Path: path.P("home.lamp"), Subsystem: "run", Severity: errlog.Severity(1), Message: "Owch"}); err != nil {
		t.Fatal(err)
	}

	e.loginsOn("password")
	joe := e.as("joe", "joe's pw") // "a client"
	set := func(p, v string) {
		t.Helper()
		if _, err := joe.Set(ctxT(t), path.P(p), v); err != nil {
			t.Fatal(err)
		}
	}
	b := &tab{t: t, ctx: ctx}
	b.do(chromedp.Navigate(e.http.URL + "/"))
	b.login("joe", "joe's pw")

	// Browse to the entry, through its parent's children.
	b.do(chromedp.Navigate(e.http.URL + "/#/tree/home"))
	b.wait("the children of home", `document.querySelector('li[data-path="home.lamp"] button')`)
	b.click(`li[data-path="home.lamp"] button`)
	b.wait("the lamp's value", valueIs(format(t, `"off"`)))
	b.wait("the watch", `document.getElementById("live").classList.contains("on")`)

	// A client changes it: the page shows it.
	set("home.lamp", "on")
	b.wait("the live change", valueIs(format(t, `"on"`)))

	// Edit it.
	b.click("#edit")
	b.typeIn("#edit-value", `"dim"`)
	b.click("#save")
	b.wait("the saved value", valueIs(format(t, `"dim"`)))
	if got, err := joe.Get(ctxT(t), path.P("home.lamp")); err != nil || string(got.Raw) != "\xa3dim" {
		t.Fatalf("after the edit the server holds %q, %v", got.Raw, err)
	}

	// Edit again while a client changes it: a conflict, with the value now.
	b.click("#edit")
	b.typeIn("#edit-value", `"bright"`)
	set("home.lamp", "off again")
	b.click("#save")
	b.wait("the conflict", `document.getElementById("conflict") && document.getElementById("conflict-value").textContent === `+js(format(t, `"off again"`)))
	if got, err := joe.Get(ctxT(t), path.P("home.lamp")); err != nil || string(got.Raw) != "\xa9off again" {
		t.Fatalf("after the conflict the server holds %q, %v", got.Raw, err)
	}

	// Resolve the error.
	b.do(chromedp.Navigate(e.http.URL + "/#/errors"))
	b.wait("the open error", `document.querySelector('.error-record[data-resolved="false"] button.resolve')`)
	b.click(`.error-record[data-resolved="false"] button.resolve`)
	b.wait("the resolved error", `document.querySelector('.error-record[data-resolved="true"]')`)
	lst, err := errlog.Read(ctxT(t), joe, errlog.ReadOptions{})
	if err != nil || len(lst.Records) != 1 || !lst.Records[0].Resolved {
		t.Fatalf("error records after resolve: %+v, %v", lst.Records, err)
	}

	// The network: this server, no other, so no link.
	b.do(chromedp.Navigate(e.http.URL + "/#/network"))
	b.wait("the network page", `document.querySelector('.node[data-node="one"]') && document.body.innerText.includes("No other server is known.")`)

	// A restricted user sees only what its ACL lets it read.
	b.click("#logout")
	b.login("ann", "ann's pw")
	b.do(chromedp.Navigate(e.http.URL + "/#/tree/home"))
	b.wait("ann's children of home", `document.querySelector('li[data-path="home.door"]')`)
	b.wait("the whole list", `!document.querySelector("#children li.muted") && document.getElementById("more").hidden`)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#children li")].map(li => li.dataset.path)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0] != "home.door" || rows[1] != "home.lamp" {
		t.Fatalf("ann sees %v, want home.door and home.lamp only", rows)
	}
}
