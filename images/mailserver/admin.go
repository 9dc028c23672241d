package mailserver

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/internal/firewall"
)

// The admin console. It is served on the admin port, where the defence's
// operator account works, and (as the vendor installed it) under /admin/ on
// the public webmail, where only the vendor's "admin" account does.

type adminHandler func(w http.ResponseWriter, r *http.Request, sess *session)

type console struct {
	srv       *Server
	adminPort bool
}

func (s *Server) adminHandler(adminPort bool) http.Handler {
	c := &console{srv: s, adminPort: adminPort}
	mux := http.NewServeMux()
	if adminPort {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/admin/", http.StatusFound)
		})
	}
	mux.HandleFunc("GET /admin/login", c.loginPage)
	mux.HandleFunc("POST /admin/login", c.loginForm)
	mux.HandleFunc("GET /admin/logout", c.logout)
	mux.HandleFunc("GET /admin/{$}", c.auth(c.home))
	mux.HandleFunc("GET /admin/users", c.auth(c.users))
	mux.HandleFunc("GET /admin/user", c.auth(c.user))
	mux.HandleFunc("POST /admin/user/password", c.auth(c.resetForm))
	mux.HandleFunc("GET /admin/mailbox", c.auth(c.mailbox))
	mux.HandleFunc("GET /admin/message", c.auth(c.message))
	mux.HandleFunc("POST /admin/settings", c.auth(c.settingsForm))
	mux.HandleFunc("POST /admin/firewall", c.auth(c.firewallForm))
	mux.HandleFunc("POST /admin/password", c.auth(c.passwordForm))
	mux.HandleFunc("GET /admin/api/status", c.auth(c.apiStatus))
	mux.HandleFunc("GET /admin/api/users", c.auth(c.apiUsers))
	mux.HandleFunc("POST /admin/api/users/password", c.auth(c.apiReset))
	mux.HandleFunc("GET /admin/api/mailbox", c.auth(c.apiMailbox))
	mux.HandleFunc("GET /admin/api/message", c.auth(c.message))
	mux.HandleFunc("POST /admin/api/settings", c.auth(c.apiSettings))
	mux.HandleFunc("POST /admin/api/firewall", c.auth(c.apiFirewall))
	mux.HandleFunc("POST /admin/api/password", c.auth(c.apiPassword))
	mux.HandleFunc("GET /admin/api/failures", c.auth(c.apiFailures))
	if adminPort {
		return serverHeader(mux)
	}
	return mux
}

func (c *console) proto() string {
	if c.adminPort {
		return "admin"
	}
	return "http"
}

