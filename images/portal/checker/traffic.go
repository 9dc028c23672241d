package checker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

var siteLink = regexp.MustCompile(`href="/p/([a-z0-9]{1,40})/"`)

// ParseSiteLinks reads the component portals a page links to
// (href="/p/CODE/"), each once, in the page's order.
func ParseSiteLinks(page []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range siteLink.FindAllSubmatch(page, 1000) {
		if code := string(m[1]); !seen[code] {
			seen[code] = true
			out = append(out, code)
		}
	}
	return out
}

// sites reads the component portals the main portal's home page links to,
// as a visitor who starts there sees them.
func (c *Checker) sites(ctx context.Context, pc *portalclient.Client) ([]string, error) {
	home, err := pc.Get(ctx, "/")
	if err != nil {
		return nil, failed("home page", err)
	}
	list := ParseSiteLinks(home)
	if len(list) == 0 {
		return nil, taskrun.Mumble("home page links no component portal")
	}
	return list, nil
}

// errand is an ordinary piece of the public's business with one
// component portal: noise, and havoc's dossiers.
type errand struct {
	r      *rand.Rand
	who    citizen
	site   uint64
	proc   uint64
	reader uint64
	ref    string // a line of the text that identifies it
	topic  string
}

func (c *Checker) errand(parts ...string) errand {
	r := c.tasks.Rand(parts...)
	e := errand{r: r, who: newCitizen(r), site: r.Uint64(), proc: r.Uint64(), reader: r.Uint64(), topic: corpus.Topic(r)}
	e.ref = fmt.Sprintf("Số biên nhận giấy tờ: %d/%d", 1000+r.IntN(9000), 2024)
	return e
}

func (e errand) subject() string { return "Hỏi về " + e.topic }

func (c *Checker) putNoise(ctx context.Context, tg target, t checks.Task) error {
	e := c.errand("noise", t.TaskChainID)
	pc := c.citizenBrowser(tg, e.r)
	defer pc.Close()
	sites, err := c.sites(ctx, pc)
	if err != nil {
		return err
	}
	site := sites[e.site%uint64(len(sites))]
	if _, err := pc.Get(ctx, "/p/"+site+"/"); err != nil {
		return failed("component portal", err)
	}
	c.tasks.Pause(ctx, e.r)
	switch t.VariantID % noiseVariants {
	case 0:
		proc, err := c.procedure(ctx, pc, site, e.proc)
		if err != nil {
			return err
		}
		c.tasks.Pause(ctx, e.r)
		_, err = pc.Submit(ctx, portalclient.Dossier{Procedure: proc.ID, Applicant: e.who.name, CitizenID: e.who.id,
			Phone: e.who.phone, Address: e.who.address, Notes: pick(e.r, dossierNotes) + "\n" + e.ref})
		return failed("dossier submission", err)
	default:
		if _, err := pc.Get(ctx, "/lien-he?site="+site); err != nil {
			return failed("contact page", err)
		}
		c.tasks.Pause(ctx, e.r)
		body := fmt.Sprintf("Kính gửi quý cơ quan,\n\nTôi là %s, xin hỏi về %s.\n%s\n\nXin cảm ơn.", e.who.name, e.topic, e.ref)
		_, err := pc.Contact(ctx, site, e.who.name, e.who.email, e.subject(), body)
		return failed("contact form", err)
	}
}

func (c *Checker) getNoise(ctx context.Context, tg target, t checks.Task) error {
	e := c.errand("noise", t.TaskChainID)
	pc := c.browser(tg, e.r)
	sites, err := c.sites(ctx, pc)
	if err != nil {
		pc.Close()
		return err
	}
	site := sites[e.site%uint64(len(sites))]
	list, err := c.officers(ctx, pc, site)
	pc.Close()
	if err != nil {
		return err
	}
	switch t.VariantID % noiseVariants {
	case 0:
		oc, err := c.officerLogin(ctx, tg, e.r, officerOf(list, e.reader).User)
		if err != nil {
			return err
		}
		defer oc.Close()
		d, err := findDossier(ctx, oc, e.who)
		if err != nil {
			return err
		}
		if !strings.Contains(d.Notes, e.ref) {
			return taskrun.Mumble("noise dossier was altered")
		}
		c.tasks.Pause(ctx, e.r)
		cc := c.citizenBrowser(tg, e.r)
		defer cc.Close()
		st, err := cc.Lookup(ctx, d.Code, e.who.id)
		if err != nil {
			return failed("dossier lookup", err)
		}
		if st.Applicant != e.who.name {
			return taskrun.Mumble("dossier lookup shows another applicant")
		}
		return nil
	default:
		oc, err := c.officerLogin(ctx, tg, e.r, pickClerk(e.r, list).User)
		if err != nil {
			return err
		}
		defer oc.Close()
		msgs, err := oc.Inbox(ctx)
		if err != nil {
			return failed("contact inbox", err)
		}
		for _, m := range msgs {
			if m.Subject == e.subject() && m.Sender == e.who.name && strings.Contains(m.Body, e.ref) {
				return nil
			}
		}
		return taskrun.Mumble("noise message not found in the contact inbox")
	}
}

