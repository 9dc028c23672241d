package portal

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyrange/cyrange/internal/firewall"
)

// The admin console, under /quantri/: on the admin port, where the
// defence's operator account works, and (as the vendor installed it) on
// the public portal, where only the vendor's "admin" account does and
// only while Settings.AdminOnPortal.

type console struct {
	srv       *Server
	adminPort bool
}

type consoleHandler func(w http.ResponseWriter, r *http.Request, g grant, tok string)

func (s *Server) adminHandler(adminPort bool) http.Handler {
	c := &console{srv: s, adminPort: adminPort}
	mux := http.NewServeMux()
	if adminPort {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/quantri/", http.StatusFound)
		})
	}
	mux.HandleFunc("GET /quantri/login", func(w http.ResponseWriter, _ *http.Request) { s.render(w, http.StatusOK, "adminLogin", nil) })
	mux.HandleFunc("POST /quantri/login", c.loginForm)
	mux.HandleFunc("GET /quantri/logout", c.logout)
	mux.HandleFunc("GET /quantri/{$}", c.auth(c.home))
	mux.HandleFunc("POST /quantri/settings", c.auth(c.settingsForm))
	mux.HandleFunc("POST /quantri/password", c.auth(c.passwordForm))
	mux.HandleFunc("POST /quantri/firewall", c.auth(c.firewallForm))
	mux.HandleFunc("GET /quantri/{table}", c.auth(c.table))
	mux.HandleFunc("GET /quantri/api/status", c.auth(c.apiStatus))
	mux.HandleFunc("POST /quantri/api/settings", c.auth(c.apiSettings))
	mux.HandleFunc("POST /quantri/api/password", c.auth(c.apiPassword))
	mux.HandleFunc("POST /quantri/api/firewall", c.auth(c.apiFirewall))
	mux.HandleFunc("POST /quantri/api/users/password", c.auth(c.apiResetOfficer))
	mux.HandleFunc("GET /quantri/api/failures", c.auth(func(w http.ResponseWriter, _ *http.Request, _ grant, _ string) {
		writeJSON(w, http.StatusOK, s.sec.failures(500))
	}))
	mux.HandleFunc("GET /quantri/api/{table}", c.auth(c.table))
	h := http.Handler(mux)
	if !adminPort {
		// The public mount answers only while the vendor's setting is on.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.sec.get().AdminOnPortal {
				s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	return s.front("admin", h)
}

func (c *console) proto() string {
	if c.adminPort {
		return "admin"
	}
	return "http"
}

