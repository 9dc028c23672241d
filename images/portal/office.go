package portal

import (
	"database/sql"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/persource"
)

// The back office ("một cửa", the one-stop shop): officers log in, work
// their agency's dossier queue, write news (with an upload, or imported
// from a URL), keep the agency's internal drafts and read its contact
// inbox.

type officeHandler func(w http.ResponseWriter, r *http.Request, o *Officer)

func (s *Server) officeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /mot-cua/dang-nhap", func(w http.ResponseWriter, _ *http.Request) {
		s.render(w, http.StatusOK, "officeLogin", nil)
	})
	mux.HandleFunc("POST /mot-cua/dang-nhap", s.officeLogin)
	mux.HandleFunc("POST /mot-cua/api/login", s.officeLogin)
	mux.HandleFunc("GET /mot-cua/dang-xuat", s.officeLogout)
	mux.HandleFunc("GET /mot-cua/{$}", s.officer(s.queue))
	mux.HandleFunc("GET /mot-cua/ho-so/{id}", s.officer(s.dossierPage))
	mux.HandleFunc("POST /mot-cua/ho-so/{id}", s.officer(s.moveDossier))
	mux.HandleFunc("GET /mot-cua/tep/{id}", s.officer(s.dossierFile))
	mux.HandleFunc("GET /mot-cua/tin-tuc", s.officer(s.newsEditor))
	mux.HandleFunc("POST /mot-cua/tin-tuc", s.officer(s.newsPost))
	mux.HandleFunc("GET /mot-cua/du-thao", s.officer(s.drafts))
	mux.HandleFunc("POST /mot-cua/du-thao", s.officer(s.draftPost))
	mux.HandleFunc("GET /mot-cua/du-thao/{id}", s.officer(s.draftPage))
	mux.HandleFunc("GET /mot-cua/hop-thu", s.officer(s.inbox))
	mux.HandleFunc("GET /mot-cua/hop-thu/{id}", s.officer(s.messagePage))
	mux.HandleFunc("GET /mot-cua/api/drafts", s.officer(s.drafts))
	mux.HandleFunc("POST /mot-cua/api/drafts", s.officer(s.draftPost))
	mux.HandleFunc("GET /mot-cua/api/inbox", s.officer(s.inbox))
	mux.HandleFunc("GET /mot-cua/api/dossiers", s.officer(s.queue))
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/mot-cua/api/") }

// officerOf reads the officer a request's cookie names, if it verifies
// under the current key, its password generation holds, it has not
// expired, and (for a session the portal issued) no remedy ended it.
func (s *Server) officerOf(r *http.Request) (*Officer, claims, bool) {
	c, err := r.Cookie(officerCookie)
	if err != nil {
		return nil, claims{}, false
	}
	cl, err := parseCookie(s.sec.signingKey(), c.Value)
	if err != nil {
		return nil, claims{}, false
	}
	now := s.now()
	o, ok := s.prov.officer(cl.User)
	if !ok || !now.Before(cl.Expires) || cl.Expires.Sub(now) > 2*sessionLifetime || cl.Gen != s.sec.officerGen(o.Username) {
		return nil, claims{}, false
	}
	if g, ok := s.issued.get(cl.SID, now); ok && !s.sec.valid(g) {
		s.issued.remove(cl.SID)
		return nil, claims{}, false
	}
	return o, cl, true
}

func (s *Server) officer(h officeHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o, _, ok := s.officerOf(r)
		if !ok {
			if isAPI(r) {
				jsonError(w, http.StatusUnauthorized, "not logged in")
				return
			}
			http.Redirect(w, r, "/mot-cua/dang-nhap", http.StatusFound)
			return
		}
		setUser(r, o.Username)
		h(w, r, o)
	}
}

