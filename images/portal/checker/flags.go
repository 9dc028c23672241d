package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// plan is what a flag task of a chain does, the same for its putflag and
// its getflag: which citizen writes, under which title, and which of the
// main portal's officers writes and reads. Officers are drawn from the
// directory once it is read (whose order the replica's seed fixes).
type plan struct {
	r       *rand.Rand
	who     citizen
	topic   string
	title   string
	line    string
	writer  uint64
	reader  uint64
	proc    uint64
	subject string
}

func (c *Checker) plan(chain string) plan {
	r := c.tasks.Rand("flag", chain)
	p := plan{r: r, who: newCitizen(r), topic: corpus.Topic(r)}
	p.title = pick(r, draftTitles) + " " + p.topic
	p.line = pick(r, flagLines)
	p.writer, p.reader, p.proc = r.Uint64(), r.Uint64(), r.Uint64()
	p.subject = pick(r, contactSubjects) + " " + p.topic
	return p
}

func officerOf(list []Officer, n uint64) Officer { return list[n%uint64(len(list))] }

// flagLines are the places a flag takes in what the public and officers
// write: reference codes of the province's systems.
var flagLines = []string{
	"Mã hồ sơ liên thông: %s",
	"Mã định danh điện tử: %s",
	"Số hiệu văn bản trên hệ thống QLVB: %s",
	"Mã xác thực văn bản: %s",
	"Mã tra cứu hồ sơ một cửa: %s",
}

var draftTitles = []string{"Dự thảo Kế hoạch", "Dự thảo Quyết định về", "Dự thảo Báo cáo", "Dự thảo Tờ trình về", "Dự thảo Công văn về"}

var contactSubjects = []string{"Phản ánh về", "Kiến nghị về", "Hỏi về", "Góp ý về", "Đề nghị hướng dẫn về"}

var dossierNotes = []string{
	"Xin cấp bản sao có chứng thực.",
	"Đề nghị nhận kết quả qua dịch vụ bưu chính công ích.",
	"Hồ sơ bổ sung theo yêu cầu của cán bộ tiếp nhận.",
	"Tôi xin nhận kết quả trực tiếp tại Bộ phận một cửa.",
	"Kèm theo bản scan giấy tờ tùy thân.",
}

func (c *Checker) putFlag(ctx context.Context, tg target, t checks.Task) (string, error) {
	store, err := taskrun.Store(t, contract.Stores())
	if err != nil {
		return "", err
	}
	flag, err := taskrun.Flag(t)
	if err != nil {
		return "", err
	}
	p := c.plan(t.TaskChainID)
	line := fmt.Sprintf(p.line, flag)
	switch store {
	case contract.StoreDossier:
		// A citizen finds a procedure of the provincial office and
		// submits the dossier online.
		pc := c.citizenBrowser(tg, p.r)
		defer pc.Close()
		proc, err := c.procedure(ctx, pc, mainSite, p.proc)
		if err != nil {
			return "", err
		}
		c.tasks.Pause(ctx, p.r)
		code, err := pc.Submit(ctx, portalclient.Dossier{Procedure: proc.ID, Applicant: p.who.name, CitizenID: p.who.id,
			Phone: p.who.phone, Address: p.who.address, Notes: pick(p.r, dossierNotes) + "\n" + line,
			Files: map[string][]byte{"CCCD_" + p.who.id[len(p.who.id)-4:] + ".txt": []byte("Bản sao CCCD số " + p.who.id + "\n")}})
		if err != nil {
			return "", failed("dossier submission", err)
		}
		return code, nil
	case contract.StoreDraft:
		pc := c.browser(tg, p.r)
		list, err := c.officers(ctx, pc, mainSite)
		pc.Close()
		if err != nil {
			return "", err
		}
		writer := officerOf(list, p.writer)
		oc, err := c.officerLogin(ctx, tg, p.r, writer.User)
		if err != nil {
			return "", err
		}
		defer oc.Close()
		if _, err := oc.Get(ctx, "/mot-cua/du-thao"); err != nil {
			return "", failed("drafts page", err)
		}
		c.tasks.Pause(ctx, p.r)
		body := fmt.Sprintf("Căn cứ chỉ đạo của UBND tỉnh về %s,\n\n%s\n\nNơi nhận:\n- Như trên;\n- Lưu: VT.\n\nNgười soạn: %s", p.topic, line, writer.Name)
		if _, err := oc.SaveDraft(ctx, p.title, body); err != nil {
			return "", failed("draft save", err)
		}
		return mainSite, nil
	default:
		pc := c.citizenBrowser(tg, p.r)
		defer pc.Close()
		if _, err := pc.Get(ctx, "/lien-he?site="+mainSite); err != nil {
			return "", failed("contact page", err)
		}
		c.tasks.Pause(ctx, p.r)
		body := fmt.Sprintf("Kính gửi Văn phòng UBND tỉnh,\n\nTôi là %s, địa chỉ %s. Tôi xin %s về %s.\n%s\n\nXin trân trọng cảm ơn.",
			p.who.name, p.who.address, strings.ToLower(strings.TrimSuffix(pick(p.r, contactSubjects), " về")), p.topic, line)
		if _, err := pc.Contact(ctx, mainSite, p.who.name, p.who.email, p.subject, body); err != nil {
			return "", failed("contact form", err)
		}
		return mainSite, nil
	}
}

