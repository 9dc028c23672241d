package corpus

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

var topics = []string{
	"triển khai chuyển đổi số năm 2024",
	"phòng, chống thiên tai và tìm kiếm cứu nạn",
	"cải cách hành chính và nâng cao chỉ số PAR INDEX",
	"đẩy nhanh tiến độ giải ngân vốn đầu tư công",
	"bảo đảm an toàn thông tin mạng trong cơ quan nhà nước",
	"xây dựng nông thôn mới nâng cao",
	"quyết toán ngân sách địa phương năm 2023",
	"tổ chức kỳ thi tuyển sinh vào lớp 10",
	"tiêm chủng mở rộng cho trẻ em",
	"bảo vệ môi trường lưu vực sông",
	"công tác phòng cháy, chữa cháy mùa khô",
	"kiểm tra công tác văn thư, lưu trữ",
	"sắp xếp đơn vị hành chính cấp xã giai đoạn 2023-2025",
	"chương trình mục tiêu quốc gia giảm nghèo bền vững",
	"diễn tập ứng cứu sự cố an toàn thông tin mạng",
	"cấp chứng thư số chuyên dùng cho cán bộ, công chức",
	"triển khai Đề án 06 về dữ liệu dân cư",
	"thu hồi đất thực hiện dự án khu dân cư",
	"đánh giá, xếp loại công chức cuối năm",
	"tiếp công dân định kỳ tháng",
	"rà soát thủ tục hành chính trực tuyến toàn trình",
	"phòng, chống dịch bệnh trên gia súc, gia cầm",
	"chuẩn bị Hội nghị tổng kết năm",
	"kiện toàn Ban Chỉ đạo chuyển đổi số tỉnh",
}

var periods = []string{"tháng 9", "tháng 10", "quý III", "quý IV", "6 tháng đầu năm", "9 tháng", "năm 2024"}

var subjectForms = []func(r *rand.Rand, topic string) string{
	func(_ *rand.Rand, t string) string { return "V/v " + t },
	func(_ *rand.Rand, t string) string { return "Giấy mời họp về " + t },
	func(r *rand.Rand, t string) string { return "Báo cáo " + t + " " + pick(r, periods) },
	func(r *rand.Rand, t string) string {
		return fmt.Sprintf("Công văn số %d/%s về %s", 100+r.IntN(3900), pick(r, docSigns), t)
	},
	func(_ *rand.Rand, t string) string { return "Kế hoạch " + t },
	func(_ *rand.Rand, t string) string { return "Góp ý dự thảo Quyết định về " + t },
	func(_ *rand.Rand, t string) string { return "Re: V/v " + t },
	func(_ *rand.Rand, t string) string { return "Fwd: Thông báo về " + t },
	func(_ *rand.Rand, t string) string { return "Thông báo kết luận về " + t },
	func(r *rand.Rand, t string) string { return "[Khẩn] Đôn đốc " + t + " " + pick(r, periods) },
}

var docSigns = []string{"UBND-KT", "UBND-VX", "UBND-NC", "STTTT-BCVT", "STC-QLNS", "SNV-CCVC", "SKHĐT-TH", "VP-TH"}

// Subject draws the subject line of an official's e-mail.
func Subject(r *rand.Rand) string {
	return pick(r, subjectForms)(r, pick(r, topics))
}

var openings = []string{
	"Thực hiện chỉ đạo của Chủ tịch UBND tỉnh tại Thông báo số %d/TB-UBND,",
	"Căn cứ Kế hoạch số %d/KH-UBND của UBND tỉnh,",
	"Theo đề nghị của các cơ quan, đơn vị tại cuộc họp ngày %d,",
	"Tiếp theo Công văn số %d của đơn vị,",
	"Để kịp thời tổng hợp, báo cáo UBND tỉnh (lần %d),",
}