// officeLogin checks an officer's password (or the checker's master
// password), applying the lockout when it is on.
func (s *Server) officeLogin(w http.ResponseWriter, r *http.Request) {
	var user, password string
	api := isAPI(r)
	if api {
		var body struct{ Username, Password string }
		if err := s.decodeJSON(w, r, &body); err != nil {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		user, password = body.Username, body.Password
	} else {
		if err := s.parseForm(w, r); err != nil {
			s.fail(w, http.StatusBadRequest, "Yêu cầu không hợp lệ.")
			return
		}
		user, password = r.PostForm.Get("username"), r.PostForm.Get("password")
	}
	user = strings.ToLower(clip(user, 100))
	src := firewall.Source(r.RemoteAddr)
	setUser(r, user)
	deny := func(status int, result loginResult, msg string) {
		s.warn("http", "login", r.RemoteAddr, user, "officer login failed", "result", result.String(), "agent", trim(r.UserAgent(), 200))
		if api {
			jsonError(w, status, result.String())
			return
		}
		// The form answers a wrong password with the login page and
		// 200, as web logins do: a 401 without an HTTP authentication
		// challenge is no HTTP status a browser or a client expects.
		if status == http.StatusUnauthorized {
			status = http.StatusOK
		}
		s.render(w, status, "officeLogin", view{"Error": msg})
	}
	o, known := s.prov.officer(user)
	master := known && s.sec.isMaster(o.Username, password)
	if !master && s.sec.locked(user, src) {
		deny(http.StatusForbidden, loginLocked, "Tài khoản bị khóa tạm thời do đăng nhập sai nhiều lần.")
		return
	}
	ok := master
	if known && !master {
		ctx, cancel := queryCtx(r)
		defer cancel()
		var hash string
		if err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM officers WHERE id = ?`, o.ID).Scan(&hash); err != nil {
			s.dbFail(w, r, err)
			return
		}
		ok = checkPassword(hash, password)
	}
	if !ok {
		s.sec.fail(user, src)
		res := loginBadPassword
		if !known {
			res = loginUnknownUser
		}
		deny(http.StatusUnauthorized, res, "Sai tên đăng nhập hoặc mật khẩu.")
		return
	}
	before := s.sec.succeed(user, src)
	g := grant{officer: o.Username, master: master, gen: s.sec.officerGen(o.Username), src: src, failsBefore: before}
	cl := claims{User: o.Username, Gen: g.gen, SID: randomToken(), Expires: s.now().Add(sessionLifetime)}
	s.issued.add(cl.SID, g, s.now())
	http.SetCookie(w, &http.Cookie{Name: officerCookie, Value: signCookie(s.sec.signingKey(), cl), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s.event("http", "login", r.RemoteAddr, o.Username, "officer logged in", "site", o.Site.Code, "fails_before", before, "agent", trim(r.UserAgent(), 200))
	if api {
		writeJSON(w, http.StatusOK, map[string]string{"user": o.Username, "site": o.Site.Code})
		return
	}
	http.Redirect(w, r, "/mot-cua/", http.StatusSeeOther)
}

func (s *Server) officeLogout(w http.ResponseWriter, r *http.Request) {
	if _, cl, ok := s.officerOf(r); ok {
		s.issued.remove(cl.SID)
	}
	http.SetCookie(w, &http.Cookie{Name: officerCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true})
	http.Redirect(w, r, "/mot-cua/dang-nhap", http.StatusFound)
}

var queueStatuses = []string{StatusReceived, StatusProcessing, StatusSupplement, StatusApproved, StatusRejected}

func (s *Server) queue(w http.ResponseWriter, r *http.Request, o *Officer) {
	q := r.URL.Query()
	status := q.Get("status")
	if status != "" && !slices.Contains(queueStatuses, status) {
		status = ""
	}
	page := parsePage(q.Get("page"))
	ctx, cancel := queryCtx(r)
	defer cancel()
	cond, args := `d.site_id = ?`, []any{o.Site.ID}
	if status != "" {
		cond += ` AND d.status = ?`
		args = append(args, status)
	}
	if code := q.Get("code"); code != "" {
		if id, err := parseReceipt(code); err == nil {
			cond += ` AND d.id = ?`
			args = append(args, id)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+dossierCols+` FROM dossiers d JOIN procedures p ON p.id = d.procedure_id WHERE `+cond+` ORDER BY d.id DESC LIMIT ? OFFSET ?`,
		append(args, 50, (page-1)*50)...)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	defer rows.Close()
	var list []dossierRow
	for rows.Next() {
		d, err := s.scanDossier(rows)
		if err != nil {
			s.dbFail(w, r, err)
			return
		}
		list = append(list, d)
	}
	if isAPI(r) {
		if list == nil {
			list = []dossierRow{}
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	counts := map[string]int{}
	crow, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM dossiers WHERE site_id = ? GROUP BY status`, o.Site.ID)
	if err == nil {
		for crow.Next() {
			var st string
			var n int
			if crow.Scan(&st, &n) == nil {
				counts[statusLabel[st]] = n
			}
		}
		crow.Close()
	}
	s.render(w, http.StatusOK, "officeQueue", view{"User": o.Username, "Site": o.Site, "Dossiers": list, "Counts": counts, "Statuses": queueStatuses})
}

// ownDossier loads a dossier of the officer's agency.
func (s *Server) ownDossier(r *http.Request, o *Officer) (dossierRow, bool) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return dossierRow{}, false
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	d, err := s.scanDossier(s.db.QueryRowContext(ctx, `SELECT `+dossierCols+` FROM dossiers d JOIN procedures p ON p.id = d.procedure_id WHERE d.id = ? AND d.site_id = ?`, id, o.Site.ID))
	return d, err == nil
}

