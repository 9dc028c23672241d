package mailserver

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
)

// Role is an account's place in the province's hierarchy.
type Role int

// Roles, from the rank and file up. A secretary is a leader's assistant whose
// account receives a copy of the leader's mail (a forward).
const (
	RoleStaff Role = iota
	RoleClerk
	RoleDeputy
	RoleHead
	RoleLeader
	RoleSecretary
)

func (r Role) String() string {
	switch r {
	case RoleClerk:
		return "clerk"
	case RoleDeputy:
		return "deputy"
	case RoleHead:
		return "head"
	case RoleLeader:
		return "leader"
	case RoleSecretary:
		return "secretary"
	}
	return "staff"
}

// Agency kinds.
const (
	KindProvince   = "province"
	KindDepartment = "department"
	KindDistrict   = "district"
	KindCommune    = "commune"
)

// Agency is a state body with its own mailboxes.
type Agency struct {
	Name   string
	Short  string // as in document numbers
	Code   string // as in addresses
	Kind   string
	Parent *Agency // a commune's district
	Clerk  *Account
	Head   *Account
	Size   int
}

// Account is one mailbox of the directory. Its fields never change after the
// directory is built; passwords and mail live elsewhere.
type Account struct {
	Index   int
	Local   string
	Addr    string
	Person  corpus.Person
	Title   string
	Phone   string
	Agency  *Agency
	Role    Role
	Listed  bool   // shown in the public contact directory
	Forward string // address that gets a copy of every delivery, if any
}

// Name is the account's display name.
func (a *Account) Name() string { return a.Person.Full() }

// Signature is how the account signs its mail.
func (a *Account) Signature() corpus.Signature {
	return corpus.Signature{Name: a.Name(), Title: a.Title, Agency: a.Agency.Name, Phone: a.Phone}
}

// Directory is the province's generated address book.
type Directory struct {
	Domain       string
	ProvinceWord string // the domain's first label, in ASCII
	Province     string // as written
	Accounts     []*Account
	Agencies     []*Agency
	Leaders      []*Account
	// Portal is the e-government portal's system mailbox.
	Portal  *Account
	byLocal map[string]*Account
}

// MinAccounts is the smallest directory that still has every kind of agency.
const MinAccounts = 100

// Lookup finds an account by address or local part, case-insensitively.
func (d *Directory) Lookup(name string) (*Account, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	name = strings.Trim(name, "<>")
	if local, domain, ok := strings.Cut(name, "@"); ok {
		if domain != d.Domain {
			return nil, false
		}
		name = local
	}
	a, ok := d.byLocal[name]
	return a, ok
}