// procedure picks a procedure of site's catalogue by n, as a citizen
// finds it there and opens its page.
func (c *Checker) procedure(ctx context.Context, pc *portalclient.Client, site string, n uint64) (portalclient.Procedure, error) {
	list, err := pc.Procedures(ctx, site)
	if err != nil {
		return portalclient.Procedure{}, failed("procedures catalogue", err)
	}
	if len(list) == 0 {
		return portalclient.Procedure{}, taskrun.Mumble("procedures catalogue of %s is empty", site)
	}
	proc := list[n%uint64(len(list))]
	if _, err := pc.Get(ctx, "/dich-vu-cong/thu-tuc/"+strconv.FormatInt(proc.ID, 10)); err != nil {
		return portalclient.Procedure{}, failed("procedure page", err)
	}
	return proc, nil
}

func (c *Checker) getFlag(ctx context.Context, tg target, t checks.Task) error {
	store, err := taskrun.Store(t, contract.Stores())
	if err != nil {
		return err
	}
	flag, err := taskrun.Flag(t)
	if err != nil {
		return err
	}
	p := c.plan(t.TaskChainID)
	pc := c.browser(tg, p.r)
	list, err := c.officers(ctx, pc, mainSite)
	pc.Close()
	if err != nil {
		return err
	}
	switch store {
	case contract.StoreDossier:
		// An officer of the one-stop shop finds the dossier in the
		// queue; the citizen then looks it up with its receipt code and
		// citizen ID.
		oc, err := c.officerLogin(ctx, tg, p.r, officerOf(list, p.reader).User)
		if err != nil {
			return err
		}
		defer oc.Close()
		d, err := findDossier(ctx, oc, p.who)
		if err != nil {
			return err
		}
		if !strings.Contains(d.Notes, flag) {
			return taskrun.Mumble("dossier in the queue does not hold the flag")
		}
		c.tasks.Pause(ctx, p.r)
		cc := c.citizenBrowser(tg, p.r)
		defer cc.Close()
		st, err := cc.Lookup(ctx, d.Code, p.who.id)
		if err != nil {
			return failed("dossier lookup", err)
		}
		if st.Code != d.Code || !strings.Contains(st.Notes, flag) {
			return taskrun.Mumble("dossier lookup does not show the flag")
		}
		return nil
	case contract.StoreDraft:
		oc, err := c.officerLogin(ctx, tg, p.r, officerOf(list, p.reader).User)
		if err != nil {
			return err
		}
		defer oc.Close()
		drafts, err := oc.Drafts(ctx)
		if err != nil {
			return failed("drafts", err)
		}
		for _, d := range drafts {
			if d.Title != p.title {
				continue
			}
			c.tasks.Pause(ctx, p.r)
			if _, err := oc.Get(ctx, "/mot-cua/du-thao/"+strconv.FormatInt(d.ID, 10)); err != nil {
				return failed("draft page", err)
			}
			if strings.Contains(d.Body, flag) {
				return nil
			}
		}
		return taskrun.Mumble("draft not found")
	default:
		// The provincial office's clerk reads the contact inbox.
		oc, err := c.officerLogin(ctx, tg, p.r, pickClerk(p.r, list).User)
		if err != nil {
			return err
		}
		defer oc.Close()
		msgs, err := oc.Inbox(ctx)
		if err != nil {
			return failed("contact inbox", err)
		}
		for _, m := range msgs {
			if m.Subject != p.subject || m.Sender != p.who.name {
				continue
			}
			c.tasks.Pause(ctx, p.r)
			if _, err := oc.Get(ctx, "/mot-cua/hop-thu/"+strconv.FormatInt(m.ID, 10)); err != nil {
				return failed("contact message page", err)
			}
			if strings.Contains(m.Body, flag) {
				return nil
			}
		}
		return taskrun.Mumble("contact message not found")
	}
}

// citizenUserAgents are browsers of the public: phones first, as most
// citizens reach the public services on one.
var citizenUserAgents = []string{
	"Mozilla/5.0 (Linux; Android 13; SM-A536E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (Linux; Android 12; CPH2211) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; 2201117TG) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 Zalo/24.04",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 CocCoc/124.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
}

// citizenBrowser is a member of the public's browser.
func (c *Checker) citizenBrowser(tg target, r *rand.Rand) *portalclient.Client {
	pc := portalclient.New(tg.base, c.cfg.Dialer)
	pc.SetUserAgent(pick(r, citizenUserAgents))
	return pc
}
