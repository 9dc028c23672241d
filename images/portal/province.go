package portal

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
)

// The province's sites. The main portal belongs to the provincial
// People's Committee's office; every department, district and commune
// has a component portal of its own, as the e-government framework
// requires. Tiền Giang has 18 departments, 11 districts and 172 communes:
// MaxSites is that, plus the main portal.
const (
	MaxSites       = 1 + maxDepartments + maxDistricts + 172
	maxDepartments = 18
	maxDistricts   = 11
	// MainSite is the main portal's code.
	MainSite = "tinh"
)

// Site kinds.
const (
	KindMain       = "main"
	KindDepartment = "department"
	KindDistrict   = "district"
	KindCommune    = "commune"
)

// Site is one portal: the main one or a component.
type Site struct {
	ID     int64
	Code   string // URL segment and officers' suffix ("stttt", "hdongson")
	Name   string // "Sở Thông tin và Truyền thông"
	Kind   string
	Parent int64 // a commune's district; 0 otherwise
	Short  string
}

// Officer is one back-office account.
type Officer struct {
	ID       int64
	Username string // "hungnv.stttt"
	Name     string
	Title    string
	Role     string // leader, clerk, staff
	Site     *Site
	Phone    string
}

// Roles of officers.
const (
	RoleLeader = "leader"
	RoleClerk  = "clerk"
	RoleStaff  = "staff"
)

// province is the generated province: every site and officer. Content
// (news, documents, procedures, dossiers) goes straight into the
// database; see seed.
type province struct {
	Name     string // "Lạc Hồng"
	Word     string // "lachong"
	Domain   string
	Sites    []*Site
	Officers []*Officer
	bySite   map[string]*Site
	byUser   map[string]*Officer
}

func (p *province) site(code string) (*Site, bool) {
	s, ok := p.bySite[strings.ToLower(code)]
	return s, ok
}

func (p *province) officer(user string) (*Officer, bool) {
	o, ok := p.byUser[strings.ToLower(strings.TrimSpace(user))]
	return o, ok
}

// officersOf lists a site's officers.
func (p *province) officersOf(s *Site) []*Officer {
	var out []*Officer
	for _, o := range p.Officers {
		if o.Site == s {
			out = append(out, o)
		}
	}
	return out
}

// newProvince draws the sites and officers of a province of n sites (1
// to MaxSites): the main portal, then departments, districts and
// communes, in that order.
func newProvince(r *rand.Rand, name, domain string, n int) *province {
	p := &province{Name: name, Word: corpus.Fold(name), Domain: domain, bySite: map[string]*Site{}, byUser: map[string]*Officer{}}
	add := func(s *Site) bool {
		if len(p.Sites) >= n {
			return false
		}
		for base, i := s.Code, 2; p.bySite[s.Code] != nil; i++ {
			s.Code = fmt.Sprintf("%s%d", base, i)
		}
		s.ID = int64(len(p.Sites) + 1)
		p.Sites = append(p.Sites, s)
		p.bySite[s.Code] = s
		return true
	}
	add(&Site{Code: MainSite, Name: "Cổng Thông tin điện tử tỉnh " + name, Kind: KindMain, Short: "UBND tỉnh"})
	deps := corpus.Departments()[1:] // the first is the office that runs the main portal
	for _, d := range deps[:min(maxDepartments, len(deps))] {
		add(&Site{Code: d.Code, Name: d.Name, Kind: KindDepartment, Short: d.Short})
	}
	var districts []*Site
	for _, d := range corpus.Districts()[:maxDistricts] {
		s := &Site{Code: "h" + corpus.Fold(d), Name: "UBND huyện " + d, Kind: KindDistrict, Short: "UBND huyện " + d}
		if add(s) {
			districts = append(districts, s)
		}
	}
	for i := 0; len(districts) > 0 && len(p.Sites) < n; i++ {
		d := districts[i%len(districts)]
		c := corpus.CommuneName(r)
		add(&Site{Code: "x" + corpus.Fold(c), Name: "UBND xã " + c, Kind: KindCommune, Parent: d.ID, Short: "UBND xã " + c})
	}
	for _, s := range p.Sites {
		p.staff(r, s)
	}
	return p
}

