package portal

import (
	"bytes"
	"html/template"
	"net/http"
)

// The portal's pages, in Vietnamese, auto-escaped by html/template: what
// a visitor typed, an injected row included, is shown as text.

const layout = `{{define "layout"}}<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:Arial,sans-serif;margin:0;color:#222}header{background:#a50f0f;color:#fff;padding:10px 20px}header a{color:#fff;margin-right:14px}main{padding:16px 20px;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}.err{color:#a00}.ok{color:#070}footer{font-size:12px;color:#666;padding:16px 20px;border-top:1px solid #ddd}</style></head>
<body><header><strong>{{.Banner}}</strong><br>{{block "nav" .}}<a href="/">Trang chủ</a><a href="/tim-kiem">Tìm kiếm</a><a href="/van-ban">Văn bản</a><a href="/dich-vu-cong/thu-tuc">Dịch vụ công</a><a href="/dich-vu-cong/tra-cuu">Tra cứu hồ sơ</a><a href="/lien-he">Liên hệ</a><a href="/mot-cua/dang-nhap">Cán bộ đăng nhập</a>{{end}}</header>
<main>{{if .Error}}<p class="err">{{.Error}}</p>{{end}}{{if .Notice}}<p class="ok">{{.Notice}}</p>{{end}}{{template "content" .}}</main>
<footer>{{.Footer}} · Phát triển trên nền tảng VNPortal CMS 3.2</footer></body></html>{{end}}`

