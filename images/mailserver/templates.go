package mailserver

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// The webmail's and console's pages, in Vietnamese as the province's staff
// see them.
const pageLayout = `{{define "top"}}<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{{.Title}} - Thư điện tử công vụ tỉnh {{.Province}}</title>
<style>
body{font-family:Arial,Helvetica,sans-serif;margin:0;background:#f2f4f7;color:#222}
header{background:#b71c1c;color:#fff;padding:10px 20px}header a{color:#fff}
main{padding:16px 20px}table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #ddd;padding:6px;text-align:left;font-size:14px}
tr.unseen td{font-weight:bold}.err{color:#b71c1c}.box{background:#fff;padding:14px;border:1px solid #ddd}
nav a{margin-right:12px}pre{white-space:pre-wrap;font-family:inherit}
</style></head><body>
<header><b>HỆ THỐNG THƯ ĐIỆN TỬ CÔNG VỤ TỈNH {{.ProvinceUpper}}</b>
{{with .Account}} &nbsp;|&nbsp; {{.Name}} &lt;{{.Addr}}&gt; &nbsp;<a href="/webmail/logout">Đăng xuất</a>{{end}}
{{with .Admin}} &nbsp;|&nbsp; Quản trị: {{.}} &nbsp;<a href="/admin/logout">Đăng xuất</a>{{end}}
</header><main>{{end}}
{{define "bottom"}}</main><footer style="padding:10px 20px;font-size:12px;color:#777">VNMail 3.2.7 &copy; Sở Thông tin và Truyền thông tỉnh {{.Province}}</footer></body></html>{{end}}

{{define "login"}}{{template "top" .}}<div class="box" style="max-width:360px">
<h3>Đăng nhập hộp thư</h3>{{with .Error}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="/webmail/login">
<p>Tài khoản<br><input name="username" size="32" placeholder="ten.donvi@{{.Domain}}"></p>
<p>Mật khẩu<br><input name="password" type="password" size="32"></p>
<p><button type="submit">Đăng nhập</button></p></form>
<p><a href="/huongdan">Hướng dẫn sử dụng</a> · <a href="/danhba">Danh bạ thư điện tử</a></p></div>{{template "bottom" .}}{{end}}

{{define "inbox"}}{{template "top" .}}
<nav>{{range .Folders}}<a href="/webmail/inbox?folder={{.}}">{{.}}</a>{{end}} <a href="/webmail/compose"><b>Soạn thư</b></a></nav>
<form method="get" action="/webmail/inbox"><input type="hidden" name="folder" value="{{.Listing.Folder}}"><input name="q" value="{{.Query}}" placeholder="Tìm thư"> <button>Tìm</button></form>
<p>{{.Listing.Folder}}: {{.Listing.Total}} thư — trang {{.Listing.Page}}/{{.Listing.Pages}}</p>
<table><tr><th>Người gửi</th><th>Tiêu đề</th><th>Ngày</th></tr>
{{range .Listing.Messages}}<tr{{if not .Seen}} class="unseen"{{end}}><td>{{.From}}</td><td><a href="/webmail/read?id={{.ID}}">{{.Subject}}</a>{{if .HasAttachments}} 📎{{end}}</td><td>{{date .Date}}</td></tr>
{{end}}</table>{{template "bottom" .}}{{end}}

{{define "read"}}{{template "top" .}}{{with .Message}}<div class="box">
<h3>{{.Subject}}</h3><p>Từ: {{.From}}<br>Đến: {{.To}}{{with .Cc}}<br>Đồng gửi: {{.}}{{end}}<br>Ngày: {{date .Date}}</p>
<pre>{{.Text}}</pre>
{{if .Attachments}}<p><b>Tệp đính kèm:</b></p><ul>{{range .Attachments}}<li><a href="{{.URL}}">{{.Name}}</a> ({{.Size}} byte)</li>{{end}}</ul>{{end}}
<p><a href="/webmail/inbox?folder={{.Folder}}">« Quay lại</a></p></div>{{end}}{{template "bottom" .}}{{end}}

{{define "compose"}}{{template "top" .}}<div class="box"><h3>Soạn thư mới</h3>{{with .Error}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="/webmail/compose" enctype="multipart/form-data">
<p>Đến: <input name="to" size="60" value="{{.To}}"></p><p>Đồng gửi: <input name="cc" size="60"></p>
<p>Tiêu đề: <input name="subject" size="60"></p><p><textarea name="body" rows="14" cols="80"></textarea></p>
<p>Đính kèm: <input type="file" name="attachment" multiple></p>
<p><button name="action" value="send">Gửi</button> <button name="action" value="draft">Lưu nháp</button></p></form></div>{{template "bottom" .}}{{end}}

{{define "error"}}{{template "top" .}}<div class="box"><p class="err">{{.Error}}</p><p><a href="javascript:history.back()">« Quay lại</a></p></div>{{template "bottom" .}}{{end}}

{{define "danhba"}}{{template "top" .}}<h3>Danh bạ thư điện tử các cơ quan, đơn vị</h3>
<table><tr><th>Họ và tên</th><th>Chức vụ</th><th>Cơ quan</th><th>Thư điện tử</th><th>Điện thoại</th></tr>
{{range .Contacts}}<tr><td>{{.Name}}</td><td>{{.Title}}</td><td>{{.Agency}}</td><td>{{.Email}}</td><td>{{.Phone}}</td></tr>
{{end}}</table>{{template "bottom" .}}{{end}}

{{define "huongdan"}}{{template "top" .}}<div class="box"><h3>Hướng dẫn sử dụng hệ thống thư điện tử công vụ</h3>
<p>1. Mỗi cán bộ, công chức được cấp một hộp thư theo mẫu <i>tên viết tắt.đơn vị@{{.Domain}}</i>, ví dụ <i>hungnv.stttt@{{.Domain}}</i>.
Văn thư các cơ quan dùng hộp thư <i>vanthu.đơn vị@{{.Domain}}</i>.</p>
<p>2. Truy cập webmail tại địa chỉ này, hoặc cấu hình Outlook/Thunderbird: máy chủ nhận thư IMAP cổng 143, máy chủ gửi thư SMTP cổng 25, tên máy chủ <i>mail.{{.Domain}}</i>, xác thực bằng tài khoản hộp thư.</p>
<p>3. Tài khoản mới được cấp với mật khẩu khởi tạo: <b>{{.Initial}}</b>. Đề nghị cán bộ đổi mật khẩu ngay sau khi đăng nhập lần đầu.</p>
<p>4. Không sử dụng thư điện tử công vụ để đăng ký dịch vụ cá nhân. Khi phát hiện thư giả mạo, đề nghị báo về Sở Thông tin và Truyền thông.</p>
<p>Hỗ trợ kỹ thuật: postmaster@{{.Domain}}.</p></div>{{template "bottom" .}}{{end}}

{{define "adminLogin"}}{{template "top" .}}<div class="box" style="max-width:360px"><h3>VNMail Admin Console</h3>{{with .Error}}<p class="err">{{.}}</p>{{end}}
<form method="post" action="/admin/login"><p>Tài khoản quản trị<br><input name="username"></p><p>Mật khẩu<br><input name="password" type="password"></p>
<p><button>Đăng nhập</button></p></form></div>{{template "bottom" .}}{{end}}

{{define "adminNav"}}<nav><a href="/admin/">Tổng quan</a><a href="/admin/users">Tài khoản</a><a href="/admin/users?role=leader">Lãnh đạo</a></nav>{{end}}

{{define "adminHome"}}{{template "top" .}}{{template "adminNav"}}{{with .Notice}}<p><b>Đã lưu ({{.}}).</b></p>{{end}}
<div class="box"><p>Miền: {{.Status.Domain}} — {{.Status.Accounts}} hộp thư, {{.Status.Agencies}} cơ quan — {{.Status.Failures}} nguồn đăng nhập sai, {{.Status.LockedOut}} đang bị khóa.</p>
<h4>Cấu hình an toàn</h4><form method="post" action="/admin/settings">
<p><label><input type="checkbox" name="vrfy" {{if .Settings.VRFY}}checked{{end}}> Trả lời lệnh SMTP VRFY/EXPN</label></p>
<p><label><input type="checkbox" name="lockout" {{if .Settings.Lockout}}checked{{end}}> Khóa tạm tài khoản sau <input name="threshold" size="3" value="{{.Settings.LockThreshold}}"> lần đăng nhập sai (IMAP, SMTP, webmail, quản trị)</label></p>
<p><label><input type="checkbox" name="patch_idor" {{if .Settings.IDORPatched}}checked{{end}}> Bản vá VNMAIL-2024-0117: kiểm tra quyền truy cập thư trên webmail</label></p>
<p><label><input type="checkbox" name="patch_traversal" {{if .Settings.TraversalPatched}}checked{{end}}> Bản vá VNMAIL-2024-0142: kiểm tra tên tệp khi tải tệp đính kèm</label></p>
<p><label><input type="checkbox" name="admin_on_webmail" {{if .Settings.AdminOnWebmail}}checked{{end}}> Cho phép truy cập trang quản trị qua webmail (/admin/)</label></p>
<p><button>Lưu cấu hình</button></p></form>
<h4>Chặn địa chỉ nguồn</h4><p>Đang chặn: {{range .Settings.Blocked}}{{.}} {{else}}(không){{end}}</p>
<form method="post" action="/admin/firewall"><input name="cidr" placeholder="10.0.3.0/24"> <button name="action" value="block">Chặn</button> <button name="action" value="unblock">Bỏ chặn</button></form>
<h4>Mật khẩu quản trị</h4><form method="post" action="/admin/password"><input type="hidden" name="user" value="admin">Mật khẩu mới cho tài khoản admin: <input name="password" type="password"> <button>Đổi</button></form>
<h4>Đăng nhập sai gần đây</h4><table><tr><th>Tài khoản</th><th>Nguồn</th><th>Số lần</th><th>Lần cuối</th><th>Khóa đến</th></tr>
{{range .Failures}}<tr><td>{{.User}}</td><td>{{.Source}}</td><td>{{.Count}}</td><td>{{date .Last}}</td><td>{{if not .LockedUntil.IsZero}}{{date .LockedUntil}}{{end}}</td></tr>{{end}}</table></div>{{template "bottom" .}}{{end}}

{{define "adminUsers"}}{{template "top" .}}{{template "adminNav"}}<form method="get" action="/admin/users"><input name="q" value="{{.Query}}" placeholder="Tên, địa chỉ, cơ quan"><input type="hidden" name="role" value="{{.Role}}"> <button>Tìm</button></form>
<p>{{.Total}} tài khoản — trang {{.Page}}/{{.Pages}}</p><table><tr><th>Địa chỉ</th><th>Họ tên</th><th>Chức vụ</th><th>Cơ quan</th></tr>
{{range .Rows}}<tr><td><a href="/admin/user?addr={{.Addr}}">{{.Addr}}</a></td><td>{{.Name}}</td><td>{{.Title}}</td><td>{{.Agency}}</td></tr>{{end}}</table>{{template "bottom" .}}{{end}}

{{define "adminUser"}}{{template "top" .}}{{template "adminNav"}}{{with .User}}<div class="box"><h3>{{.Name}} &lt;{{.Addr}}&gt;</h3><p>{{.Title}} — {{.Agency}}<br>Vai trò: {{.Role}}{{with .Forward}}<br>Chuyển tiếp thư đến: {{.}}{{end}}</p>{{end}}
{{with .NewPassword}}<p><b>Mật khẩu mới: {{.}}</b></p>{{end}}
<form method="post" action="/admin/user/password"><input type="hidden" name="addr" value="{{.User.Addr}}">Đặt lại mật khẩu: <input name="password" placeholder="để trống để tạo ngẫu nhiên"> <button>Đặt lại</button></form>
<p>Hộp thư: {{range .Folders}}<a href="/admin/mailbox?addr={{$.User.Addr}}&folder={{.}}">{{.}}</a> {{end}}</p></div>{{template "bottom" .}}{{end}}

{{define "adminMailbox"}}{{template "top" .}}{{template "adminNav"}}<h3>{{.User.Addr}} / {{.Listing.Folder}} ({{.Listing.Total}} thư)</h3>
<p>{{range .Folders}}<a href="/admin/mailbox?addr={{$.User.Addr}}&folder={{.}}">{{.}}</a> {{end}}</p>
<table><tr><th>Người gửi</th><th>Tiêu đề</th><th>Ngày</th></tr>{{range .Listing.Messages}}<tr><td>{{.From}}</td><td><a href="/admin/message?id={{.ID}}">{{.Subject}}</a></td><td>{{date .Date}}</td></tr>{{end}}</table>{{template "bottom" .}}{{end}}
`

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.Format("02/01/2006 15:04") },
}).Parse(pageLayout))

// render writes page name with data, plus what every page shows.
func (s *Server) render(w http.ResponseWriter, status int, name string, data map[string]any) {
	data["Province"] = s.dir.Province
	data["ProvinceUpper"] = strings.ToUpper(s.dir.Province)
	data["Domain"] = s.dir.Domain
	if _, ok := data["Title"]; !ok {
		data["Title"] = "Webmail"
	}
	for _, k := range []string{"Account", "Admin"} {
		if _, ok := data[k]; !ok {
			data[k] = nil
		}
	}
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("template failed", "proto", "http", "src", "", "user", "", "action", "render", "page", name, "error", err.Error())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