// staff gives a site its leader, its clerk (vanthu.<code>, the address
// every site publishes) and a few officers.
func (p *province) staff(r *rand.Rand, s *Site) {
	add := func(username, title, role string, person corpus.Person) {
		for base, i := username, 2; p.byUser[username] != nil; i++ {
			username = fmt.Sprintf("%s%d", base, i)
		}
		o := &Officer{ID: int64(len(p.Officers) + 1), Username: username, Name: person.Full(), Title: title, Role: role, Site: s, Phone: corpus.Phone(r)}
		p.Officers = append(p.Officers, o)
		p.byUser[username] = o
	}
	head := "Giám đốc"
	switch s.Kind {
	case KindMain:
		head = "Chánh Văn phòng UBND tỉnh"
	case KindDistrict, KindCommune:
		head = "Chủ tịch UBND"
	}
	lead := corpus.NewPerson(r)
	add(lead.Handle()+"."+s.Code, head, RoleLeader, lead)
	add("vanthu."+s.Code, "Văn thư", RoleClerk, corpus.NewPerson(r))
	n := 2 + r.IntN(3)
	if s.Kind == KindCommune {
		n = 1 + r.IntN(2)
	}
	for range n {
		who := corpus.NewPerson(r)
		title := corpus.StaffTitle(r)
		if s.Kind == KindCommune {
			title = corpus.CommuneTitle(r)
		}
		add(who.Handle()+"."+s.Code, title, RoleStaff, who)
	}
}

// provinceName is the written name of the province of domain, when the
// options do not give one.
func provinceName(domain string) string {
	label, _, _ := strings.Cut(domain, ".")
	if label == "lachong" {
		return "Lạc Hồng"
	}
	if label == "" {
		return "Lạc Hồng"
	}
	return strings.ToUpper(label[:1]) + label[1:]
}

// Generated content: the vocabulary of a provincial portal's news,
// documents and public services.

var newsTopics = []string{
	"chuyển đổi số", "cải cách hành chính", "xây dựng nông thôn mới", "phòng, chống thiên tai",
	"an toàn thông tin mạng", "thu hút đầu tư", "phát triển du lịch", "giải ngân vốn đầu tư công",
	"bảo vệ môi trường", "an sinh xã hội", "giáo dục và đào tạo", "y tế cơ sở",
	"dịch vụ công trực tuyến toàn trình", "Đề án 06 về dữ liệu dân cư", "phòng cháy, chữa cháy mùa khô",
	"sản xuất lúa vụ Đông Xuân", "xuất khẩu trái cây", "hạn mặn mùa khô",
}

var newsForms = []string{
	"Hội nghị sơ kết công tác %s 6 tháng đầu năm",
	"Triển khai kế hoạch %s năm 2024",
	"Đoàn công tác của tỉnh kiểm tra %s tại cơ sở",
	"Tập huấn nghiệp vụ về %s cho cán bộ, công chức",
	"Ra quân hưởng ứng %s",
	"Ký kết chương trình phối hợp về %s",
	"Kết quả nổi bật trong %s quý III",
	"Tọa đàm nâng cao hiệu quả %s",
}

var announcementForms = []string{
	"Thông báo lịch tiếp công dân định kỳ tháng %d",
	"Thông báo tuyển dụng công chức năm %d",
	"Thông báo nghỉ lễ Quốc khánh 2/9/%d",
	"Thông báo lấy ý kiến dự thảo quy định năm %d",
	"Thông báo tạm dừng hệ thống dịch vụ công để nâng cấp (đợt %d)",
}