var pageSources = map[string]string{
	"error": `{{define "content"}}{{end}}`,
	"home": `{{define "content"}}<h1>{{.Site.Name}}</h1>
<h2>Tin tức - Sự kiện</h2><ul>{{range .News}}<li><a href="/tin-tuc/{{.ID}}">{{.Title}}</a> <small>{{.Published}}</small><br>{{.Summary}}</li>{{end}}</ul>
<h2>Thông báo</h2><ul>{{range .Announcements}}<li><a href="/tin-tuc/{{.ID}}">{{.Title}}</a> <small>{{.Published}}</small></li>{{end}}</ul>
<p><a href="/van-ban?site={{.Site.Code}}">Văn bản chỉ đạo điều hành</a> · <a href="/dich-vu-cong/thu-tuc?site={{.Site.Code}}">Thủ tục hành chính</a> · <a href="/can-bo?site={{.Site.Code}}">Danh bạ cán bộ</a> · <a href="/lien-he?site={{.Site.Code}}">Liên hệ - Góp ý</a></p>
{{if .Children}}<h2>Cổng thành phần</h2><ul>{{range .Children}}<li><a href="/p/{{.Code}}/">{{.Name}}</a></li>{{end}}</ul>{{end}}{{end}}`,
	"news": `{{define "content"}}<h1>{{.Item.Title}}</h1><p><small>{{.Item.Published}} · {{.Item.Author}} · <a href="/p/{{.Site.Code}}/">{{.Site.Name}}</a></small></p><p><strong>{{.Item.Summary}}</strong></p>{{range .Paragraphs}}<p>{{.}}</p>{{end}}{{if .Item.ImageID}}<p><a href="/tep/{{.Item.ImageID}}">Tệp đính kèm</a></p>{{end}}{{end}}`,
	"search": `{{define "content"}}<h1>Tìm kiếm tin tức</h1><form method="get" action="/tim-kiem"><input name="q" value="{{.Query}}" size="50"><button>Tìm</button></form>
{{if .Query}}<p>Kết quả cho “{{.Query}}”: {{len .Results}} tin</p><ul>{{range .Results}}<li><a href="/tin-tuc/{{.ID}}">{{.Title}}</a> <small>{{.Published}}</small><br>{{.Summary}}</li>{{end}}</ul>{{end}}{{end}}`,
	"docs": `{{define "content"}}<h1>Văn bản - {{.Site.Name}}</h1><table><tr><th>Số hiệu</th><th>Loại</th><th>Trích yếu</th><th>Người ký</th><th>Ngày ban hành</th><th>Tệp</th></tr>
{{range .Docs}}<tr><td>{{.Number}}</td><td>{{.Kind}}</td><td>{{.Title}}</td><td>{{.Signer}}</td><td>{{.Issued}}</td><td><a href="/van-ban/{{.ID}}/tep">{{.FileName}}</a></td></tr>{{end}}</table>{{end}}`,
	"contact": `{{define "content"}}<h1>Liên hệ - Góp ý: {{.Site.Name}}</h1>{{if .Sent}}<p class="ok">Cảm ơn ông/bà đã gửi ý kiến. Mã tiếp nhận: {{.Sent}}</p>{{end}}
<form method="post" action="/lien-he"><input type="hidden" name="site" value="{{.Site.Code}}">
<p>Họ và tên <input name="name" required maxlength="100"></p><p>Thư điện tử <input name="email" maxlength="100"></p><p>Điện thoại <input name="phone" maxlength="20"></p>
<p>Tiêu đề <input name="subject" required maxlength="200" size="60"></p><p>Nội dung<br><textarea name="body" rows="8" cols="70" required></textarea></p>
<p>Liên kết tài liệu (nếu có) <input name="link" size="60"> <small><a href="/tien-ich/xem-truoc">Xem trước liên kết</a></small></p><button>Gửi</button></form>{{end}}`,
	"officers": `{{define "content"}}<h1>Danh bạ cán bộ - {{.Site.Name}}</h1><table><tr><th>Họ và tên</th><th>Chức vụ</th><th>Thư điện tử</th><th>Điện thoại</th></tr>
{{range .Officers}}<tr><td>{{.Name}}</td><td>{{.Title}}</td><td>{{.Username}}@{{$.Domain}}</td><td>{{.Phone}}</td></tr>{{end}}</table>{{end}}`,
	"procedures": `{{define "content"}}<h1>Thủ tục hành chính - {{.Site.Name}}</h1><form method="get"><input type="hidden" name="site" value="{{.Site.Code}}"><input name="q" value="{{.Query}}"><button>Lọc</button></form>
<table><tr><th>Mã</th><th>Tên thủ tục</th><th>Lĩnh vực</th><th>Mức độ</th><th></th></tr>{{range .Procedures}}<tr><td>{{.Code}}</td><td>{{.Name}}</td><td>{{.Field}}</td><td>{{.Level}}</td><td><a href="/dich-vu-cong/thu-tuc/{{.ID}}">Nộp hồ sơ</a></td></tr>{{end}}</table>{{end}}`,
	"procedure": `{{define "content"}}<h1>{{.Proc.Name}}</h1><p>Mã thủ tục {{.Proc.Code}} · Lĩnh vực {{.Proc.Field}} · Thời hạn giải quyết {{.Proc.Days}} ngày làm việc · Phí, lệ phí: {{.Proc.Fee}} · Cơ quan: {{.Site.Name}}</p>
<h2>Nộp hồ sơ trực tuyến</h2><form method="post" action="/dich-vu-cong/nop-ho-so" enctype="multipart/form-data"><input type="hidden" name="procedure" value="{{.Proc.ID}}">
<p>Họ và tên người nộp <input name="applicant" required maxlength="100"></p><p>Số CCCD (12 số) <input name="citizen_id" required pattern="[0-9]{12}"></p><p>Điện thoại <input name="phone" required maxlength="15"></p>
<p>Địa chỉ <input name="address" maxlength="200" size="60"></p><p>Ghi chú <textarea name="notes" rows="3" cols="60"></textarea></p><p>Thành phần hồ sơ <input type="file" name="files" multiple></p><button>Nộp hồ sơ</button></form>{{end}}`,
	"receipt": `{{define "content"}}<h1>Tiếp nhận hồ sơ thành công</h1><p>Mã hồ sơ: <strong id="receipt">{{.Code}}</strong></p><p>Ông/bà dùng mã hồ sơ và số CCCD để <a href="/dich-vu-cong/tra-cuu">tra cứu tình trạng</a> và nhận kết quả.</p>{{end}}`,
	"lookup": `{{define "content"}}<h1>Tra cứu hồ sơ</h1><form method="get" action="/dich-vu-cong/tra-cuu"><p>Mã hồ sơ <input name="ma" value="{{.Code}}"> Số CCCD <input name="cccd" value="{{.CitizenID}}"> <button>Tra cứu</button></p></form>
{{with .Dossier}}<table><tr><th>Mã hồ sơ</th><td>{{.Code}}</td></tr><tr><th>Thủ tục</th><td>{{.Procedure}}</td></tr><tr><th>Cơ quan</th><td>{{.Site}}</td></tr><tr><th>Người nộp</th><td>{{.Applicant}}</td></tr><tr><th>Số CCCD</th><td>{{.CitizenID}}</td></tr><tr><th>Điện thoại</th><td>{{.Phone}}</td></tr><tr><th>Địa chỉ</th><td>{{.Address}}</td></tr><tr><th>Ghi chú</th><td>{{.Notes}}</td></tr><tr><th>Ngày nộp</th><td>{{.Submitted}}</td></tr><tr><th>Tình trạng</th><td>{{.StatusLabel}}</td></tr></table>
{{if eq .Status "approved"}}<p><a href="/dich-vu-cong/ket-qua?ma={{.Code}}&amp;cccd={{$.CitizenID}}">Tải kết quả giải quyết</a></p>{{end}}{{end}}{{end}}`,
	"preview": `{{define "content"}}<h1>Xem trước liên kết</h1><form method="get" action="/tien-ich/xem-truoc"><input name="url" value="{{.URL}}" size="70"><button>Xem</button></form>{{if .Body}}<p>Kiểu nội dung: {{.Type}}</p><pre style="white-space:pre-wrap">{{.Body}}</pre>{{end}}{{end}}`,

	"officeLogin": `{{define "nav"}}<a href="/">Cổng thông tin</a>{{end}}{{define "content"}}<h1>Đăng nhập hệ thống một cửa điện tử</h1><form method="post" action="/mot-cua/dang-nhap"><p>Tên đăng nhập <input name="username" autocomplete="username"></p><p>Mật khẩu <input type="password" name="password"></p><button>Đăng nhập</button></form>{{end}}`,
	"officeQueue": `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}<h1>Hồ sơ của {{.Site.Name}}</h1><p>{{range $k, $v := .Counts}}{{$k}}: {{$v}} · {{end}}</p>
<form method="get"><select name="status"><option value="">Tất cả</option>{{range .Statuses}}<option value="{{.}}">{{.}}</option>{{end}}</select><button>Lọc</button></form>
<table><tr><th>Mã hồ sơ</th><th>Người nộp</th><th>Ngày nộp</th><th>Tình trạng</th></tr>{{range .Dossiers}}<tr><td><a href="/mot-cua/ho-so/{{.ID}}">{{.Code}}</a></td><td>{{.Applicant}}</td><td>{{.Submitted}}</td><td>{{.StatusLabel}}</td></tr>{{end}}</table>{{end}}`,
	"officeDossier": `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}{{with .Dossier}}<h1>Hồ sơ {{.Code}}</h1><table><tr><th>Thủ tục</th><td>{{.Procedure}}</td></tr><tr><th>Người nộp</th><td>{{.Applicant}}</td></tr><tr><th>Số CCCD</th><td>{{.CitizenID}}</td></tr><tr><th>Điện thoại</th><td>{{.Phone}}</td></tr><tr><th>Địa chỉ</th><td>{{.Address}}</td></tr><tr><th>Ghi chú</th><td>{{.Notes}}</td></tr><tr><th>Tình trạng</th><td>{{.StatusLabel}}</td></tr><tr><th>Cán bộ xử lý</th><td>{{.Officer}}</td></tr></table>{{end}}
<ul>{{range .Files}}<li><a href="/mot-cua/tep/{{.ID}}">{{.Name}}</a></li>{{end}}</ul>
{{if .Next}}<form method="post" action="/mot-cua/ho-so/{{.Dossier.ID}}"><select name="status">{{range .Next}}<option value="{{.}}">{{.}}</option>{{end}}</select> Ý kiến xử lý <input name="result" size="50"><button>Chuyển</button></form>{{end}}{{end}}`,
	"officeNews": `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}<h1>Soạn tin tức - {{.Site.Name}}</h1><form method="post" action="/mot-cua/tin-tuc" enctype="multipart/form-data"><p>Tiêu đề <input name="title" size="60" value="{{.Title}}"></p><p>Tóm tắt <input name="summary" size="80"></p><p>Nội dung<br><textarea name="body" rows="10" cols="80">{{.Body}}</textarea></p><p>Ảnh/tệp <input type="file" name="image"></p><p>Nhập nội dung từ địa chỉ (URL) <input name="import_url" size="60"> <button name="do" value="import">Nhập</button></p><button name="do" value="publish">Đăng tin</button></form>{{end}}`,
	"officeDrafts": `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}<h1>Dự thảo văn bản nội bộ - {{.Site.Name}}</h1><table><tr><th>Tiêu đề</th><th>Người soạn</th><th>Ngày</th></tr>{{range .Drafts}}<tr><td><a href="/mot-cua/du-thao/{{.ID}}">{{.Title}}</a></td><td>{{.Author}}</td><td>{{.Created}}</td></tr>{{end}}</table>
<h2>Dự thảo mới</h2><form method="post" action="/mot-cua/du-thao"><p>Tiêu đề <input name="title" size="60"></p><p><textarea name="body" rows="8" cols="80"></textarea></p><button>Lưu dự thảo</button></form>{{end}}`,
	"officeDraft":   `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}{{with .Draft}}<h1>{{.Title}}</h1><p><small>{{.Author}} · {{.Created}}</small></p><pre style="white-space:pre-wrap">{{.Body}}</pre>{{end}}{{end}}`,
	"officeInbox":   `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}<h1>Hộp thư góp ý - {{.Site.Name}}</h1><table><tr><th>Người gửi</th><th>Tiêu đề</th><th>Ngày</th></tr>{{range .Messages}}<tr><td>{{.Sender}}</td><td><a href="/mot-cua/hop-thu/{{.ID}}">{{.Subject}}</a></td><td>{{.Created}}</td></tr>{{end}}</table>{{end}}`,
	"officeMessage": `{{define "nav"}}{{template "officeNav" .}}{{end}}{{define "content"}}{{with .Message}}<h1>{{.Subject}}</h1><p>{{.Sender}} · {{.Email}} · {{.Phone}} · {{.Created}}</p><pre style="white-space:pre-wrap">{{.Body}}</pre>{{end}}{{end}}`,

	"adminLogin": `{{define "nav"}}<a href="/quantri/">Quản trị hệ thống</a>{{end}}{{define "content"}}<h1>Đăng nhập quản trị</h1><form method="post" action="/quantri/login"><p>Tài khoản <input name="username"></p><p>Mật khẩu <input type="password" name="password"></p><button>Đăng nhập</button></form>{{end}}`,
	"adminHome": `{{define "nav"}}{{template "adminNav" .}}{{end}}{{define "content"}}<h1>Quản trị VNPortal</h1><p>{{.Status.Sites}} cổng · {{.Status.Officers}} cán bộ · {{.Status.Dossiers}} hồ sơ · {{.Status.Sessions}} phiên</p>
<h2>Cấu hình bảo mật</h2><form method="post" action="/quantri/settings">{{with .Settings}}
<p><label><input type="checkbox" name="patch_search" {{if .SearchPatched}}checked{{end}}> Vá lỗi tìm kiếm tin tức (truy vấn tham số hóa, bản vá VNP-2024-031)</label></p>
<p><label><input type="checkbox" name="lookup_requires_id" {{if .LookupRequiresID}}checked{{end}}> Bắt buộc số CCCD khi tra cứu hồ sơ</label></p>
<p><label><input type="checkbox" name="backup_in_webroot" {{if .BackupExposed}}checked{{end}}> Bản sao lưu cấu hình trong thư mục web (/backup/)</label></p>
<p><label><input type="checkbox" name="admin_on_portal" {{if .AdminOnPortal}}checked{{end}}> Cho phép trang quản trị trên cổng công khai (/quantri/)</label></p>
<p><label><input type="checkbox" name="import_restricted" {{if .ImportRestricted}}checked{{end}}> Chỉ cho phép tải địa chỉ công khai (xem trước liên kết, nhập tin từ URL)</label> · Danh sách cho phép <input name="import_allow" value="{{range $i, $h := .ImportAllow}}{{if $i}},{{end}}{{$h}}{{end}}"></p>
<p><label><input type="checkbox" name="lockout" {{if .Lockout}}checked{{end}}> Khóa tạm tài khoản sau <input name="threshold" size="3" value="{{.LockThreshold}}"> lần đăng nhập sai</label></p>
<p>Khóa ký phiên cán bộ: {{if .SecretDefault}}<strong class="err">mặc định của nhà cung cấp</strong>{{else}}ngẫu nhiên (lần đổi {{.SecretGen}}){{end}} <label><input type="checkbox" name="rotate_secret"> Đổi khóa ký phiên</label></p>{{end}}
<button>Lưu cấu hình</button></form>
<h2>Mật khẩu quản trị</h2><form method="post" action="/quantri/password"><input type="hidden" name="user" value="admin">Mật khẩu mới cho admin <input type="password" name="password"><button>Đổi</button></form>
<h2>Chặn địa chỉ nguồn</h2><form method="post" action="/quantri/firewall"><input name="cidr" placeholder="10.0.3.0/24"><select name="action"><option value="block">Chặn</option><option value="unblock">Bỏ chặn</option></select><button>Áp dụng</button></form><p>Đang chặn: {{range .Settings.Blocked}}{{.}} {{end}}</p>
<h2>Đăng nhập sai gần đây</h2><table><tr><th>Tài khoản</th><th>Nguồn</th><th>Số lần</th><th>Khóa đến</th></tr>{{range .Failures}}<tr><td>{{.User}}</td><td>{{.Source}}</td><td>{{.Count}}</td><td>{{.LockedUntil}}</td></tr>{{end}}</table>{{end}}`,
	"adminTable": `{{define "nav"}}{{template "adminNav" .}}{{end}}{{define "content"}}<h1>{{.Heading}}</h1>{{if .Search}}<form method="get"><input name="q" value="{{.Query}}"><button>Tìm</button></form>{{end}}<table><tr>{{range .Columns}}<th>{{.}}</th>{{end}}</tr>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}`,
}

