package checker

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
)

// mainSite is the main portal's code: the provincial People's
// Committee's office, whose one-stop shop, drafts and contact inbox hold
// the flags. Every weakness of the contract reaches them there, the
// portal clerk's back office (no_lockout) included.
const mainSite = "tinh"

// browser is one visitor's browser on the replica's public portal, with
// a User-Agent of the province's machines.
func (c *Checker) browser(tg target, r *rand.Rand) *portalclient.Client {
	pc := portalclient.New(tg.base, c.cfg.Dialer)
	pc.SetUserAgent(corpus.UserAgent(r))
	return pc
}

// officerLogin opens a back-office session as officer user, with the
// master password of the replica, through the login form or the API as
// the back office's page would.
func (c *Checker) officerLogin(ctx context.Context, tg target, r *rand.Rand, user string) (*portalclient.Client, error) {
	pc := c.browser(tg, r)
	password := contract.MasterPassword(c.cfg.Secret, tg.replica, user)
	var err error
	if r.IntN(2) == 0 {
		err = pc.Login(ctx, user, password)
	} else {
		err = loginForm(ctx, pc, user, password)
	}
	if err != nil {
		pc.Close()
		return nil, failed("officer login", err)
	}
	return pc, nil
}

// loginForm logs in as the login page does: it loads the page, posts the
// form and follows the redirect to the dossier queue.
func loginForm(ctx context.Context, pc *portalclient.Client, user, password string) error {
	if _, err := pc.Get(ctx, "/mot-cua/dang-nhap"); err != nil {
		return err
	}
	form := url.Values{"username": {user}, "password": {password}}
	code, body, err := pc.Do(ctx, "POST", "/mot-cua/dang-nhap", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	if err != nil {
		return err
	}
	switch code {
	case 303, 302:
	case 401:
		return portalclient.ErrUnauthorized
	case 403:
		return portalclient.ErrLocked
	default:
		return &portalclient.StatusError{Code: code, Body: string(body)}
	}
	_, err = pc.Get(ctx, "/mot-cua/")
	return err
}

// Officer is one row of a site's public officer directory.
type Officer struct {
	Name, Title, User, Phone string
}

// clerk reports whether the officer is the site's clerk (văn thư), who
// keeps the contact inbox.
func (o Officer) clerk() bool { return strings.HasPrefix(o.User, "vanthu.") }

var directoryRow = regexp.MustCompile(`<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<@]*)@([^<]*)</td><td>([^<]*)</td></tr>`)

// ParseDirectory reads the officers of a site's directory page
// (/can-bo?site=): a name, a title, a login (the local part of the
// address) and a phone number each.
func ParseDirectory(page []byte) []Officer {
	var out []Officer
	for _, m := range directoryRow.FindAllSubmatch(page, 500) {
		o := Officer{Name: html.UnescapeString(string(m[1])), Title: html.UnescapeString(string(m[2])),
			User: strings.ToLower(strings.TrimSpace(html.UnescapeString(string(m[3])))), Phone: html.UnescapeString(string(m[5]))}
		if o.User == "" || strings.ContainsAny(o.User, " \t\r\n<>\"'") {
			continue
		}
		out = append(out, o)
	}
	return out
}

// officers reads a site's officer directory as any visitor sees it.
func (c *Checker) officers(ctx context.Context, pc *portalclient.Client, site string) ([]Officer, error) {
	page, err := pc.Get(ctx, "/can-bo?"+url.Values{"site": {site}}.Encode())
	if err != nil {
		return nil, failed("officer directory", err)
	}
	list := ParseDirectory(page)
	if len(list) == 0 {
		return nil, taskrun.Mumble("officer directory of %s lists nobody", site)
	}
	return list, nil
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// pickClerk picks the site's clerk, or anybody when it lists none.
func pickClerk(r *rand.Rand, list []Officer) Officer {
	for _, o := range list {
		if o.clerk() {
			return o
		}
	}
	return pick(r, list)
}

// citizen is a member of the public, all drawn from one seed.
type citizen struct {
	name, id, phone, address, email string
}

// provinceCodes are the first three digits of citizen ID numbers issued
// in the Mekong delta's provinces.
var provinceCodes = []string{"080", "082", "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096"}

var streets = []string{"Ấp Bắc", "Nguyễn Trãi", "Lê Lợi", "Hùng Vương", "Trần Hưng Đạo", "30 Tháng 4", "Đinh Bộ Lĩnh", "Lý Thường Kiệt", "Nam Kỳ Khởi Nghĩa", "Phan Thanh Giản"}

var mailHosts = []string{"gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "icloud.com"}

func newCitizen(r *rand.Rand) citizen {
	p := corpus.NewPerson(r)
	born := 1950 + r.IntN(56)
	century := 0
	if born >= 2000 {
		century = 2
	}
	if p.Female {
		century++
	}
	id := fmt.Sprintf("%s%d%02d%06d", pick(r, provinceCodes), century, born%100, r.IntN(1000000))
	phone := fmt.Sprintf("0%s%07d", pick(r, []string{"90", "91", "93", "94", "96", "97", "98", "32", "33", "35", "37", "38", "39", "70", "77", "81", "83", "85"}), r.IntN(10000000))
	address := fmt.Sprintf("Số %d, đường %s, %s", 1+r.IntN(250), pick(r, streets), pick(r, []string{"phường 1", "phường 4", "phường 6", "xã Đạo Thạnh", "xã Trung An", "thị trấn Chợ Gạo", "thị trấn Cái Bè"}))
	local := corpus.Fold(strings.ReplaceAll(p.Given+p.Family, " ", ""))
	email := fmt.Sprintf("%s%d@%s", strings.ToLower(local), born%100, pick(r, mailHosts))
	return citizen{name: p.Full(), id: id, phone: phone, address: address, email: email}
}

// maxQueuePages bounds how far back an officer pages through a dossier
// queue (50 a page, newest first) for a dossier submitted since.
const maxQueuePages = 20

// findDossier pages through the logged-in officer's dossier queue for the
// newest dossier of the citizen.
func findDossier(ctx context.Context, pc *portalclient.Client, who citizen) (portalclient.DossierStatus, error) {
	for page := 1; page <= maxQueuePages; page++ {
		path := "/mot-cua/api/dossiers"
		if page > 1 {
			path += fmt.Sprintf("?page=%d", page)
		}
		body, err := pc.Get(ctx, path)
		if err != nil {
			return portalclient.DossierStatus{}, failed("dossier queue", err)
		}
		var list []portalclient.DossierStatus
		if err := json.Unmarshal(body, &list); err != nil {
			return portalclient.DossierStatus{}, taskrun.Mumble("dossier queue is not a list")
		}
		for _, d := range list {
			if d.CitizenID == who.id && d.Applicant == who.name {
				return d, nil
			}
		}
		if len(list) < 50 {
			break
		}
	}
	return portalclient.DossierStatus{}, taskrun.Mumble("dossier not found in the agency's queue")
}