var sentences = []string{
	"Dự hội nghị có đại diện lãnh đạo các sở, ban, ngành và UBND các huyện, thành phố.",
	"Theo báo cáo, đến nay đã có hơn %d hồ sơ được giải quyết đúng hạn.",
	"Lãnh đạo đơn vị đề nghị các phòng chuyên môn tập trung khắc phục những tồn tại, hạn chế.",
	"Kế hoạch được triển khai đến toàn thể cán bộ, công chức, viên chức và người lao động.",
	"Người dân có thể thực hiện thủ tục trực tuyến tại Cổng dịch vụ công của tỉnh.",
	"Tỷ lệ hồ sơ trực tuyến toàn trình đạt %d%%, tăng so với cùng kỳ năm trước.",
	"Các đơn vị báo cáo kết quả thực hiện về Văn phòng UBND tỉnh trước ngày 20 hằng tháng.",
	"Buổi làm việc diễn ra trong không khí cởi mở, thẳng thắn.",
	"Địa phương đã huy động hơn %d lượt người tham gia.",
	"Mọi ý kiến góp ý xin gửi qua chức năng Liên hệ trên Cổng thông tin điện tử.",
}

// paragraph draws n sentences of news prose.
func paragraph(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		s := sentences[r.IntN(len(sentences))]
		if strings.Contains(s, "%d") {
			s = fmt.Sprintf(s, 5+r.IntN(95))
		}
		b.WriteString(s)
	}
	return b.String()
}

var docKinds = []struct{ kind, stem string }{
	{"Quyết định", "QĐ"}, {"Kế hoạch", "KH"}, {"Công văn", "CV"}, {"Chỉ thị", "CT"}, {"Thông báo", "TB"}, {"Báo cáo", "BC"},
}

// procedureFields are the fields of administrative procedures with a few
// of each, as the national catalogue lists them.
var procedureFields = []struct {
	field string
	names []string
}{
	{"Hộ tịch", []string{"Đăng ký khai sinh", "Đăng ký kết hôn", "Đăng ký khai tử", "Cấp bản sao trích lục hộ tịch", "Xác nhận tình trạng hôn nhân"}},
	{"Chứng thực", []string{"Chứng thực bản sao từ bản chính", "Chứng thực chữ ký", "Chứng thực hợp đồng, giao dịch"}},
	{"Đất đai", []string{"Đăng ký biến động quyền sử dụng đất", "Cấp đổi Giấy chứng nhận quyền sử dụng đất", "Xóa đăng ký thế chấp"}},
	{"Xây dựng", []string{"Cấp giấy phép xây dựng nhà ở riêng lẻ", "Điều chỉnh giấy phép xây dựng"}},
	{"Thành lập và hoạt động doanh nghiệp", []string{"Đăng ký thành lập hộ kinh doanh", "Đăng ký thay đổi nội dung đăng ký doanh nghiệp"}},
	{"Bảo trợ xã hội", []string{"Trợ cấp xã hội hằng tháng", "Hỗ trợ chi phí mai táng"}},
	{"Giáo dục và Đào tạo", []string{"Chuyển trường đối với học sinh trung học", "Cấp bản sao văn bằng, chứng chỉ"}},
	{"Thông tin và Truyền thông", []string{"Cấp giấy phép bưu chính", "Cấp phép xuất bản bản tin"}},
}

// citizenID draws a 12-digit citizen identity number: the province's
// code, the century-and-sex digit, the year of birth, six digits.
func citizenID(r *rand.Rand) string {
	sex := r.IntN(2)
	year := 1950 + r.IntN(56)
	century := sex
	if year >= 2000 {
		century += 2
	}
	return fmt.Sprintf("082%d%02d%06d", century, year%100, r.IntN(1000000))
}

// mobile draws a Vietnamese mobile number.
func mobile(r *rand.Rand) string {
	prefixes := []string{"090", "091", "093", "094", "096", "097", "098", "086", "088", "070", "077", "083"}
	return fmt.Sprintf("%s%07d", prefixes[r.IntN(len(prefixes))], r.IntN(10000000))
}

var streets = []string{"Ấp Bắc", "Nam Kỳ Khởi Nghĩa", "Lê Lợi", "Hùng Vương", "Trưng Trắc", "Đinh Bộ Lĩnh", "Lý Thường Kiệt", "30 Tháng 4"}

func address(r *rand.Rand, s *Site) string {
	return fmt.Sprintf("Số %d đường %s, %s", 1+r.IntN(300), streets[r.IntN(len(streets))], strings.TrimPrefix(s.Short, "UBND "))
}