const navs = `{{define "officeNav"}}<a href="/mot-cua/">Hồ sơ</a><a href="/mot-cua/tin-tuc">Tin tức</a><a href="/mot-cua/du-thao">Dự thảo</a><a href="/mot-cua/hop-thu">Hộp thư góp ý</a><a href="/mot-cua/dang-xuat">Đăng xuất ({{.User}})</a>{{end}}
{{define "adminNav"}}<a href="/quantri/">Tổng quan</a><a href="/quantri/users">Cán bộ</a><a href="/quantri/sites">Cổng</a><a href="/quantri/sessions">Phiên</a><a href="/quantri/dossiers">Hồ sơ</a><a href="/quantri/messages">Góp ý</a><a href="/quantri/drafts">Dự thảo</a><a href="/quantri/logout">Đăng xuất</a>{{end}}`

// pages holds one parsed template per page, each with the layout.
type pages struct{ t map[string]*template.Template }

func newPages() *pages {
	base := template.Must(template.New("layout").Parse(layout))
	template.Must(base.Parse(navs))
	p := &pages{t: map[string]*template.Template{}}
	for name, src := range pageSources {
		p.t[name] = template.Must(template.Must(base.Clone()).Parse(src))
	}
	return p
}

// view is what every page gets besides its own data.
type view map[string]any

// render writes page name with status; a page that fails to execute is
// a bare 500 and never half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, v view) {
	if v == nil {
		v = view{}
	}
	if _, ok := v["Title"]; !ok {
		v["Title"] = "Cổng Thông tin điện tử tỉnh " + s.cfg.Province
	}
	v["Banner"] = "CỔNG THÔNG TIN ĐIỆN TỬ TỈNH " + upper(s.cfg.Province)
	v["Footer"] = "Cơ quan chủ quản: UBND tỉnh " + s.cfg.Province + " · www." + s.cfg.Domain
	for _, k := range []string{"Error", "Notice"} {
		if _, ok := v[k]; !ok {
			v[k] = ""
		}
	}
	var b bytes.Buffer
	if err := s.pages.t[name].ExecuteTemplate(&b, "layout", v); err != nil {
		s.warn("http", "error", "", "", "page failed", "page", name, "error", err.Error())
		http.Error(w, "Lỗi hệ thống.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.render(w, status, "error", view{"Error": msg})
}

func upper(s string) string {
	return string(bytes.ToUpper([]byte(s)))
}