// auth requires a console session, or HTTP Basic credentials on the API.
func (c *console) auth(h adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/admin/api/")
		if sess, ok := c.srv.adminSessions.get(r); ok && sess.admin != "" && (c.adminPort || !sess.operator) {
			h(w, r, sess)
			return
		}
		if user, pass, ok := r.BasicAuth(); ok && api {
			if _, res := c.check(r, user, pass); res == loginOK {
				h(w, r, &session{admin: user, operator: user == OperatorUser})
				return
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="VNMail Admin"`)
			jsonError(w, http.StatusUnauthorized, "invalid credentials")
			return
		}
		if api {
			w.Header().Set("WWW-Authenticate", `Basic realm="VNMail Admin"`)
			jsonError(w, http.StatusUnauthorized, "not logged in")
			return
		}
		http.Redirect(w, r, "/admin/login", http.StatusFound)
	}
}

func (c *console) check(r *http.Request, user, pass string) (grant, loginResult) {
	g, res := c.srv.sec.loginAdmin(user, pass, firewall.Source(r.RemoteAddr), c.adminPort)
	if res != loginOK {
		c.srv.warn(c.proto(), "admin_login", r.RemoteAddr, user, "admin console login failed", "result", res.String(), "agent", r.UserAgent())
	} else {
		c.srv.event(c.proto(), "admin_login", r.RemoteAddr, user, "admin console login", "agent", r.UserAgent())
	}
	return g, res
}

func (c *console) loginPage(w http.ResponseWriter, _ *http.Request) {
	c.srv.render(w, http.StatusOK, "adminLogin", map[string]any{})
}

func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.srv.render(w, http.StatusBadRequest, "adminLogin", map[string]any{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	user := r.PostForm.Get("username")
	g, res := c.check(r, user, r.PostForm.Get("password"))
	switch res {
	case loginOK:
		c.srv.adminSessions.create(w, &session{admin: user, operator: user == OperatorUser, grant: g}, "/admin/")
		http.Redirect(w, r, "/admin/", http.StatusSeeOther)
	case loginLocked:
		c.srv.render(w, http.StatusForbidden, "adminLogin", map[string]any{"Error": "Tài khoản bị khóa tạm thời."})
	default:
		c.srv.render(w, http.StatusUnauthorized, "adminLogin", map[string]any{"Error": "Sai tên đăng nhập hoặc mật khẩu."})
	}
}

func (c *console) logout(w http.ResponseWriter, r *http.Request) {
	c.srv.adminSessions.destroy(w, r, "/admin/")
	http.Redirect(w, r, "/admin/login", http.StatusFound)
}

// status is the console's dashboard data.
type status struct {
	Domain     string    `json:"domain"`
	Accounts   int       `json:"accounts"`
	Agencies   int       `json:"agencies"`
	Settings   settingsJ `json:"settings"`
	Failures   int       `json:"failedLogins"`
	LockedOut  int       `json:"lockedOut"`
	ServerTime time.Time `json:"serverTime"`
}

// settingsJ is Settings as the API reads and writes it; nil fields of an
// update are left as they are.
type settingsJ struct {
	VRFY             *bool    `json:"vrfy,omitempty"`
	Lockout          *bool    `json:"lockout,omitempty"`
	LockThreshold    *int     `json:"lockThreshold,omitempty"`
	IDORPatched      *bool    `json:"idorPatched,omitempty"`
	TraversalPatched *bool    `json:"traversalPatched,omitempty"`
	AdminOnWebmail   *bool    `json:"adminOnWebmail,omitempty"`
	Blocked          []string `json:"blocked,omitempty"`
}

func toJSON(s Settings) settingsJ {
	blocked := make([]string, 0, len(s.Blocked))
	for _, p := range s.Blocked {
		blocked = append(blocked, p.String())
	}
	return settingsJ{VRFY: &s.VRFY, Lockout: &s.Lockout, LockThreshold: &s.LockThreshold, IDORPatched: &s.IDORPatched,
		TraversalPatched: &s.TraversalPatched, AdminOnWebmail: &s.AdminOnWebmail, Blocked: blocked}
}

func (c *console) status() status {
	fails := c.srv.sec.failures()
	now := c.srv.now()
	locked := 0
	for _, f := range fails {
		if now.Before(f.LockedUntil) {
			locked++
		}
	}
	return status{Domain: c.srv.dir.Domain, Accounts: len(c.srv.dir.Accounts), Agencies: len(c.srv.dir.Agencies),
		Settings: toJSON(c.srv.sec.get()), Failures: len(fails), LockedOut: locked, ServerTime: now}
}

func (c *console) home(w http.ResponseWriter, r *http.Request, sess *session) {
	fails := c.srv.sec.failures()
	c.srv.render(w, http.StatusOK, "adminHome", map[string]any{
		"Admin": sess.admin, "Status": c.status(), "Settings": c.srv.sec.get(), "Failures": fails[:min(len(fails), 30)],
		"Notice": r.URL.Query().Get("ok"),
	})
}

func (c *console) apiStatus(w http.ResponseWriter, _ *http.Request, _ *session) {
	writeJSON(w, http.StatusOK, c.status())
}

// userRow is an account as the console lists it.
type userRow struct {
	Addr    string `json:"addr"`
	Name    string `json:"name"`
	Title   string `json:"title"`
	Agency  string `json:"agency"`
	Role    string `json:"role"`
	Listed  bool   `json:"listed"`
	Forward string `json:"forward,omitempty"`
}

func rowOf(a *Account) userRow {
	return userRow{Addr: a.Addr, Name: a.Name(), Title: a.Title, Agency: a.Agency.Name, Role: a.Role.String(), Listed: a.Listed, Forward: a.Forward}
}

// findUsers searches the directory by address, name, title or agency, and
// optionally by role.
func (c *console) findUsers(q, role string) []userRow {
	q = corpus.Fold(q)
	var out []userRow
	for _, a := range c.srv.dir.Accounts {
		if role != "" && a.Role.String() != role {
			continue
		}
		if q != "" && !strings.Contains(a.Local, q) && !strings.Contains(corpus.Fold(a.Name()+" "+a.Title+" "+a.Agency.Name), q) {
			continue
		}
		out = append(out, rowOf(a))
	}
	return out
}

func (c *console) users(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	rows := c.findUsers(q.Get("q"), q.Get("role"))
	page := parsePage(q.Get("page"))
	lo := min((page-1)*pageSize, len(rows))
	c.srv.render(w, http.StatusOK, "adminUsers", map[string]any{
		"Admin": sess.admin, "Rows": rows[lo:min(lo+pageSize, len(rows))], "Total": len(rows), "Page": page,
		"Pages": max(1, (len(rows)+pageSize-1)/pageSize), "Query": q.Get("q"), "Role": q.Get("role"),
	})
}

func (c *console) apiUsers(w http.ResponseWriter, r *http.Request, _ *session) {
	q := r.URL.Query()
	rows := c.findUsers(q.Get("q"), q.Get("role"))
	if rows == nil {
		rows = []userRow{}
	}
	writeJSON(w, http.StatusOK, rows)
}

func (c *console) user(w http.ResponseWriter, r *http.Request, sess *session) {
	acct, ok := c.srv.dir.Lookup(r.URL.Query().Get("addr"))
	if !ok {
		c.srv.render(w, http.StatusNotFound, "error", map[string]any{"Error": "Không có tài khoản này."})
		return
	}
	c.srv.render(w, http.StatusOK, "adminUser", map[string]any{
		"Admin": sess.admin, "User": rowOf(acct), "Folders": c.srv.store.folderNames(acct), "NewPassword": "",
	})
}

var errWeakPassword = errors.New("password must be at least 8 characters")

// resetPassword sets acct's password, making one up when none is given.
func (c *console) resetPassword(r *http.Request, sess *session, addr, password string) (*Account, string, error) {
	acct, ok := c.srv.dir.Lookup(addr)
	if !ok {
		return nil, "", fmt.Errorf("no such account: %q", addr)
	}
	if password == "" {
		password = randomPassword()
	}
	if len(password) < 8 {
		return nil, "", errWeakPassword
	}
	c.srv.sec.setPassword(acct, password)
	c.srv.warn(c.proto(), "reset_password", r.RemoteAddr, sess.admin, "mailbox password reset", "target", acct.Addr)
	c.srv.enforceRemedies(r.RemoteAddr, sess.admin, "reset_password")
	return acct, password, nil
}

func (c *console) resetForm(w http.ResponseWriter, r *http.Request, sess *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	acct, password, err := c.resetPassword(r, sess, r.PostForm.Get("addr"), r.PostForm.Get("password"))
	if err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": err.Error()})
		return
	}
	c.srv.render(w, http.StatusOK, "adminUser", map[string]any{
		"Admin": sess.admin, "User": rowOf(acct), "Folders": c.srv.store.folderNames(acct), "NewPassword": password,
	})
}

func (c *console) apiReset(w http.ResponseWriter, r *http.Request, sess *session) {
	var body struct {
		Addr     string `json:"addr"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	acct, password, err := c.resetPassword(r, sess, body.Addr, body.Password)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"addr": acct.Addr, "password": password})
}