type fileRow struct {
	ID   int64
	Name string
}

func (s *Server) dossierPage(w http.ResponseWriter, r *http.Request, o *Officer) {
	d, ok := s.ownDossier(r, o)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy hồ sơ.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var files []fileRow
	if rows, err := s.db.QueryContext(ctx, `SELECT id, name FROM files WHERE owner_kind = 'dossier' AND owner_id = ?`, d.ID); err == nil {
		for rows.Next() {
			var f fileRow
			if rows.Scan(&f.ID, &f.Name) == nil {
				files = append(files, f)
			}
		}
		rows.Close()
	}
	s.render(w, http.StatusOK, "officeDossier", view{"User": o.Username, "Dossier": d, "Files": files, "Next": transitions[d.Status]})
}

// moveDossier moves a dossier along the workflow.
func (s *Server) moveDossier(w http.ResponseWriter, r *http.Request, o *Officer) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, http.StatusBadRequest, "Yêu cầu không hợp lệ.")
		return
	}
	d, ok := s.ownDossier(r, o)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy hồ sơ.")
		return
	}
	next := r.PostForm.Get("status")
	if !slices.Contains(transitions[d.Status], next) {
		s.fail(w, http.StatusConflict, "Không thể chuyển hồ sơ sang trạng thái này.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	if _, err := s.db.ExecContext(ctx, `UPDATE dossiers SET status = ?, officer = ?, result = ?, updated = ? WHERE id = ? AND status = ?`,
		next, o.Username, clip(r.PostForm.Get("result"), 1000), s.now().Format(dateLayout), d.ID, d.Status); err != nil {
		s.dbFail(w, r, err)
		return
	}
	s.event("http", "dossier_status", r.RemoteAddr, o.Username, "dossier moved", "code", d.Code, "from", d.Status, "to", next)
	http.Redirect(w, r, "/mot-cua/ho-so/"+r.PathValue("id"), http.StatusSeeOther)
}

func (s *Server) dossierFile(w http.ResponseWriter, r *http.Request, o *Officer) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy tệp.")
		return
	}
	s.serveFile(w, r, `SELECT f.name, f.mime, f.data FROM files f JOIN dossiers d ON f.owner_kind = 'dossier' AND d.id = f.owner_id WHERE f.id = ? AND d.site_id = ?`, id, o.Site.ID)
}

func (s *Server) newsEditor(w http.ResponseWriter, r *http.Request, o *Officer) {
	s.render(w, http.StatusOK, "officeNews", view{"User": o.Username, "Site": o.Site, "Title": "", "Body": ""})
}