func (c *Checker) havoc(ctx context.Context, tg target, t checks.Task) error {
	switch t.VariantID % havocVariants {
	case 0:
		return c.havocBrowse(ctx, tg, t)
	case 1:
		return c.havocDossier(ctx, tg, t)
	default:
		return c.havocOffice(ctx, tg, t)
	}
}

// searchWords are what visitors type into the news search.
var searchWords = []string{"chuyển đổi số", "tuyển sinh", "thiên tai", "nông thôn mới", "cải cách hành chính", "dịch vụ công", "đầu tư", "môi trường", "giải ngân", "an toàn thông tin"}

// newsLink finds the news items a page links to.
var newsLink = regexp.MustCompile(`href="/tin-tuc/([0-9]{1,12})"`)

// havocBrowse is a visitor reading the portal: the home page, a component
// portal, a news item, the news search, the documents and the procedures
// catalogue.
func (c *Checker) havocBrowse(ctx context.Context, tg target, t checks.Task) error {
	r := c.tasks.Rand("havoc", t.TaskChainID, fmt.Sprint(c.cfg.Now().UnixNano()))
	pc := c.citizenBrowser(tg, r)
	defer pc.Close()
	sites, err := c.sites(ctx, pc)
	if err != nil {
		return err
	}
	site := pick(r, sites)
	page, err := pc.Get(ctx, "/p/"+site+"/")
	if err != nil {
		return failed("component portal", err)
	}
	c.tasks.Pause(ctx, r)
	if m := newsLink.FindAllSubmatch(page, 20); len(m) > 0 {
		if _, err := pc.Get(ctx, "/tin-tuc/"+string(pick(r, m)[1])); err != nil {
			return failed("news item", err)
		}
		c.tasks.Pause(ctx, r)
	} else {
		return taskrun.Mumble("component portal %s shows no news", site)
	}
	page, err = pc.Get(ctx, "/tim-kiem?"+url.Values{"q": {pick(r, searchWords)}}.Encode())
	if err != nil {
		return failed("news search", err)
	}
	if !strings.Contains(string(page), "Kết quả cho") {
		return taskrun.Mumble("news search shows no results page")
	}
	c.tasks.Pause(ctx, r)
	if _, err := pc.Get(ctx, "/van-ban?site="+site); err != nil {
		return failed("documents", err)
	}
	procs, err := pc.Procedures(ctx, site)
	if err != nil {
		return failed("procedures catalogue", err)
	}
	if len(procs) == 0 {
		return taskrun.Mumble("procedures catalogue of %s is empty", site)
	}
	if _, err := pc.Get(ctx, "/dich-vu-cong/thu-tuc/"+strconv.FormatInt(pick(r, procs).ID, 10)); err != nil {
		return failed("procedure page", err)
	}
	return nil
}

