package browser

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cyrange/cyrange/internal/browsertest"
	"github.com/cyrange/cyrange/scoreboard"
)

// auditJS lists what a page gets wrong for a keyboard or screen reader
// user: controls without a name, fields without a label, images without
// alt text, statuses shown by colour only, and text on badges below the
// WCAG AA contrast ratio.
const auditJS = `(() => {
	const bad = [];
	const name = (e) => (e.getAttribute('aria-label') || e.textContent || e.title || '').trim();
	for (const e of document.querySelectorAll('button, a[href], [role="button"]')) {
		if (!name(e)) bad.push('control without a name: ' + e.outerHTML.slice(0, 80));
	}
	for (const e of document.querySelectorAll('input, select, textarea')) {
		if (e.type === 'hidden') continue;
		const labelled = (e.id && document.querySelector('label[for="' + e.id + '"]')) || e.getAttribute('aria-label') || e.closest('label');
		if (!labelled) bad.push('field without a label: ' + e.outerHTML.slice(0, 80));
	}
	for (const e of document.querySelectorAll('img')) if (!e.hasAttribute('alt')) bad.push('image without alt: ' + e.src);
	for (const e of document.querySelectorAll('.st, .code')) if (!e.textContent.trim()) bad.push('status without text: ' + e.className);
	for (const e of document.querySelectorAll('.strip')) if (!e.getAttribute('aria-label')) bad.push('status strip without text');
	const text = document.body.innerText;
	for (const m of text.matchAll(/\b(undefined|null|NaN|\[object Object\])\b/g)) bad.push('placeholder value on the page: ' + m[0]);
	const keys = /\b(board|col|admin|team|flags|targets|def|det|logs|login|scoring|war|status|ticker|action|verdict|role|phase|banner|clock|conn|nav|lang|code|captures|strip|rank)\.[a-zA-Z]+\b/g;
	for (const m of text.matchAll(keys)) bad.push('untranslated text: ' + m[0]);
	const lum = (c) => {
		const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map((v) => {
			v = v / 255;
			return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
		});
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	for (const e of document.querySelectorAll('.st:not(.st-UNKNOWN), .code, .phase, button.primary, .button.primary, .rank-n')) {
		const s = getComputedStyle(e);
		if (s.backgroundColor === 'rgba(0, 0, 0, 0)') continue;
		const [a, b] = [lum(s.color), lum(s.backgroundColor)].sort((x, y) => y - x);
		const ratio = (a + 0.05) / (b + 0.05);
		if (ratio < 4.5) bad.push('contrast ' + ratio.toFixed(2) + ' on ' + e.className + ' "' + e.textContent.trim() + '"');
	}
	return bad;
})()`

func TestAccessibility(t *testing.T) {
	srv := newServer(t)
	srv.play(5)
	pages := []struct {
		path, token, ready string
	}{
		{"/", "", `document.querySelectorAll('#matrix .st').length > 0`},
		{"/war.html", "", `document.querySelectorAll('#war .badge').length > 0`},
		{"/scoring.html", "", `document.querySelectorAll('.formula').length > 0`},
		{"/team.html", "", `!document.getElementById('login-box').hidden`},
		{"/team.html", srv.teamToken(2), `document.querySelectorAll('#targets tr').length > 1`},
		{"/team.html", srv.teamToken(defenceTeam()), `document.querySelectorAll('#services .st').length === 2`},
		{"/admin.html", srv.toks.OrganizerToken(), `document.querySelectorAll('#tokens-table tr').length > 1`},
	}
	for i, p := range pages {
		tb := newTab(t, 1280, 900)
		if p.token == "" {
			tb.Open(srv.url + p.path)
		} else {
			tb.login(srv.url+p.path, p.token)
		}
		tb.WaitJS(p.path, p.ready, 5*time.Second)
		if i == 0 {
			// The audit must be able to fail.
			got := eval[[]string](tb, `(() => { const b = document.createElement('button'); const s = document.createElement('span');
				const p = document.createElement('p'); p.textContent = 'admin.missing null';
				s.className = 'st st-OK'; document.body.append(b, s, p); const r = `+auditJS+`; b.remove(); s.remove(); p.remove(); return r; })()`)
			if len(got) != 4 {
				t.Errorf("the audit found %q in a nameless button, an empty badge, an untranslated key and a null", got)
			}
		}
		for _, b := range eval[[]string](tb, auditJS) {
			t.Errorf("%s: %s", p.path, b)
		}
		// The same in English.
		tb.Run("English", browsertest.Press("#lang"))
		tb.WaitJS("English", `document.documentElement.lang === 'en'`, 2*time.Second)
		for _, b := range eval[[]string](tb, auditJS) {
			t.Errorf("%s in English: %s", p.path, b)
		}
		tb.Close()
	}

	// The keyboard reaches the content first through the skip link, and
	// the language switch like any button.
	tb := newTab(t, 1280, 900)
	tb.Open(srv.url + "/")
	tb.waitLive(10 * time.Second)
	tb.Run("tab", chromedp.KeyEvent("\t"))
	if got := eval[string](tb, `document.activeElement.className + ':' + document.activeElement.getAttribute('href')`); got != "skip:#main" {
		t.Errorf("first Tab lands on %q, want the skip link", got)
	}
	tb.Run("focus the language switch", chromedp.Focus(chromedp.CSS("#lang")), chromedp.KeyEvent("\r"))
	tb.WaitJS("English after Enter", `document.documentElement.lang === 'en'`, 2*time.Second)
	tb.Run("and back with Space", chromedp.KeyEvent(" "))
	tb.WaitJS("Vietnamese after Space", `document.documentElement.lang === 'vi'`, 2*time.Second)

	tb.Close()
	// The organizer's confirmation opens with the safe choice focused and
	// Escape cancels it.
	org := newTab(t, 1280, 900)
	fresh := newServer(t)
	org.login(fresh.url+"/admin.html", fresh.toks.OrganizerToken())
	org.WaitJS("the start button", `!document.querySelector('button[data-action="start"]').disabled`, 5*time.Second)
	org.Run("start", browsertest.Press(`button[data-action="start"]`), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if got := eval[string](org, `document.activeElement.id`); got != "confirm-cancel" {
		t.Errorf("the confirmation focuses %q, want the cancel button", got)
	}
	org.Run("escape", chromedp.KeyEvent("\x1b"))
	org.WaitJS("the dialog closed", `!document.getElementById('confirm').open`, 2*time.Second)
	if p, _ := fresh.game.Phase(); p != scoreboard.PhaseSetup {
		t.Errorf("phase %v after Escape", p)
	}
}