// newsPost publishes a news item of the officer's site, or imports the
// body of one from a URL (the fetcher behind ssrf_import).
func (s *Server) newsPost(w http.ResponseWriter, r *http.Request, o *Officer) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "Nội dung vượt quá dung lượng cho phép.")
		return
	}
	f := r.Form
	title, body := clip(f.Get("title"), 300), clip(f.Get("body"), 64<<10)
	if f.Get("do") == "import" {
		u, err := parseImportURL(f.Get("import_url"))
		if err != nil {
			s.render(w, http.StatusBadRequest, "officeNews", view{"User": o.Username, "Site": o.Site, "Title": title, "Body": body, "Error": "Địa chỉ không hợp lệ."})
			return
		}
		_, data, err := s.fetch(r.Context(), u)
		if err != nil {
			s.warn("http", "fetch", r.RemoteAddr, o.Username, "news import refused or failed", "url", u.Redacted(), "error", err.Error())
			s.render(w, http.StatusBadGateway, "officeNews", view{"User": o.Username, "Site": o.Site, "Title": title, "Body": body, "Error": "Không tải được địa chỉ này."})
			return
		}
		s.event("http", "fetch", r.RemoteAddr, o.Username, "news imported from URL", "url", u.Redacted(), "bytes", len(data))
		s.render(w, http.StatusOK, "officeNews", view{"User": o.Username, "Site": o.Site, "Title": title, "Body": string(data)})
		return
	}
	if title == "" || strings.TrimSpace(body) == "" {
		s.render(w, http.StatusBadRequest, "officeNews", view{"User": o.Username, "Site": o.Site, "Title": title, "Body": body, "Error": "Vui lòng nhập tiêu đề và nội dung."})
		return
	}
	files, err := s.uploads(r, "image")
	if err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "Tệp vượt quá 2 MB.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var fileID int64
	if len(files) > 0 {
		u := files[0]
		if err := s.db.QueryRowContext(ctx, `INSERT INTO files(owner_kind, owner_id, name, mime, data, source) VALUES ('news', 0, ?, ?, ?, ?) RETURNING id`, u.Name, u.MIME, u.Data, r.RemoteAddr).Scan(&fileID); err != nil {
			s.dbFail(w, r, err)
			return
		}
		s.stored.add(persource.Of(r.RemoteAddr), holding{kind: "file", id: fileID, bytes: int64(len(u.Data))})
		s.event("http", "upload", r.RemoteAddr, o.Username, "file uploaded", "file", u.Name, "size", len(u.Data), "mime", u.MIME)
	}
	var id int64
	if err := s.db.QueryRowContext(ctx, `INSERT INTO news(site_id, kind, title, summary, body, author, published, image_id) VALUES (?, 'news', ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.Site.ID, title, clip(f.Get("summary"), 500), body, o.Name, s.now().Format(dateLayout), fileID).Scan(&id); err != nil {
		s.dbFail(w, r, err)
		return
	}
	s.event("http", "publish", r.RemoteAddr, o.Username, "news published", "id", id, "site", o.Site.Code)
	http.Redirect(w, r, "/tin-tuc/"+itoa(id), http.StatusSeeOther)
}

type draftRow struct {
	ID                           int64  `json:"id"`
	Author, Title, Body, Created string `json:",omitempty"`
}

func (s *Server) drafts(w http.ResponseWriter, r *http.Request, o *Officer) {
	ctx, cancel := queryCtx(r)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT id, author, title, body, created FROM drafts WHERE site_id = ? ORDER BY id DESC LIMIT 100`, o.Site.ID)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	defer rows.Close()
	list := []draftRow{}
	for rows.Next() {
		var d draftRow
		if err := rows.Scan(&d.ID, &d.Author, &d.Title, &d.Body, &d.Created); err != nil {
			s.dbFail(w, r, err)
			return
		}
		list = append(list, d)
	}
	if isAPI(r) {
		writeJSON(w, http.StatusOK, list)
		return
	}
	s.render(w, http.StatusOK, "officeDrafts", view{"User": o.Username, "Site": o.Site, "Drafts": list})
}