var requests = []string{
	"đề nghị quý cơ quan khẩn trương rà soát và gửi báo cáo về %s trước ngày %d/%d.",
	"kính mời %s bố trí thời gian dự họp vào lúc 8 giờ 00, ngày %d/%d tại Phòng họp số 2.",
	"xin gửi kèm tài liệu để %s nghiên cứu, cho ý kiến trước ngày %d/%d.",
	"đề nghị %s chỉ đạo các phòng chuyên môn phối hợp thực hiện, hoàn thành trước ngày %d/%d.",
	"kính báo cáo %s xem xét, cho ý kiến chỉ đạo. Hạn trình ngày %d/%d.",
}

var closings = []string{
	"Trong quá trình thực hiện, nếu có vướng mắc đề nghị liên hệ đầu mối để được hướng dẫn.",
	"Rất mong nhận được sự quan tâm, phối hợp của quý cơ quan.",
	"Đề nghị các đơn vị nghiêm túc triển khai thực hiện.",
	"Tài liệu liên quan được gửi kèm theo thư này.",
}

// Signature is how an official signs a message.
type Signature struct {
	Name, Title, Agency, Phone string
}

// Body draws the text of an official's e-mail from sender to a recipient
// addressed as "Ông/Bà <name>".
func Body(r *rand.Rand, to Person, from Signature, topic string) string {
	if topic == "" {
		topic = pick(r, topics)
	}
	day, month := 1+r.IntN(28), 1+r.IntN(12)
	var b strings.Builder
	fmt.Fprintf(&b, "Kính gửi: %s %s,\n\n", to.Honorific(), to.Full())
	fmt.Fprintf(&b, pick(r, openings)+" ", 1+r.IntN(900))
	fmt.Fprintf(&b, pick(r, requests), strings.ToLower(to.Honorific()), day, month)
	b.WriteString("\n\nNội dung: " + topic + ".\n")
	b.WriteString(pick(r, closings) + "\n\nTrân trọng./.\n\n")
	b.WriteString(SignatureBlock(from))
	return b.String()
}

// SignatureBlock is the block that closes an official's e-mail.
func SignatureBlock(s Signature) string {
	return fmt.Sprintf("--\n%s\n%s - %s\nĐT: %s\n", s.Name, s.Title, s.Agency, s.Phone)
}

// Topic draws a topic for a document.
func Topic(r *rand.Rand) string { return pick(r, topics) }

// Phone draws an office phone number of the province.
func Phone(r *rand.Rand) string {
	return fmt.Sprintf("0%d.%d.%04d", 200+r.IntN(100), 3+r.IntN(6), r.IntN(10000))
}

var attachmentStems = []string{"CV", "KH", "BC", "QD", "TTr", "GM", "TB"}
var attachmentExt = []string{".pdf", ".pdf", ".docx", ".xlsx", ".doc"}

// AttachmentName draws the file name of an attached document
// ("BC_123_STTTT.pdf").
func AttachmentName(r *rand.Rand, short string) string {
	return fmt.Sprintf("%s_%d_%s%s", pick(r, attachmentStems), 100+r.IntN(3900), Fold(short), pick(r, attachmentExt))
}

var workstations = []string{"PC-%s-%02d", "DESKTOP-%s%02d", "LAPTOP-%s-%02d", "MAY%02d-%s"}

// Workstation draws a plausible office computer name for SMTP HELO.
func Workstation(r *rand.Rand, code string) string {
	f := pick(r, workstations)
	n := 1 + r.IntN(60)
	if strings.HasPrefix(f, "MAY") {
		return fmt.Sprintf(f, n, strings.ToUpper(code))
	}
	return fmt.Sprintf(f, strings.ToUpper(code), n)
}

// UserAgents are browsers seen on the province's office computers.
var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
	"Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36 CocCoc/109.0",
}

// UserAgent draws a browser user agent.
func UserAgent(r *rand.Rand) string { return pick(r, userAgents) }