func (c *console) mailboxListing(r *http.Request, sess *session) (*Account, listing, error) {
	q := r.URL.Query()
	acct, ok := c.srv.dir.Lookup(q.Get("addr"))
	if !ok {
		return nil, listing{}, fmt.Errorf("no such account: %q", q.Get("addr"))
	}
	l, err := c.srv.listFolder(acct, q.Get("folder"), q.Get("q"), parsePage(q.Get("page")))
	if err != nil {
		return nil, listing{}, err
	}
	c.srv.warn(c.proto(), "view_mailbox", r.RemoteAddr, sess.admin, "mailbox viewed by administrator", "target", acct.Addr, "mailbox", l.Folder)
	return acct, l, nil
}

func (c *console) mailbox(w http.ResponseWriter, r *http.Request, sess *session) {
	acct, l, err := c.mailboxListing(r, sess)
	if err != nil {
		c.srv.render(w, http.StatusNotFound, "error", map[string]any{"Error": err.Error()})
		return
	}
	c.srv.render(w, http.StatusOK, "adminMailbox", map[string]any{"Admin": sess.admin, "User": rowOf(acct), "Listing": l, "Folders": c.srv.store.folderNames(acct)})
}

func (c *console) apiMailbox(w http.ResponseWriter, r *http.Request, sess *session) {
	_, l, err := c.mailboxListing(r, sess)
	if err != nil {
		jsonError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// message shows a message's source, as the console's "view source" does.
func (c *console) message(w http.ResponseWriter, r *http.Request, sess *session) {
	id, err := parseID(r.URL.Query().Get("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	m, ok := c.srv.store.message(id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	c.srv.warn(c.proto(), "view_message", r.RemoteAddr, sess.admin, "message source viewed by administrator", "target", m.Owner.Addr, "id", id)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(m.Raw)
}

// parseSettingsForm applies the console's settings form to cur. A missing
// checkbox means off, as browsers send forms.
func parseSettingsForm(form url.Values, cur Settings) (Settings, error) {
	on := func(k string) bool { v := form.Get(k); return v == "on" || v == "1" || v == "true" }
	cur.VRFY = on("vrfy")
	cur.Lockout = on("lockout")
	cur.IDORPatched = on("patch_idor")
	cur.TraversalPatched = on("patch_traversal")
	cur.AdminOnWebmail = on("admin_on_webmail")
	if t := strings.TrimSpace(form.Get("threshold")); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 100 {
			return cur, fmt.Errorf("lockout threshold must be 1 to 100, got %q", t)
		}
		cur.LockThreshold = n
	}
	return cur, nil
}

// applySettings validates an API update and returns the new settings.
func applySettings(u settingsJ, cur Settings) (Settings, error) {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&cur.VRFY, u.VRFY)
	set(&cur.Lockout, u.Lockout)
	set(&cur.IDORPatched, u.IDORPatched)
	set(&cur.TraversalPatched, u.TraversalPatched)
	set(&cur.AdminOnWebmail, u.AdminOnWebmail)
	if u.LockThreshold != nil {
		if *u.LockThreshold < 1 || *u.LockThreshold > 100 {
			return cur, fmt.Errorf("lockThreshold must be 1 to 100, got %d", *u.LockThreshold)
		}
		cur.LockThreshold = *u.LockThreshold
	}
	if u.Blocked != nil {
		blocked, err := firewall.Parse(strings.Join(u.Blocked, ","))
		if err != nil {
			return cur, fmt.Errorf("blocked: %w", err)
		}
		cur.Blocked = blocked
	}
	return cur, nil
}

func (c *console) saveSettings(r *http.Request, sess *session, next Settings) Settings {
	var before Settings
	after := c.srv.sec.update(func(s *Settings) {
		before = *s
		before.Blocked = slices.Clone(s.Blocked)
		*s = next
	})
	c.srv.warn(c.proto(), "settings", r.RemoteAddr, sess.admin, "settings changed", "changes", diffSettings(before, after))
	c.srv.enforceRemedies(r.RemoteAddr, sess.admin, "settings")
	return after
}

func diffSettings(a, b Settings) string {
	var out []string
	add := func(name string, x, y any) {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			out = append(out, fmt.Sprintf("%s: %v -> %v", name, x, y))
		}
	}
	add("vrfy", a.VRFY, b.VRFY)
	add("lockout", a.Lockout, b.Lockout)
	add("lock_threshold", a.LockThreshold, b.LockThreshold)
	add("patch_idor", a.IDORPatched, b.IDORPatched)
	add("patch_traversal", a.TraversalPatched, b.TraversalPatched)
	add("admin_on_webmail", a.AdminOnWebmail, b.AdminOnWebmail)
	add("blocked", a.Blocked, b.Blocked)
	return strings.Join(out, "; ")
}

func (c *console) settingsForm(w http.ResponseWriter, r *http.Request, sess *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	next, err := parseSettingsForm(r.PostForm, c.srv.sec.get())
	if err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": err.Error()})
		return
	}
	c.saveSettings(r, sess, next)
	http.Redirect(w, r, "/admin/?ok=settings", http.StatusSeeOther)
}