// havocDossier is a citizen submitting a dossier and looking it up with
// the receipt code and citizen ID, as the receipt tells her to.
func (c *Checker) havocDossier(ctx context.Context, tg target, t checks.Task) error {
	e := c.errand("havoc", t.TaskChainID, fmt.Sprint(c.cfg.Now().UnixNano()))
	pc := c.citizenBrowser(tg, e.r)
	defer pc.Close()
	sites, err := c.sites(ctx, pc)
	if err != nil {
		return err
	}
	site := sites[e.site%uint64(len(sites))]
	if _, err := pc.Get(ctx, "/dich-vu-cong/thu-tuc?site="+site); err != nil {
		return failed("procedures page", err)
	}
	proc, err := c.procedure(ctx, pc, site, e.proc)
	if err != nil {
		return err
	}
	c.tasks.Pause(ctx, e.r)
	code, err := pc.Submit(ctx, portalclient.Dossier{Procedure: proc.ID, Applicant: e.who.name, CitizenID: e.who.id,
		Phone: e.who.phone, Address: e.who.address, Notes: pick(e.r, dossierNotes)})
	if err != nil {
		return failed("dossier submission", err)
	}
	c.tasks.Pause(ctx, e.r)
	if _, err := pc.Get(ctx, "/dich-vu-cong/tra-cuu"); err != nil {
		return failed("lookup page", err)
	}
	st, err := pc.Lookup(ctx, code, e.who.id)
	if err != nil {
		return failed("dossier lookup", err)
	}
	if st.Code != code || st.Applicant != e.who.name || st.CitizenID != e.who.id {
		return taskrun.Mumble("dossier lookup shows another dossier")
	}
	return nil
}

// havocOffice is an officer's morning in the back office: the dossier
// queue, a dossier, the drafts, the contact inbox, and a new draft now
// and then.
func (c *Checker) havocOffice(ctx context.Context, tg target, t checks.Task) error {
	r := c.tasks.Rand("havoc", t.TaskChainID, fmt.Sprint(c.cfg.Now().UnixNano()))
	pc := c.browser(tg, r)
	sites, err := c.sites(ctx, pc)
	if err != nil {
		pc.Close()
		return err
	}
	site := pick(r, sites)
	list, err := c.officers(ctx, pc, site)
	pc.Close()
	if err != nil {
		return err
	}
	o := pick(r, list)
	oc, err := c.officerLogin(ctx, tg, r, o.User)
	if err != nil {
		return err
	}
	defer oc.Close()
	queue, err := oc.Get(ctx, "/mot-cua/")
	if err != nil {
		return failed("dossier queue", err)
	}
	if !strings.Contains(string(queue), o.User) {
		return taskrun.Mumble("back office does not show the officer")
	}
	c.tasks.Pause(ctx, r)
	dossiers, err := oc.Dossiers(ctx)
	if err != nil {
		return failed("dossier queue", err)
	}
	if len(dossiers) > 0 {
		if m := dossierLink.FindAllSubmatch(queue, 50); len(m) > 0 {
			if _, err := oc.Get(ctx, "/mot-cua/ho-so/"+string(pick(r, m)[1])); err != nil {
				return failed("dossier page", err)
			}
			c.tasks.Pause(ctx, r)
		}
	}
	if _, err := oc.Get(ctx, "/mot-cua/du-thao"); err != nil {
		return failed("drafts page", err)
	}
	if r.IntN(3) == 0 {
		title := fmt.Sprintf("Dự thảo %s %s (lần %d)", pick(r, []string{"Kế hoạch", "Báo cáo", "Công văn về"}), corpus.Topic(r), 1+r.IntN(3))
		id, err := oc.SaveDraft(ctx, title, corpus.Body(r, corpus.NewPerson(r), corpus.Signature{Name: o.Name, Title: o.Title, Agency: site, Phone: o.Phone}, ""))
		if err != nil {
			return failed("draft save", err)
		}
		drafts, err := oc.Drafts(ctx)
		if err != nil {
			return failed("drafts", err)
		}
		if !slices.ContainsFunc(drafts, func(d portalclient.Draft) bool { return d.ID == id && d.Title == title }) {
			return taskrun.Mumble("a saved draft is not among the agency's drafts")
		}
	}
	c.tasks.Pause(ctx, r)
	if _, err := oc.Get(ctx, "/mot-cua/hop-thu"); err != nil {
		return failed("contact inbox page", err)
	}
	if _, err := oc.Get(ctx, "/mot-cua/dang-xuat"); err != nil && !isRedirect(err) {
		return failed("logout", err)
	}
	return nil
}

var dossierLink = regexp.MustCompile(`href="/mot-cua/ho-so/([0-9]{1,12})"`)

// isRedirect reports whether err is only the redirect a page answers with.
func isRedirect(err error) bool {
	var se *portalclient.StatusError
	return errors.As(err, &se) && se.Code >= 300 && se.Code < 400
}
