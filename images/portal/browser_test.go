package portal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/internal/browsertest"
)

// The portal as a citizen and an officer see it in a real Chromium: the
// pages are reached over HTTP only, as a visitor's browser reaches them,
// and the tests read what the browser built (the DOM), not the HTML the
// server sent.

const (
	province         = "Lạc Hồng"
	operatorPassword = "operator-pw-123"
	officerPassword  = "Mk-cong-vu-2024"
	// The citizen who submits a dossier: a name with Vietnamese
	// diacritics, typed key by key, must come back the same.
	applicant = "Trần Thị Ngọc Ánh"
	citizenID = "087301004512"
	decision  = "Cấp Giấy chứng nhận số 1234/GCN-UBND"
)

// startPortal starts a small province with communes (45 sites: the main
// portal, 18 departments, 11 districts, then communes), on 127.0.0.1. Its
// clock stands still, so that the dates the pages show, and with them the
// README's screenshots, are the same at every run.
func startPortal(t *testing.T) *portal.Server {
	t.Helper()
	now := time.Date(2024, time.November, 20, 9, 30, 0, 0, time.FixedZone("ICT", 7*60*60))
	s, err := portal.New(context.Background(), portal.Config{Listen: "127.0.0.1", Sites: 45, Dossiers: 1000, Seed: 5,
		Province: province, OperatorPassword: operatorPassword, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		_ = s.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// checkPage fails the test unless the page loaded with 200 and is a
// whole page of the portal: in Vietnamese, with its banner and footer,
// a main heading that starts with h1, and no trace of a template that
// failed or printed a value it should not have.
func checkPage(tb *browsertest.Tab, what string, resp *network.Response, h1 string) {
	tb.T.Helper()
	if resp == nil || resp.Status != 200 {
		status := int64(0)
		if resp != nil {
			status = resp.Status
		}
		tb.T.Fatalf("%s: HTTP %d at %s", what, status, browsertest.Eval[string](tb, `location.href`))
	}
	page := browsertest.Eval[map[string]string](tb, `({
		lang: document.documentElement.lang,
		charset: document.characterSet,
		title: document.title,
		banner: document.querySelector('header strong')?.textContent ?? '',
		footer: document.querySelector('footer')?.textContent ?? '',
		h1: document.querySelector('main h1')?.textContent ?? '',
		text: document.body.innerText,
	})`)
	if page["lang"] != "vi" || page["charset"] != "UTF-8" {
		tb.T.Errorf("%s: lang %q, charset %q", what, page["lang"], page["charset"])
	}
	if page["title"] != "Cổng Thông tin điện tử tỉnh "+province {
		tb.T.Errorf("%s: title %q", what, page["title"])
	}
	if page["banner"] != "CỔNG THÔNG TIN ĐIỆN TỬ TỈNH LẠC HỒNG" {
		tb.T.Errorf("%s: banner %q", what, page["banner"])
	}
	if !strings.Contains(page["footer"], "Cơ quan chủ quản: UBND tỉnh "+province) {
		tb.T.Errorf("%s: footer %q", what, page["footer"])
	}
	if !strings.HasPrefix(page["h1"], h1) {
		tb.T.Errorf("%s: heading %q, want it to start with %q", what, page["h1"], h1)
	}
	for _, bad := range []string{"{{", "}}", "<no value>", "ZgotmplZ", "%!", "Lỗi hệ thống", "map[", "&lt;", "&amp;"} {
		if strings.Contains(page["text"], bad) {
			tb.T.Errorf("%s: the page shows %q:\n%s", what, bad, page["text"])
		}
	}
}

// texts lists the trimmed text of every element sel matches.
func texts(tb *browsertest.Tab, sel string) []string {
	tb.T.Helper()
	return browsertest.Eval[[]string](tb, fmt.Sprintf(`[...document.querySelectorAll(%q)].map((e) => e.textContent.trim())`, sel))
}

// table reads a two-column table (a heading cell, a value cell a row)
// into a map.
func table(tb *browsertest.Tab) map[string]string {
	tb.T.Helper()
	return browsertest.Eval[map[string]string](tb, `Object.fromEntries([...document.querySelectorAll('main table tr')]
		.filter((r) => r.querySelector('th') && r.querySelector('td'))
		.map((r) => [r.querySelector('th').textContent.trim(), r.querySelector('td').textContent.trim()]))`)
}

// click follows the link or submits with the button sel leads to.
func click(tb *browsertest.Tab, what, sel string) *network.Response {
	tb.T.Helper()
	return tb.Follow(what, chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text key by key into the field sel, as a person does.
func typeInto(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), text)
}

// linkTo is the selector of the first link in main whose text is text.
func linkTo(tb *browsertest.Tab, text string) string {
	tb.T.Helper()
	ok := browsertest.Eval[bool](tb, fmt.Sprintf(`(() => {
		document.querySelectorAll('[data-test-link]').forEach((e) => e.removeAttribute('data-test-link'));
		const a = [...document.querySelectorAll('main a')].find((a) => a.textContent.trim() === %q);
		if (a) a.setAttribute('data-test-link', '');
		return !!a;
	})()`, text))
	if !ok {
		tb.T.Fatalf("no link %q on %s", text, browsertest.Eval[string](tb, `location.href`))
	}
	return "main a[data-test-link]"
}

// shot saves a screenshot of the viewport, cut below the page's footer,
// to the test output folder, and returns it.
func shot(tb *browsertest.Tab, name string) []byte {
	tb.T.Helper()
	size := browsertest.Eval[[]int64](tb, `[innerWidth, innerHeight, Math.ceil(document.querySelector('footer').getBoundingClientRect().bottom)]`)
	w, h, bottom := size[0], size[1], size[2]
	if bottom < h {
		// No blank band under a short page; the layout keeps its width.
		tb.Run("fitting the page", chromedp.EmulateViewport(w, bottom))
		defer tb.Run("restoring the viewport", chromedp.EmulateViewport(w, h))
	}
	b := tb.Screenshot(false, 1)
	browsertest.Save(tb.T, browsertest.OutDir(tb.T), name, b)
	return b
}

// docShot is a shot that -update-docs also writes to docs/<name> for the
// README.
func docShot(tb *browsertest.Tab, name string) {
	tb.T.Helper()
	b := shot(tb, name)
	if browsertest.UpdatingDocs() {
		browsertest.SaveDoc(tb.T, name, b)
	}
}

// TestBrowserPortal walks the portal in Chromium: the main portal's
// home, a district's and a commune's component sites, the public
// services (the procedures' catalogue, a dossier submitted through the
// form and looked up), then the district's clerk logs in to the back
// office through the login form, finds the dossier at the head of the
// agency's queue and decides it, and the citizen's lookup shows the
// result.
func TestBrowserPortal(t *testing.T) {
	b := browsertest.Launch(t)
	srv := startPortal(t)
	base := "http://" + srv.AddrHTTP()

	// A district, as the main portal lists it among its component sites.
	var district struct{ name, path string }
	ok := t.Run("home", func(t *testing.T) {
		tb := b.NewTab(t, 1280, 800)
		resp := tb.Follow("opening the home page", chromedp.Navigate(base+"/"))
		checkPage(tb, "home", resp, "Cổng Thông tin điện tử tỉnh "+province)
		sections := texts(tb, "main h2")
		if strings.Join(sections, "|") != "Tin tức - Sự kiện|Thông báo|Cổng thành phần" {
			t.Errorf("sections %q", sections)
		}
		if news := texts(tb, "main h2:first-of-type + ul > li > a"); len(news) < 3 {
			t.Errorf("%d news on the home page: %q", len(news), news)
		}
		for _, link := range []string{"Văn bản chỉ đạo điều hành", "Thủ tục hành chính", "Danh bạ cán bộ", "Liên hệ - Góp ý"} {
			linkTo(tb, link)
		}
		children := browsertest.Eval[[][2]string](tb, `[...document.querySelectorAll('main h2:last-of-type + ul a')].map((a) => [a.textContent, a.getAttribute('href')])`)
		// The main portal lists the departments and the districts; the
		// communes are listed by their district.
		agencies, districts := 0, 0
		for _, c := range children {
			switch {
			case strings.HasPrefix(c[0], "UBND xã "):
				t.Errorf("the main portal lists the commune %q", c[0])
			case strings.HasPrefix(c[0], "UBND huyện "):
				districts++
				if district.name == "" {
					district.name, district.path = c[0], c[1]
				}
			default:
				agencies++
			}
			if !strings.HasPrefix(c[1], "/p/") {
				t.Errorf("the component site %q is at %q", c[0], c[1])
			}
		}
		if agencies == 0 || districts == 0 {
			t.Errorf("component sites: %d departments, %d districts: %q", agencies, districts, children)
		}
		docShot(tb, "portal-home.png")
	})
	if !ok || district.name == "" {
		return
	}

	t.Run("component sites", func(t *testing.T) {
		tb := b.NewTab(t, 1280, 800)
		tb.Follow("opening the home page", chromedp.Navigate(base+"/"))
		resp := click(tb, "opening the district's site", linkTo(tb, district.name))
		checkPage(tb, "the district's site", resp, district.name)
		if got := browsertest.Eval[string](tb, `location.pathname`); got != district.path {
			t.Errorf("the district's site is at %s, want %s", got, district.path)
		}
		communes := texts(tb, "main h2:last-of-type + ul a")
		if len(communes) == 0 {
			t.Fatal("the district lists no commune")
		}
		for _, c := range communes {
			if !strings.HasPrefix(c, "UBND xã ") {
				t.Errorf("the district lists %q among its communes", c)
			}
		}
		if len(texts(tb, "main h2:first-of-type + ul > li")) == 0 {
			t.Error("the district's site has no news")
		}
		resp = click(tb, "opening a commune's site", linkTo(tb, communes[0]))
		checkPage(tb, "the commune's site", resp, communes[0])
		if got := texts(tb, "main h2"); len(got) != 2 {
			t.Errorf("a commune's site has sections %q, want its news and announcements only", got)
		}
		shot(tb, "portal-commune.png")
	})

	// The citizen's dossier, submitted to the district.
	var receipt string
	ok = t.Run("public services", func(t *testing.T) {
		tb := b.NewTab(t, 1280, 800)
		tb.Follow("opening the district's site", chromedp.Navigate(base+district.path))
		resp := click(tb, "opening the catalogue", linkTo(tb, "Thủ tục hành chính"))
		checkPage(tb, "the catalogue", resp, "Thủ tục hành chính - "+district.name)
		rows := browsertest.Eval[[][]string](tb, `[...document.querySelectorAll('main table tr')].slice(1).map((r) => [...r.cells].map((c) => c.textContent.trim()))`)
		if len(rows) == 0 {
			t.Fatal("the catalogue lists no procedure")
		}
		for _, r := range rows {
			if len(r) != 5 || !strings.HasPrefix(r[0], "1.") || r[1] == "" || r[2] == "" || r[4] != "Nộp hồ sơ" {
				t.Errorf("catalogue row %q", r)
			}
		}
		shot(tb, "portal-catalogue.png")

		procedure := rows[0][1]
		resp = click(tb, "opening a procedure", "main table tr:nth-child(2) a")
		checkPage(tb, "the procedure", resp, procedure)
		tb.Run("filling the dossier in",
			typeInto(`input[name="applicant"]`, applicant),
			typeInto(`input[name="citizen_id"]`, citizenID),
			typeInto(`input[name="phone"]`, "0913456789"),
			typeInto(`input[name="address"]`, "Ấp Mỹ Lợi, xã Tân Phước"),
			typeInto(`textarea[name="notes"]`, "Đề nghị nhận kết quả trực tuyến."))
		resp = click(tb, "submitting the dossier", `main form button`)
		checkPage(tb, "the receipt", resp, "Tiếp nhận hồ sơ thành công")
		receipt = tb.Text("#receipt")
		if len(receipt) != 10 || !strings.HasPrefix(receipt, "HS") {
			t.Fatalf("receipt code %q", receipt)
		}

		resp = click(tb, "opening the lookup", linkTo(tb, "tra cứu tình trạng"))
		checkPage(tb, "the lookup", resp, "Tra cứu hồ sơ")
		got := lookUp(tb, receipt)
		for k, want := range map[string]string{"Mã hồ sơ": receipt, "Thủ tục": procedure, "Cơ quan": district.name,
			"Người nộp": applicant, "Số CCCD": citizenID, "Tình trạng": "Đã tiếp nhận"} {
			if got[k] != want {
				t.Errorf("lookup: %s is %q, want %q", k, got[k], want)
			}
		}
	})
	if !ok {
		return
	}

	ok = t.Run("back office", func(t *testing.T) {
		// The defence sets the clerk's password through the console, as
		// it would for an officer who forgot it.
		clerk := "vanthu." + strings.Trim(strings.TrimPrefix(district.path, "/p/"), "/")
		admin := portalclient.NewAdmin("http://"+srv.AddrAdmin(), nil, portal.OperatorUser, operatorPassword)
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ResetOfficer(ctx, clerk, officerPassword); err != nil {
			t.Fatal(err)
		}

		tb := b.NewTab(t, 1280, 800)
		tb.Follow("opening the home page", chromedp.Navigate(base+"/"))
		resp := click(tb, "opening the officers' login", `header a[href="/mot-cua/dang-nhap"]`)
		checkPage(tb, "the login", resp, "Đăng nhập hệ thống một cửa điện tử")
		tb.Run("typing the credentials", typeInto(`input[name="username"]`, clerk), typeInto(`input[name="password"]`, officerPassword))
		resp = click(tb, "logging in", `main form button`)
		checkPage(tb, "the queue", resp, "Hồ sơ của "+district.name)
		if got := browsertest.Eval[string](tb, `location.pathname`); got != "/mot-cua/" {
			t.Fatalf("after logging in the officer is at %s", got)
		}
		if nav := tb.Text("header"); !strings.Contains(nav, "Đăng xuất ("+clerk+")") || !strings.Contains(nav, "Hộp thư góp ý") {
			t.Errorf("the back office's menu reads %q", nav)
		}
		queue := browsertest.Eval[[][]string](tb, `[...document.querySelectorAll('main table tr')].slice(1).map((r) => [...r.cells].map((c) => c.textContent.trim()))`)
		if len(queue) < 2 {
			t.Fatalf("the queue has %d dossiers: %q", len(queue), queue)
		}
		if q := queue[0]; len(q) != 4 || q[0] != receipt || q[1] != applicant || q[3] != "Đã tiếp nhận" {
			t.Errorf("the newest dossier in the queue is %q, want the citizen's %s", q, receipt)
		}
		for _, q := range queue {
			if len(q) != 4 || !strings.HasPrefix(q[0], "HS") || q[1] == "" || q[3] == "" {
				t.Errorf("queue row %q", q)
			}
		}
		if counts := tb.Text("main h1 + p"); !strings.Contains(counts, "Đã tiếp nhận: ") {
			t.Errorf("the queue's counts read %q", counts)
		}
		docShot(tb, "portal-backoffice.png")

		// The dossier's page, and the decision in two steps of the
		// workflow.
		resp = click(tb, "opening the dossier", "main table tr:nth-child(2) a")
		checkPage(tb, "the dossier", resp, "Hồ sơ "+receipt)
		for _, step := range []struct{ status, note, label string }{
			{portal.StatusProcessing, "Đã kiểm tra thành phần hồ sơ", "Đang xử lý"},
			{portal.StatusApproved, decision, "Đã có kết quả"},
		} {
			tb.Run("choosing "+step.status, chromedp.SetValue(chromedp.CSS(`main select[name="status"]`), step.status),
				typeInto(`main input[name="result"]`, step.note))
			resp = click(tb, "moving the dossier to "+step.status, `main form button`)
			checkPage(tb, "the dossier", resp, "Hồ sơ "+receipt)
			if got := table(tb); got["Tình trạng"] != step.label || got["Cán bộ xử lý"] != clerk {
				t.Fatalf("after moving it to %s the dossier reads %q", step.status, got)
			}
		}
	})
	if !ok {
		return
	}

	t.Run("result", func(t *testing.T) {
		tb := b.NewTab(t, 1280, 800)
		tb.Follow("opening the home page", chromedp.Navigate(base+"/"))
		resp := click(tb, "opening the lookup", `header a[href="/dich-vu-cong/tra-cuu"]`)
		checkPage(tb, "the lookup", resp, "Tra cứu hồ sơ")
		if got := lookUp(tb, receipt); got["Tình trạng"] != "Đã có kết quả" || got["Người nộp"] != applicant {
			t.Errorf("the decided dossier reads %q", got)
		}
		link := linkTo(tb, "Tải kết quả giải quyết")
		text := browsertest.Eval[string](tb, fmt.Sprintf(`fetch(document.querySelector(%q).href).then((r) => r.ok ? r.text() : 'HTTP ' + r.status)`, link))
		for _, want := range []string{"KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", "Mã hồ sơ: " + receipt, "Người nộp: " + applicant, "Kết quả: " + decision} {
			if !strings.Contains(text, want) {
				t.Errorf("the result has no %q:\n%s", want, text)
			}
		}
		docShot(tb, "portal-services.png")
	})
}

// lookUp types a receipt code and the citizen's ID into the lookup form,
// sends it, and reads the dossier it finds.
func lookUp(tb *browsertest.Tab, code string) map[string]string {
	tb.T.Helper()
	tb.Run("typing the receipt code", typeInto(`main input[name="ma"]`, code), typeInto(`main input[name="cccd"]`, citizenID))
	resp := click(tb, "looking the dossier up", `main form button`)
	checkPage(tb, "the lookup's answer", resp, "Tra cứu hồ sơ")
	// The form's fields in their order; both values are URL-safe.
	want := "/dich-vu-cong/tra-cuu?ma=" + code + "&cccd=" + citizenID
	if got := browsertest.Eval[string](tb, `location.pathname + location.search`); got != want {
		tb.T.Errorf("the lookup went to %s, want %s", got, want)
	}
	got := table(tb)
	if len(got) == 0 {
		tb.T.Fatalf("the lookup found nothing: %s", tb.Text("main"))
	}
	return got
}