func (c *console) apiSettings(w http.ResponseWriter, r *http.Request, sess *session) {
	var u settingsJ
	if err := decodeJSON(r, &u); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	next, err := applySettings(u, c.srv.sec.get())
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, toJSON(c.saveSettings(r, sess, next)))
}

func (c *console) firewallForm(w http.ResponseWriter, r *http.Request, sess *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	ranges, err := firewall.Parse(r.PostForm.Get("cidr"))
	if err != nil || len(ranges) == 0 {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Dải địa chỉ không hợp lệ."})
		return
	}
	next := c.srv.sec.get()
	if r.PostForm.Get("action") == "unblock" {
		next.Blocked = firewall.Update(next.Blocked, nil, ranges)
	} else {
		next.Blocked = firewall.Update(next.Blocked, ranges, nil)
	}
	c.saveSettings(r, sess, next)
	http.Redirect(w, r, "/admin/?ok=firewall", http.StatusSeeOther)
}

func (c *console) apiFirewall(w http.ResponseWriter, r *http.Request, sess *session) {
	var body struct {
		Block   []string `json:"block"`
		Unblock []string `json:"unblock"`
	}
	if err := decodeJSON(r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	block, err := firewall.Parse(strings.Join(body.Block, ","))
	if err != nil {
		jsonError(w, http.StatusBadRequest, "block: "+err.Error())
		return
	}
	unblock, err := firewall.Parse(strings.Join(body.Unblock, ","))
	if err != nil {
		jsonError(w, http.StatusBadRequest, "unblock: "+err.Error())
		return
	}
	next := c.srv.sec.get()
	next.Blocked = firewall.Update(next.Blocked, block, unblock)
	writeJSON(w, http.StatusOK, toJSON(c.saveSettings(r, sess, next)))
}

// changeAdminPassword changes a console account's password: an account its
// own, the operator "admin"'s; the operator's own only at start-up.
func (c *console) changeAdminPassword(r *http.Request, sess *session, user, password string) error {
	if user == "" {
		user = sess.admin
	}
	switch {
	case user == OperatorUser:
		return errors.New("the operator password is set when the server starts")
	case user != AdminUser:
		return fmt.Errorf("no such console account: %q", user)
	case len(password) < 8:
		return errWeakPassword
	}
	gen := c.srv.sec.setAdminPassword(user, password)
	if sess.token != "" && sess.admin == user {
		// Who changed their own password stays logged in; every other
		// session of the account ends.
		g := sess.grant
		g.gen = gen
		c.srv.adminSessions.regrant(sess, g)
	}
	c.srv.warn(c.proto(), "admin_password", r.RemoteAddr, sess.admin, "console password changed", "target", user)
	c.srv.enforceRemedies(r.RemoteAddr, sess.admin, "admin_password")
	return nil
}

func (c *console) passwordForm(w http.ResponseWriter, r *http.Request, sess *session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	if err := c.changeAdminPassword(r, sess, r.PostForm.Get("user"), r.PostForm.Get("password")); err != nil {
		c.srv.render(w, http.StatusBadRequest, "error", map[string]any{"Error": err.Error()})
		return
	}
	http.Redirect(w, r, "/admin/?ok=password", http.StatusSeeOther)
}

func (c *console) apiPassword(w http.ResponseWriter, r *http.Request, sess *session) {
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := c.changeAdminPassword(r, sess, body.User, body.Password); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"user": cmp.Or(body.User, sess.admin)})
}

func (c *console) apiFailures(w http.ResponseWriter, _ *http.Request, _ *session) {
	type row struct {
		User        string    `json:"user"`
		Source      string    `json:"source"`
		Count       int       `json:"count"`
		Last        time.Time `json:"last"`
		LockedUntil time.Time `json:"lockedUntil"`
	}
	out := []row{}
	for _, f := range c.srv.sec.failures() {
		out = append(out, row{User: f.User, Source: f.Source.String(), Count: f.Count, Last: f.Last, LockedUntil: f.LockedUntil})
	}
	writeJSON(w, http.StatusOK, out)
}