// Local reports whether addr is in the province's domain.
func (d *Directory) Local(addr string) bool {
	_, domain, ok := strings.Cut(strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>")), "@")
	return ok && domain == d.Domain
}

// provinceName turns a domain's first label into a province's written name.
func provinceName(word string) string {
	if word == "lachong" {
		return "Lạc Hồng"
	}
	if word == "" {
		return "Tỉnh"
	}
	return strings.ToUpper(word[:1]) + word[1:]
}

// newDirectory generates a province of n accounts from r. Every agency gets
// a head and a clerk (văn thư, the agency's published address); the rest
// are spread over departments, districts and communes much as a real
// province's staff is.
func newDirectory(r *rand.Rand, domain string, n int) (*Directory, error) {
	if n < MinAccounts {
		return nil, fmt.Errorf("mailserver: %d accounts is too few (minimum %d)", n, MinAccounts)
	}
	word, _, _ := strings.Cut(domain, ".")
	word = corpus.Fold(word)
	d := &Directory{
		Domain:       domain,
		ProvinceWord: word,
		Province:     provinceName(word),
		byLocal:      make(map[string]*Account, n),
		Accounts:     make([]*Account, 0, n),
	}

	ubnd := &Agency{Name: "UBND tỉnh " + d.Province, Short: "UBND", Code: "ubnd", Kind: KindProvince}
	d.Agencies = append(d.Agencies, ubnd)
	var vpubnd *Agency
	for _, dep := range corpus.Departments() {
		a := &Agency{Name: dep.Name, Short: dep.Short, Code: dep.Code, Kind: KindDepartment}
		if dep.Code == "vpubnd" {
			vpubnd = a
		}
		d.Agencies = append(d.Agencies, a)
	}
	districts := min(max(n/900, 2), len(corpus.Districts()))
	var districtList []*Agency
	for _, name := range corpus.Districts()[:districts] {
		a := &Agency{Name: "UBND huyện " + name, Short: "UBND", Code: "ubnd" + corpus.Fold(name), Kind: KindDistrict}
		d.Agencies = append(d.Agencies, a)
		districtList = append(districtList, a)
	}
	communes := max(n*2/5/18, 3)
	codes := make(map[string]bool)
	for i := range communes {
		parent := districtList[i%len(districtList)]
		name := corpus.CommuneName(r)
		code := "xa" + corpus.Fold(name)
		for k := 2; codes[code]; k++ {
			code = fmt.Sprintf("xa%s%d", corpus.Fold(name), k)
		}
		codes[code] = true
		d.Agencies = append(d.Agencies, &Agency{Name: "UBND xã " + name, Short: "UBND", Code: code, Kind: KindCommune, Parent: parent})
	}

	// The province's leadership: a chairman and three vice-chairmen, each
	// with a secretary in the provincial office who gets a copy of the
	// leader's mail.
	for i := range 4 {
		title := "Phó Chủ tịch UBND tỉnh"
		if i == 0 {
			title = "Chủ tịch UBND tỉnh"
		}
		leader := d.add(r, ubnd, RoleLeader, title)
		if i == 0 {
			ubnd.Head = leader
		}
		d.Leaders = append(d.Leaders, leader)
	}
	mandatory := func(a *Agency) {
		switch a.Kind {
		case KindProvince:
			a.Clerk = d.addClerk(r, a)
		case KindCommune:
			a.Head = d.add(r, a, RoleHead, "Chủ tịch UBND xã")
			a.Clerk = d.addClerk(r, a)
		case KindDistrict:
			a.Head = d.add(r, a, RoleHead, "Chủ tịch UBND huyện")
			a.Clerk = d.addClerk(r, a)
		default:
			a.Head = d.add(r, a, RoleHead, departmentHead(a.Code))
			a.Clerk = d.addClerk(r, a)
		}
	}
	for _, a := range d.Agencies {
		mandatory(a)
	}
	for _, l := range d.Leaders {
		sec := d.add(r, vpubnd, RoleSecretary, "Chuyên viên - Thư ký lãnh đạo")
		l.Forward = sec.Addr
	}
	// The e-government portal's system mailbox, which sends the public
	// services' notifications: no person behind it, never listed.
	if stttt, ok := d.agency("stttt"); ok {
		acct := d.newAccountOf(stttt, RoleStaff, "Hộp thư hệ thống Cổng thông tin điện tử", PortalMailbox,
			corpus.Person{Family: "Cổng", Middle: "Thông tin", Given: "Điện tử"}, "")
		d.Portal = acct
	}
	if len(d.Accounts) > n {
		return nil, fmt.Errorf("mailserver: %d accounts is too few for %d agencies", n, len(d.Agencies))
	}

	// The rest of the staff: a third in the departments, a quarter in the
	// districts, the remainder in the communes; each agency's share jittered.
	rest := n - len(d.Accounts)
	groups := []struct {
		kind  string
		share int
	}{{KindDepartment, 35}, {KindDistrict, 25}, {KindCommune, 40}}
	assigned := 0
	for gi, g := range groups {
		var members []*Agency
		for _, a := range d.Agencies {
			if a.Kind == g.kind {
				members = append(members, a)
			}
		}
		quota := rest * g.share / 100
		if gi == len(groups)-1 {
			quota = rest - assigned
		}
		assigned += quota
		weights := make([]int, len(members))
		total := 0
		for i := range members {
			weights[i] = 5 + r.IntN(10)
			total += weights[i]
		}
		given := 0
		for i, a := range members {
			share := quota * weights[i] / total
			if i == len(members)-1 {
				share = quota - given
			}
			given += share
			for k := range share {
				role, title := RoleStaff, ""
				switch {
				case k < 2 && a.Kind != KindCommune:
					role, title = RoleDeputy, deputyTitle(a)
				case k == 0:
					role, title = RoleDeputy, "Phó Chủ tịch UBND xã"
				case a.Kind == KindCommune:
					title = corpus.CommuneTitle(r)
				default:
					title = corpus.StaffTitle(r)
				}
				d.add(r, a, role, title)
			}
		}
	}
	return d, nil
}

// agency finds an agency by its code.
func (d *Directory) agency(code string) (*Agency, bool) {
	for _, a := range d.Agencies {
		if a.Code == code {
			return a, true
		}
	}
	return nil, false
}

// PortalMailbox is the local part of the e-government portal's system
// mailbox: the portal target's default mail account.
const PortalMailbox = "congthongtin"

func departmentHead(code string) string {
	for _, dep := range corpus.Departments() {
		if dep.Code == code {
			return dep.Head
		}
	}
	return "Giám đốc"
}

func deputyTitle(a *Agency) string {
	switch a.Kind {
	case KindDistrict:
		return "Phó Chủ tịch UBND huyện"
	case KindCommune:
		return "Phó Chủ tịch UBND xã"
	}
	return corpus.DeputyTitle(departmentHead(a.Code))
}

func (d *Directory) addClerk(r *rand.Rand, a *Agency) *Account {
	acct := d.newAccount(r, a, RoleClerk, "Văn thư", "vanthu."+a.Code)
	acct.Listed = true
	return acct
}

func (d *Directory) add(r *rand.Rand, a *Agency, role Role, title string) *Account {
	p := corpus.NewPerson(r)
	stem := p.Handle()
	local := stem + "." + a.Code
	for k := 2; d.byLocal[local] != nil; k++ {
		local = fmt.Sprintf("%s%d.%s", stem, k, a.Code)
	}
	acct := d.newAccount(r, a, role, title, local)
	acct.Person = p
	acct.Listed = role == RoleLeader || role == RoleHead
	return acct
}

func (d *Directory) newAccount(r *rand.Rand, a *Agency, role Role, title, local string) *Account {
	return d.newAccountOf(a, role, title, local, corpus.NewPerson(r), corpus.Phone(r))
}

func (d *Directory) newAccountOf(a *Agency, role Role, title, local string, p corpus.Person, phone string) *Account {
	acct := &Account{
		Index:  len(d.Accounts),
		Local:  local,
		Addr:   local + "@" + d.Domain,
		Person: p,
		Title:  title,
		Phone:  phone,
		Agency: a,
		Role:   role,
	}
	a.Size++
	d.Accounts = append(d.Accounts, acct)
	d.byLocal[local] = acct
	return acct
}

// Listed returns the public contact directory: leaders, heads of agencies and
// every agency's clerk, in the directory's order.
func (d *Directory) Listed() []*Account {
	var out []*Account
	for _, a := range d.Accounts {
		if a.Listed {
			out = append(out, a)
		}
	}
	return out
}
