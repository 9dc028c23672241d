package corpus

import "math/rand/v2"

// Department is a provincial body: a Sở, a Ban, an office or the inspectorate.
type Department struct {
	Name  string // as written on its letterhead
	Short string // as used in document numbers ("STTTT")
	Code  string // as used in addresses ("stttt")
	Head  string // the title of its head
}

// Departments lists the provincial bodies every province has, in the order
// of the province's own website.
func Departments() []Department {
	return []Department{
		{"Văn phòng UBND tỉnh", "VP", "vpubnd", "Chánh Văn phòng"},
		{"Sở Nội vụ", "SNV", "snv", "Giám đốc"},
		{"Sở Tài chính", "STC", "stc", "Giám đốc"},
		{"Sở Kế hoạch và Đầu tư", "SKHĐT", "skhdt", "Giám đốc"},
		{"Sở Tư pháp", "STP", "stp", "Giám đốc"},
		{"Sở Công Thương", "SCT", "sct", "Giám đốc"},
		{"Sở Nông nghiệp và Phát triển nông thôn", "SNN", "snnptnt", "Giám đốc"},
		{"Sở Giao thông vận tải", "SGTVT", "sgtvt", "Giám đốc"},
		{"Sở Xây dựng", "SXD", "sxd", "Giám đốc"},
		{"Sở Tài nguyên và Môi trường", "STNMT", "stnmt", "Giám đốc"},
		{"Sở Thông tin và Truyền thông", "STTTT", "stttt", "Giám đốc"},
		{"Sở Lao động - Thương binh và Xã hội", "SLĐTBXH", "sldtbxh", "Giám đốc"},
		{"Sở Văn hóa, Thể thao và Du lịch", "SVHTTDL", "svhttdl", "Giám đốc"},
		{"Sở Khoa học và Công nghệ", "SKHCN", "skhcn", "Giám đốc"},
		{"Sở Giáo dục và Đào tạo", "SGDĐT", "sgddt", "Giám đốc"},
		{"Sở Y tế", "SYT", "syt", "Giám đốc"},
		{"Thanh tra tỉnh", "TTr", "thanhtra", "Chánh Thanh tra"},
		{"Ban Dân tộc", "BDT", "bdt", "Trưởng ban"},
		{"Ban Quản lý các khu công nghiệp", "BQLKCN", "bqlkcn", "Trưởng ban"},
		{"Văn phòng Đoàn ĐBQH và HĐND tỉnh", "VPĐĐBQH", "vpdbqh", "Chánh Văn phòng"},
	}
}

// Districts lists district names (huyện, thị xã), more than any province
// needs; callers take a prefix.
func Districts() []string {
	return []string{
		"Đông Sơn", "Tây Hòa", "Nam Giang", "Bắc Bình", "Phú Lộc", "Thạch An",
		"Vĩnh Tường", "An Phú", "Hưng Nguyên", "Kim Thành", "Lạc Thủy", "Tân Yên",
		"Hòa Vang", "Yên Lạc", "Thuận Thành", "Quế Sơn",
	}
}

var communeFirst = []string{
	"An", "Bình", "Phú", "Tân", "Hòa", "Hưng", "Long", "Phước", "Thạnh", "Vĩnh",
	"Xuân", "Thái", "Mỹ", "Đức", "Quảng", "Nghĩa", "Hiệp", "Thanh", "Cẩm", "Kim",
}

var communeSecond = []string{
	"Lộc", "Thành", "Hòa", "Phú", "Sơn", "Hải", "Thuận", "Lợi", "Mỹ", "Tiến",
	"Định", "Khánh", "Trung", "Bình", "Điền", "Đông", "Tây", "Nam", "Bắc", "Yên",
}

// CommuneName draws a commune name ("Phú Lộc", "Tân Thành").
func CommuneName(r *rand.Rand) string {
	return pick(r, communeFirst) + " " + pick(r, communeSecond)
}

// DeputyTitle is the title of a deputy for a head titled head.
func DeputyTitle(head string) string {
	switch head {
	case "Chủ tịch UBND":
		return "Phó Chủ tịch UBND"
	case "Trưởng ban":
		return "Phó Trưởng ban"
	case "Chánh Thanh tra":
		return "Phó Chánh Thanh tra"
	default:
		return "Phó " + head
	}
}

var staffTitles = []string{
	"Trưởng phòng", "Phó Trưởng phòng", "Chuyên viên chính", "Chuyên viên",
	"Chuyên viên", "Chuyên viên", "Chuyên viên", "Cán sự", "Kế toán",
}

var communeTitles = []string{
	"Công chức Văn phòng - Thống kê", "Công chức Tư pháp - Hộ tịch",
	"Công chức Địa chính - Xây dựng", "Công chức Tài chính - Kế toán",
	"Công chức Văn hóa - Xã hội", "Chỉ huy trưởng Quân sự", "Trưởng Công an xã",
}

// StaffTitle draws the title of an ordinary official of a provincial or
// district agency.
func StaffTitle(r *rand.Rand) string { return pick(r, staffTitles) }

// CommuneTitle draws the title of a commune official.
func CommuneTitle(r *rand.Rand) string { return pick(r, communeTitles) }

// Units are the offices inside a department, for signatures.
var units = []string{
	"Phòng Hành chính - Tổng hợp", "Phòng Kế hoạch - Tài chính", "Phòng Nghiệp vụ",
	"Phòng Tổ chức cán bộ", "Phòng Kiểm tra", "Phòng Công nghệ thông tin",
}

// Unit draws the name of an office inside an agency.
func Unit(r *rand.Rand) string { return pick(r, units) }