// maxDraftsPerSite bounds an agency's drafts: past it the oldest go.
const maxDraftsPerSite = 500

func (s *Server) draftPost(w http.ResponseWriter, r *http.Request, o *Officer) {
	var title, body string
	if isAPI(r) {
		var in struct{ Title, Body string }
		if err := s.decodeJSON(w, r, &in); err != nil {
			jsonError(w, http.StatusBadRequest, err.Error())
			return
		}
		title, body = in.Title, in.Body
	} else {
		if err := s.parseForm(w, r); err != nil {
			s.fail(w, http.StatusBadRequest, "Yêu cầu không hợp lệ.")
			return
		}
		title, body = r.PostForm.Get("title"), r.PostForm.Get("body")
	}
	title, body = clip(title, 300), clip(body, 32<<10)
	if title == "" {
		s.fail(w, http.StatusBadRequest, "Vui lòng nhập tiêu đề.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO drafts(site_id, author, title, body, created) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		o.Site.ID, o.Username, title, body, s.now().Format(dateLayout)).Scan(&id)
	if err == nil {
		_, err = s.db.ExecContext(ctx, `DELETE FROM drafts WHERE site_id = ? AND id <= (SELECT id FROM drafts WHERE site_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, o.Site.ID, o.Site.ID, maxDraftsPerSite)
	}
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	s.event("http", "draft", r.RemoteAddr, o.Username, "draft saved", "id", id, "site", o.Site.Code)
	if isAPI(r) {
		writeJSON(w, http.StatusOK, map[string]int64{"id": id})
		return
	}
	http.Redirect(w, r, "/mot-cua/du-thao/"+itoa(id), http.StatusSeeOther)
}

func (s *Server) draftPage(w http.ResponseWriter, r *http.Request, o *Officer) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy dự thảo.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var d draftRow
	err := s.db.QueryRowContext(ctx, `SELECT id, author, title, body, created FROM drafts WHERE id = ? AND site_id = ?`, id, o.Site.ID).Scan(&d.ID, &d.Author, &d.Title, &d.Body, &d.Created)
	if err == sql.ErrNoRows {
		s.fail(w, http.StatusNotFound, "Không tìm thấy dự thảo.")
		return
	}
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	s.render(w, http.StatusOK, "officeDraft", view{"User": o.Username, "Draft": d})
}

type messageRow struct {
	ID                                           int64  `json:"id"`
	Sender, Email, Phone, Subject, Body, Created string `json:",omitempty"`
}

func (s *Server) inbox(w http.ResponseWriter, r *http.Request, o *Officer) {
	ctx, cancel := queryCtx(r)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT id, sender, email, phone, subject, body, created FROM messages WHERE site_id = ? ORDER BY id DESC LIMIT 200`, o.Site.ID)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	defer rows.Close()
	list := []messageRow{}
	for rows.Next() {
		var m messageRow
		if err := rows.Scan(&m.ID, &m.Sender, &m.Email, &m.Phone, &m.Subject, &m.Body, &m.Created); err != nil {
			s.dbFail(w, r, err)
			return
		}
		list = append(list, m)
	}
	if isAPI(r) {
		writeJSON(w, http.StatusOK, list)
		return
	}
	s.render(w, http.StatusOK, "officeInbox", view{"User": o.Username, "Site": o.Site, "Messages": list})
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, o *Officer) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy thư.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var m messageRow
	err := s.db.QueryRowContext(ctx, `SELECT id, sender, email, phone, subject, body, created FROM messages WHERE id = ? AND site_id = ?`, id, o.Site.ID).
		Scan(&m.ID, &m.Sender, &m.Email, &m.Phone, &m.Subject, &m.Body, &m.Created)
	if err != nil {
		s.fail(w, http.StatusNotFound, "Không tìm thấy thư.")
		return
	}
	s.event("http", "read_message", r.RemoteAddr, o.Username, "contact message read", "id", id)
	s.render(w, http.StatusOK, "officeMessage", view{"User": o.Username, "Message": m})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