// localExport is the reporting job's way in: the province's statistics
// cron job on the host reads the export from the host itself without a
// password — from loopback, or from one of the host's own addresses
// (the connection's two ends are the same address), which is what the
// ssrf_import weakness reaches through the server's own fetch.
func (c *console) localExport(r *http.Request) bool {
	if !c.adminPort || r.URL.Path != "/quantri/api/export" {
		return false
	}
	src := firewall.Source(r.RemoteAddr)
	if src.IsLoopback() {
		return true
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && src.IsValid() && firewall.SourceOf(local) == src
}

// auth requires a console session, or HTTP Basic credentials on the API.
func (c *console) auth(h consoleHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/quantri/api/")
		if ck, err := r.Cookie(adminCookie); err == nil {
			if sess, ok := c.srv.admins.get(ck.Value, c.srv.now(), c.srv.sec.valid); ok && (c.adminPort || sess.g.admin != OperatorUser) && sess.g.adminPort == c.adminPort {
				setUser(r, sess.g.admin)
				h(w, r, sess.g, ck.Value)
				return
			}
		}
		if c.localExport(r) {
			setUser(r, "local")
			h(w, r, grant{admin: "local", adminPort: true}, "")
			return
		}
		if user, pass, ok := r.BasicAuth(); ok && api {
			setUser(r, user)
			if g, res := c.check(r, user, pass); res == loginOK {
				h(w, r, g, "")
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="VNPortal"`)
			jsonError(w, http.StatusUnauthorized, "invalid credentials")
			return
		}
		if api {
			w.Header().Set("WWW-Authenticate", `Basic realm="VNPortal"`)
			jsonError(w, http.StatusUnauthorized, "not logged in")
			return
		}
		http.Redirect(w, r, "/quantri/login", http.StatusFound)
	}
}

func (c *console) check(r *http.Request, user, pass string) (grant, loginResult) {
	g, res := c.srv.sec.loginAdmin(user, pass, firewall.Source(r.RemoteAddr), c.adminPort)
	if res != loginOK {
		c.srv.warn(c.proto(), "admin_login", r.RemoteAddr, user, "admin console login failed", "result", res.String(), "agent", trim(r.UserAgent(), 200))
	} else {
		c.srv.event(c.proto(), "admin_login", r.RemoteAddr, user, "admin console login", "agent", trim(r.UserAgent(), 200))
	}
	return g, res
}

func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	if err := c.srv.parseForm(w, r); err != nil {
		c.srv.render(w, http.StatusBadRequest, "adminLogin", view{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	user := clip(r.PostForm.Get("username"), 100)
	setUser(r, user)
	g, res := c.check(r, user, r.PostForm.Get("password"))
	switch res {
	case loginOK:
		tok := c.srv.admins.create(g, c.srv.now())
		http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: tok, Path: "/quantri/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/quantri/", http.StatusSeeOther)
	case loginLocked:
		c.srv.render(w, http.StatusForbidden, "adminLogin", view{"Error": "Tài khoản bị khóa tạm thời."})
	default:
		c.srv.render(w, http.StatusUnauthorized, "adminLogin", view{"Error": "Sai tài khoản hoặc mật khẩu."})
	}
}

func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(adminCookie); err == nil {
		c.srv.admins.remove(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: "", Path: "/quantri/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/quantri/login", http.StatusFound)
}

// status is the console's dashboard.
type status struct {
	Domain     string    `json:"domain"`
	Sites      int       `json:"sites"`
	Officers   int       `json:"officers"`
	Dossiers   int       `json:"dossiers"`
	Sessions   int       `json:"sessions"`
	Settings   settingsJ `json:"settings"`
	ServerTime time.Time `json:"serverTime"`
}

// settingsJ is Settings as the API reads and writes it; nil fields of an
// update are left as they are. RotateSecret is an action: true makes a
// new random signing key.
type settingsJ struct {
	SearchPatched    *bool    `json:"searchPatched,omitempty"`
	LookupRequiresID *bool    `json:"lookupRequiresID,omitempty"`
	BackupExposed    *bool    `json:"backupExposed,omitempty"`
	AdminOnPortal    *bool    `json:"adminOnPortal,omitempty"`
	ImportRestricted *bool    `json:"importRestricted,omitempty"`
	ImportAllow      []string `json:"importAllow,omitempty"`
	Lockout          *bool    `json:"lockout,omitempty"`
	LockThreshold    *int     `json:"lockThreshold,omitempty"`
	SecretDefault    *bool    `json:"secretDefault,omitempty"`
	SecretGen        *int     `json:"secretGeneration,omitempty"`
	RotateSecret     *bool    `json:"rotateSecret,omitempty"`
	Blocked          []string `json:"blocked,omitempty"`
}

func toJSON(s Settings) settingsJ {
	blocked := make([]string, 0, len(s.Blocked))
	for _, p := range s.Blocked {
		blocked = append(blocked, p.String())
	}
	return settingsJ{SearchPatched: &s.SearchPatched, LookupRequiresID: &s.LookupRequiresID, BackupExposed: &s.BackupExposed,
		AdminOnPortal: &s.AdminOnPortal, ImportRestricted: &s.ImportRestricted, ImportAllow: s.ImportAllow, Lockout: &s.Lockout,
		LockThreshold: &s.LockThreshold, SecretDefault: &s.SecretDefault, SecretGen: &s.SecretGen, Blocked: blocked}
}

// change is a settings update: the new values and whether to rotate
// the signing key.
type change struct {
	next   Settings
	rotate bool
}

func applySettings(u settingsJ, cur Settings) (change, error) {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cur.SearchPatched, u.SearchPatched)
	set(&cur.LookupRequiresID, u.LookupRequiresID)
	set(&cur.BackupExposed, u.BackupExposed)
	set(&cur.AdminOnPortal, u.AdminOnPortal)
	set(&cur.ImportRestricted, u.ImportRestricted)
	set(&cur.Lockout, u.Lockout)
	if u.LockThreshold != nil {
		if *u.LockThreshold < 1 || *u.LockThreshold > 100 {
			return change{}, fmt.Errorf("lockThreshold must be 1 to 100, got %d", *u.LockThreshold)
		}
		cur.LockThreshold = *u.LockThreshold
	}
	if u.ImportAllow != nil {
		hosts, err := parseHosts(strings.Join(u.ImportAllow, ","))
		if err != nil {
			return change{}, err
		}
		cur.ImportAllow = hosts
	}
	if u.Blocked != nil {
		blocked, err := firewall.Parse(strings.Join(u.Blocked, ","))
		if err != nil {
			return change{}, fmt.Errorf("blocked: %w", err)
		}
		cur.Blocked = blocked
	}
	return change{next: cur, rotate: u.RotateSecret != nil && *u.RotateSecret}, nil
}

// parseHosts reads the fetcher's allow-list: host names, comma- or
// space-separated.
func parseHosts(list string) ([]string, error) {
	var out []string
	for _, h := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		h = strings.ToLower(h)
		if len(h) > 253 || strings.ContainsAny(h, "/:@?#") {
			return nil, fmt.Errorf("importAllow: %q is not a host name", h)
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	if len(out) > 100 {
		return nil, errors.New("importAllow: at most 100 hosts")
	}
	return out, nil
}

// parseSettingsForm applies the console's settings form to cur. A
// missing checkbox means off, as browsers send forms.
func parseSettingsForm(form url.Values, cur Settings) (change, error) {
	on := func(k string) *bool { v := form.Get(k); b := v == "on" || v == "1" || v == "true"; return &b }
	u := settingsJ{SearchPatched: on("patch_search"), LookupRequiresID: on("lookup_requires_id"), BackupExposed: on("backup_in_webroot"),
		AdminOnPortal: on("admin_on_portal"), ImportRestricted: on("import_restricted"), Lockout: on("lockout"), RotateSecret: on("rotate_secret")}
	u.ImportAllow = []string{form.Get("import_allow")}
	if t := strings.TrimSpace(form.Get("threshold")); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return change{}, fmt.Errorf("lockout threshold must be a number, got %q", t)
		}
		u.LockThreshold = &n
	}
	return applySettings(u, cur)
}

// save applies a change, logs it as the "settings" action with what
// changed, and ends the sessions it makes invalid.
func (c *console) save(r *http.Request, g grant, ch change) Settings {
	before, after := c.srv.sec.update(func(s *Settings) {
		gen, def := s.SecretGen, s.SecretDefault
		*s = ch.next
		// The key's state changes only by rotating it.
		s.SecretGen, s.SecretDefault = gen, def
		if ch.rotate {
			c.srv.sec.rotate(s)
		}
	})
	if d := diffSettings(before, after); d != "" {
		c.srv.warn(c.proto(), "settings", r.RemoteAddr, g.admin, "settings changed", "changes", d)
	}
	c.srv.enforce(r.RemoteAddr, g.admin, "settings")
	return after
}

// enforce ends every session a remedy made invalid and logs how many.
func (s *Server) enforce(src, user, remedy string) {
	n := s.issued.sweep(s.sec.valid) + s.admins.sweep(s.sec.valid)
	if n > 0 {
		s.warn("admin", "sessions_ended", src, user, "sessions ended by remedy", "remedy", remedy, "sessions", n)
	}
}

func (c *console) status() status {
	var n int
	_ = c.srv.db.QueryRow(`SELECT COUNT(*) FROM dossiers`).Scan(&n)
	return status{Domain: c.srv.cfg.Domain, Sites: len(c.srv.prov.Sites), Officers: len(c.srv.prov.Officers), Dossiers: n,
		Sessions: len(c.srv.issued.rows()) + len(c.srv.admins.rows()), Settings: toJSON(c.srv.sec.get()), ServerTime: c.srv.now()}
}

func (c *console) home(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	notice := ""
	if r.URL.Query().Get("ok") != "" {
		notice = "Đã lưu."
	}
	c.srv.render(w, http.StatusOK, "adminHome", view{"Status": c.status(), "Settings": c.srv.sec.get(), "Failures": c.srv.sec.failures(30), "Notice": notice})
}

func (c *console) apiStatus(w http.ResponseWriter, _ *http.Request, _ grant, _ string) {
	writeJSON(w, http.StatusOK, c.status())
}

func (c *console) settingsForm(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	if err := c.srv.parseForm(w, r); err != nil {
		c.srv.fail(w, http.StatusBadRequest, "Yêu cầu không hợp lệ.")
		return
	}
	ch, err := parseSettingsForm(r.PostForm, c.srv.sec.get())
	if err != nil {
		c.srv.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	c.save(r, g, ch)
	http.Redirect(w, r, "/quantri/?ok=settings", http.StatusSeeOther)
}

func (c *console) apiSettings(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	var u settingsJ
	if err := c.srv.decodeJSON(w, r, &u); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	ch, err := applySettings(u, c.srv.sec.get())
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, toJSON(c.save(r, g, ch)))
}

// changeAdminPassword changes the vendor account's password; the
// operator's is set when the server starts.
func (c *console) changeAdminPassword(r *http.Request, g grant, tok, user, password string) error {
	if user == "" {
		user = g.admin
	}
	switch {
	case user == OperatorUser:
		return errors.New("the operator password is set when the server starts")
	case user != AdminUser:
		return fmt.Errorf("no such console account: %q", user)
	case len(password) < 8:
		return errors.New("password must be at least 8 characters")
	}
	gen := c.srv.sec.setAdminPassword(user, password)
	if tok != "" && g.admin == user {
		// Who changed their own password stays logged in.
		g.gen = gen
		c.srv.admins.regrant(tok, g)
	}
	c.srv.warn(c.proto(), "admin_password", r.RemoteAddr, g.admin, "console password changed", "target", user)
	c.srv.enforce(r.RemoteAddr, g.admin, "admin_password")
	return nil
}

func (c *console) passwordForm(w http.ResponseWriter, r *http.Request, g grant, tok string) {
	if err := c.srv.parseForm(w, r); err != nil {
		c.srv.fail(w, http.StatusBadRequest, "Yêu cầu không hợp lệ.")
		return
	}
	if err := c.changeAdminPassword(r, g, tok, r.PostForm.Get("user"), r.PostForm.Get("password")); err != nil {
		c.srv.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	http.Redirect(w, r, "/quantri/?ok=password", http.StatusSeeOther)
}

func (c *console) apiPassword(w http.ResponseWriter, r *http.Request, g grant, tok string) {
	var body struct{ User, Password string }
	if err := c.srv.decodeJSON(w, r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := c.changeAdminPassword(r, g, tok, body.User, body.Password); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": body.User})
}

func (c *console) firewall(r *http.Request, g grant, block, unblock string) (Settings, error) {
	b, err := firewall.Parse(block)
	if err != nil {
		return Settings{}, fmt.Errorf("block: %w", err)
	}
	u, err := firewall.Parse(unblock)
	if err != nil {
		return Settings{}, fmt.Errorf("unblock: %w", err)
	}
	next := c.srv.sec.get()
	next.Blocked = firewall.Update(next.Blocked, b, u)
	return c.save(r, g, change{next: next}), nil
}

func (c *console) firewallForm(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	if err := c.srv.parseForm(w, r); err != nil {
		c.srv.fail(w, http.StatusBadRequest, "Yêu cầu không hợp lệ.")
		return
	}
	cidr := r.PostForm.Get("cidr")
	var err error
	if r.PostForm.Get("action") == "unblock" {
		_, err = c.firewall(r, g, "", cidr)
	} else {
		_, err = c.firewall(r, g, cidr, "")
	}
	if err != nil {
		c.srv.fail(w, http.StatusBadRequest, "Dải địa chỉ không hợp lệ.")
		return
	}
	http.Redirect(w, r, "/quantri/?ok=firewall", http.StatusSeeOther)
}

func (c *console) apiFirewall(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	var body struct{ Block, Unblock []string }
	if err := c.srv.decodeJSON(w, r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	st, err := c.firewall(r, g, strings.Join(body.Block, ","), strings.Join(body.Unblock, ","))
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, toJSON(st))
}

// apiResetOfficer sets an officer's password (random when none is
// given); the officer's sessions opened with the old one end.
func (c *console) apiResetOfficer(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	var body struct{ User, Password string }
	if err := c.srv.decodeJSON(w, r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	o, ok := c.srv.prov.officer(body.User)
	if !ok {
		jsonError(w, http.StatusNotFound, "no such officer")
		return
	}
	if body.Password == "" {
		body.Password = randomPassword()
	}
	if len(body.Password) < 8 {
		jsonError(w, http.StatusBadRequest, "password must be at least 8 characters")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	if _, err := c.srv.db.ExecContext(ctx, `UPDATE officers SET password_hash = ? WHERE id = ?`, hashPassword(body.Password), o.ID); err != nil {
		c.srv.dbFail(w, r, err)
		return
	}
	c.srv.sec.bumpOfficer(o.Username)
	c.srv.warn(c.proto(), "reset_password", r.RemoteAddr, g.admin, "officer password reset", "target", o.Username)
	c.srv.enforce(r.RemoteAddr, g.admin, "reset_password")
	writeJSON(w, http.StatusOK, map[string]string{"user": o.Username, "password": body.Password})
}

// tables are the console's lists: columns and the statement that fills
// them, the search words bound as a parameter.
var tables = map[string]struct {
	heading string
	columns []string
	query   string
}{
	"users":    {"Cán bộ", []string{"Tài khoản", "Họ tên", "Chức vụ", "Cổng"}, `SELECT o.username, o.full_name, o.title, s.name FROM officers o JOIN sites s ON s.id = o.site_id WHERE o.username LIKE '%' || ?1 || '%' OR o.full_name LIKE '%' || ?1 || '%' ORDER BY o.id LIMIT ?2`},
	"sites":    {"Cổng thành phần", []string{"Mã", "Tên", "Loại"}, `SELECT code, name, kind FROM sites WHERE code LIKE '%' || ?1 || '%' OR name LIKE '%' || ?1 || '%' ORDER BY id LIMIT ?2`},
	"dossiers": {"Hồ sơ", []string{"Mã hồ sơ", "Người nộp", "CCCD", "Điện thoại", "Ghi chú", "Tình trạng", "Ngày nộp"}, `SELECT code, applicant, citizen_id, phone, notes, status, submitted FROM dossiers WHERE code LIKE '%' || ?1 || '%' OR applicant LIKE '%' || ?1 || '%' OR citizen_id = ?1 ORDER BY id DESC LIMIT ?2`},
	"messages": {"Hộp thư góp ý", []string{"Cổng", "Người gửi", "Tiêu đề", "Nội dung", "Ngày"}, `SELECT s.code, m.sender, m.subject, m.body, m.created FROM messages m JOIN sites s ON s.id = m.site_id WHERE s.code LIKE '%' || ?1 || '%' OR m.subject LIKE '%' || ?1 || '%' ORDER BY m.id DESC LIMIT ?2`},
	"drafts":   {"Dự thảo", []string{"Cổng", "Người soạn", "Tiêu đề", "Nội dung", "Ngày"}, `SELECT s.code, d.author, d.title, d.body, d.created FROM drafts d JOIN sites s ON s.id = d.site_id WHERE s.code LIKE '%' || ?1 || '%' OR d.title LIKE '%' || ?1 || '%' ORDER BY d.id DESC LIMIT ?2`},
	"export":   {"Xuất dữ liệu", []string{"Bảng", "Dòng"}, ``},
}

// table lists one of tables (or, for the reporting job, the export of
// the newest dossiers, messages and drafts).
func (c *console) table(w http.ResponseWriter, r *http.Request, g grant, _ string) {
	name := r.PathValue("table")
	if name == "sessions" {
		rows := append(c.srv.admins.rows(), c.srv.issued.rows()...)
		if strings.HasPrefix(r.URL.Path, "/quantri/api/") {
			writeJSON(w, http.StatusOK, rows)
			return
		}
		var cells [][]string
		for _, s := range rows[:min(len(rows), 500)] {
			cells = append(cells, []string{s.Kind, s.ID, s.User, s.Source, s.Seen.Format(dateLayout)})
		}
		c.srv.render(w, http.StatusOK, "adminTable", view{"Heading": "Phiên đăng nhập", "Columns": []string{"Loại", "Mã", "Tài khoản", "Nguồn", "Lần cuối"}, "Rows": cells})
		return
	}
	t, ok := tables[name]
	if !ok {
		c.srv.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	q := clip(r.URL.Query().Get("q"), 200)
	limit := 200
	var out [][]string
	if name == "export" {
		for _, k := range []string{"dossiers", "messages", "drafts"} {
			rows, err := c.query(r, tables[k].query, "", 100)
			if err != nil {
				c.srv.dbFail(w, r, err)
				return
			}
			for _, row := range rows {
				out = append(out, append([]string{k}, row...))
			}
		}
	} else {
		var err error
		if out, err = c.query(r, t.query, q, limit); err != nil {
			c.srv.dbFail(w, r, err)
			return
		}
	}
	if name == "dossiers" || name == "messages" || name == "drafts" || name == "export" {
		c.srv.warn(c.proto(), "view_"+name, r.RemoteAddr, g.admin, "data viewed by administrator", "q", q, "rows", len(out))
	}
	if strings.HasPrefix(r.URL.Path, "/quantri/api/") {
		if out == nil {
			out = [][]string{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"columns": t.columns, "rows": out})
		return
	}
	c.srv.render(w, http.StatusOK, "adminTable", view{"Heading": t.heading, "Columns": t.columns, "Rows": out, "Search": true, "Query": q})
}

func (c *console) query(r *http.Request, q, arg string, limit int) ([][]string, error) {
	ctx, cancel := queryCtx(r)
	defer cancel()
	rows, err := c.srv.db.QueryContext(ctx, q, arg, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = text(v)
		}
		out = append(out, row)
	}
	return out, rows.Err()
}
