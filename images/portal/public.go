package portal

import (
	"crypto/subtle"
	"database/sql"
	"fmt"
	"net/http"
	"strings"

	"github.com/cyrange/cyrange/internal/persource"
)

// The public portal: the main site and the component sites, news,
// documents, search, contact, the public services, and what the vendor
// left in the web root.

func (s *Server) publicHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /p/{site}/{$}", s.home)
	mux.HandleFunc("GET /tin-tuc/{id}", s.newsItem)
	mux.HandleFunc("GET /tim-kiem", s.search)
	mux.HandleFunc("GET /van-ban", s.documents)
	mux.HandleFunc("GET /van-ban/{id}/tep", s.documentFile)
	mux.HandleFunc("GET /tep/{id}", s.publicFile)
	mux.HandleFunc("GET /lien-he", s.contactPage)
	mux.HandleFunc("POST /lien-he", s.contactForm)
	mux.HandleFunc("GET /can-bo", s.officerDirectory)
	mux.HandleFunc("GET /dich-vu-cong/thu-tuc", s.procedures)
	mux.HandleFunc("GET /dich-vu-cong/thu-tuc/{id}", s.procedure)
	mux.HandleFunc("POST /dich-vu-cong/nop-ho-so", s.submitDossier)
	mux.HandleFunc("GET /dich-vu-cong/tra-cuu", s.lookup)
	mux.HandleFunc("GET /dich-vu-cong/ket-qua", s.result)
	mux.HandleFunc("GET /tien-ich/xem-truoc", s.preview)
	mux.HandleFunc("GET /robots.txt", s.robots)
	mux.HandleFunc("GET /backup/{$}", s.backupIndex)
	mux.HandleFunc("GET /backup/portal-config.bak", s.backupConfig)
	s.officeRoutes(mux)
	console := s.adminHandler(false)
	mux.Handle("/quantri/", console)
	return s.front("http", mux)
}

// siteOf reads the site a request names (?site= or the path), the main
// portal by default.
func (s *Server) siteOf(r *http.Request) (*Site, bool) {
	code := r.PathValue("site")
	if code == "" {
		code = r.URL.Query().Get("site")
	}
	if code == "" {
		return s.prov.Sites[0], true
	}
	return s.prov.site(code)
}

// newsRow is a news item or announcement as lists show it. Its fields
// are strings because the search's rows may come from anywhere.
type newsRow struct {
	ID, Title, Summary, Published string
}

func (s *Server) newsRows(r *http.Request, q string, args ...any) ([]newsRow, error) {
	ctx, cancel := queryCtx(r)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []newsRow
	for rows.Next() && len(out) < 200 {
		var v [4]any
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3]); err != nil {
			return nil, err
		}
		out = append(out, newsRow{text(v[0]), text(v[1]), text(v[2]), text(v[3])})
	}
	return out, rows.Err()
}

// text shows a scanned column of any type.
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	site, ok := s.siteOf(r)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	news, err := s.newsRows(r, `SELECT id, title, summary, published FROM news WHERE site_id = ? AND kind = 'news' ORDER BY published DESC LIMIT 10`, site.ID)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	ann, err := s.newsRows(r, `SELECT id, title, summary, published FROM news WHERE site_id = ? AND kind = 'announcement' ORDER BY published DESC LIMIT 5`, site.ID)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	var children []*Site
	for _, c := range s.prov.Sites {
		if site.Kind == KindMain && (c.Kind == KindDepartment || c.Kind == KindDistrict) || c.Parent == site.ID && site.Kind == KindDistrict {
			children = append(children, c)
		}
	}
	s.render(w, http.StatusOK, "home", view{"Site": site, "News": news, "Announcements": ann, "Children": children})
}

// dbFail answers a failed statement: logged with its error for the
// defence, a bare message for the visitor.
func (s *Server) dbFail(w http.ResponseWriter, r *http.Request, err error) {
	s.warn("http", "sql_error", r.RemoteAddr, "", "database error", "path", r.URL.Path, "error", trim(err.Error(), 500))
	s.fail(w, http.StatusInternalServerError, "Lỗi hệ thống, vui lòng thử lại sau.")
}

func (s *Server) newsItem(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy tin.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var it struct {
		ID                                      int64
		Site                                    int64
		Title, Summary, Body, Author, Published string
		ImageID                                 int64
	}
	err := s.db.QueryRowContext(ctx, `SELECT id, site_id, title, summary, body, author, published, image_id FROM news WHERE id = ?`, id).
		Scan(&it.ID, &it.Site, &it.Title, &it.Summary, &it.Body, &it.Author, &it.Published, &it.ImageID)
	if err == sql.ErrNoRows {
		s.fail(w, http.StatusNotFound, "Không tìm thấy tin.")
		return
	}
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	site := s.prov.Sites[0]
	if it.Site >= 1 && int(it.Site) <= len(s.prov.Sites) {
		site = s.prov.Sites[it.Site-1]
	}
	s.render(w, http.StatusOK, "news", view{"Title": it.Title, "Item": it, "Site": site, "Paragraphs": strings.Split(it.Body, "\n\n")})
}

// maxQuery bounds the search words.
const maxQuery = 1000

// search is the news search. As the vendor shipped it, it pastes the
// words into the statement (the news_sqli weakness); patched, it binds
// them as a parameter.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("q")
	if len(q) > maxQuery {
		s.fail(w, http.StatusBadRequest, "Từ khóa quá dài.")
		return
	}
	if strings.TrimSpace(q) == "" {
		s.render(w, http.StatusOK, "search", view{"Query": "", "Results": nil})
		return
	}
	var rows []newsRow
	var err error
	if s.sec.get().SearchPatched {
		rows, err = s.newsRows(r, `SELECT id, title, summary, published FROM news WHERE kind = 'news' AND title LIKE '%' || ? || '%' ORDER BY published DESC LIMIT 50`, q)
	} else {
		rows, err = s.newsRows(r, "SELECT id, title, summary, published FROM news WHERE kind = 'news' AND title LIKE '%"+q+"%' ORDER BY published DESC LIMIT 50")
	}
	if err != nil {
		s.warn("http", "sql_error", r.RemoteAddr, "", "search failed", "path", r.URL.Path, "q", trim(q, 500), "error", trim(err.Error(), 500))
		s.render(w, http.StatusInternalServerError, "search", view{"Query": q, "Error": "Lỗi khi tìm kiếm, vui lòng thử lại."})
		return
	}
	s.event("http", "search", r.RemoteAddr, "", "news searched", "q", trim(q, 500), "results", len(rows))
	s.render(w, http.StatusOK, "search", view{"Query": q, "Results": rows})
}

type docRow struct {
	ID                                            int64
	Number, Kind, Title, Signer, Issued, FileName string
}

func (s *Server) documents(w http.ResponseWriter, r *http.Request) {
	site, ok := s.siteOf(r)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT id, number, kind, title, signer, issued, file_name FROM documents WHERE site_id = ? ORDER BY issued DESC LIMIT 50`, site.ID)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	defer rows.Close()
	var docs []docRow
	for rows.Next() {
		var d docRow
		if err := rows.Scan(&d.ID, &d.Number, &d.Kind, &d.Title, &d.Signer, &d.Issued, &d.FileName); err != nil {
			s.dbFail(w, r, err)
			return
		}
		docs = append(docs, d)
	}
	s.render(w, http.StatusOK, "docs", view{"Site": site, "Docs": docs})
}

// documentFile serves a legal document's attachment, generated from
// the document's row: a minimal PDF with its number and title.
func (s *Server) documentFile(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy văn bản.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var d docRow
	err := s.db.QueryRowContext(ctx, `SELECT id, number, kind, title, signer, issued, file_name FROM documents WHERE id = ?`, id).
		Scan(&d.ID, &d.Number, &d.Kind, &d.Title, &d.Signer, &d.Issued, &d.FileName)
	if err != nil {
		s.fail(w, http.StatusNotFound, "Không tìm thấy văn bản.")
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", d.FileName))
	_, _ = fmt.Fprintf(w, "%%PDF-1.4\n%% %s %s\n%% %s\n%% Ky: %s, ngay %s\n%%%%EOF\n", d.Kind, d.Number, d.Title, d.Signer, d.Issued)
}

// publicFile serves a file attached to a published news item.
func (s *Server) publicFile(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy tệp.")
		return
	}
	s.serveFile(w, r, `SELECT name, mime, data FROM files WHERE id = ? AND owner_kind = 'news'`, id)
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, q string, args ...any) {
	ctx, cancel := queryCtx(r)
	defer cancel()
	var name, mime string
	var data []byte
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&name, &mime, &data); err != nil {
		s.fail(w, http.StatusNotFound, "Không tìm thấy tệp.")
		return
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	_, _ = w.Write(data)
}

func (s *Server) contactPage(w http.ResponseWriter, r *http.Request) {
	site, ok := s.siteOf(r)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	s.render(w, http.StatusOK, "contact", view{"Site": site, "Sent": ""})
}

// contactForm stores a message in the site's contact inbox.
func (s *Server) contactForm(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "Nội dung quá dài.")
		return
	}
	f := r.Form
	site, ok := s.prov.site(f.Get("site"))
	if f.Get("site") == "" {
		site, ok = s.prov.Sites[0], true
	}
	name, subject, body := clip(f.Get("name"), 100), clip(f.Get("subject"), 200), clip(f.Get("body"), 8000)
	if link := clip(f.Get("link"), maxURLLen); link != "" {
		body += "\n\nLiên kết: " + link
	}
	if !ok || name == "" || subject == "" || strings.TrimSpace(f.Get("body")) == "" {
		s.fail(w, http.StatusBadRequest, "Vui lòng nhập họ tên, tiêu đề và nội dung.")
		return
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO messages(site_id, sender, email, phone, subject, body, created, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		site.ID, name, clip(f.Get("email"), 100), clip(f.Get("phone"), 20), subject, body, s.now().Format(dateLayout), r.RemoteAddr).Scan(&id)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	s.stored.add(persource.Of(r.RemoteAddr), holding{kind: "message", id: id, bytes: int64(len(body) + len(subject) + 200)})
	s.event("http", "contact", r.RemoteAddr, "", "contact message received", "site", site.Code, "id", id)
	code := fmt.Sprintf("GY%06d", id)
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "code": code, "site": site.Code})
		return
	}
	s.render(w, http.StatusOK, "contact", view{"Site": site, "Sent": code})
}

func (s *Server) officerDirectory(w http.ResponseWriter, r *http.Request) {
	site, ok := s.siteOf(r)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	s.render(w, http.StatusOK, "officers", view{"Site": site, "Officers": s.prov.officersOf(site), "Domain": s.cfg.Domain})
}

type procRow struct {
	ID                int64
	Code, Name, Field string
	Level, Days       int
	Fee               string
	Site              int64
}

func (s *Server) procedures(w http.ResponseWriter, r *http.Request) {
	site, ok := s.siteOf(r)
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	q := clip(r.URL.Query().Get("q"), 200)
	ctx, cancel := queryCtx(r)
	defer cancel()
	rows, err := s.db.QueryContext(ctx, `SELECT id, code, name, field, level, days, fee, site_id FROM procedures WHERE site_id = ? AND (name LIKE '%' || ? || '%' OR field LIKE '%' || ? || '%') ORDER BY id LIMIT 100`, site.ID, q, q)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	defer rows.Close()
	var out []procRow
	for rows.Next() {
		var p procRow
		if err := rows.Scan(&p.ID, &p.Code, &p.Name, &p.Field, &p.Level, &p.Days, &p.Fee, &p.Site); err != nil {
			s.dbFail(w, r, err)
			return
		}
		out = append(out, p)
	}
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.render(w, http.StatusOK, "procedures", view{"Site": site, "Procedures": out, "Query": q})
}

func (s *Server) procByID(r *http.Request, id int64) (procRow, error) {
	ctx, cancel := queryCtx(r)
	defer cancel()
	var p procRow
	err := s.db.QueryRowContext(ctx, `SELECT id, code, name, field, level, days, fee, site_id FROM procedures WHERE id = ?`, id).
		Scan(&p.ID, &p.Code, &p.Name, &p.Field, &p.Level, &p.Days, &p.Fee, &p.Site)
	return p, err
}

func (s *Server) siteByID(id int64) *Site {
	if id >= 1 && int(id) <= len(s.prov.Sites) {
		return s.prov.Sites[id-1]
	}
	return s.prov.Sites[0]
}

func (s *Server) procedure(w http.ResponseWriter, r *http.Request) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		s.fail(w, http.StatusNotFound, "Không tìm thấy thủ tục.")
		return
	}
	p, err := s.procByID(r, id)
	if err != nil {
		s.fail(w, http.StatusNotFound, "Không tìm thấy thủ tục.")
		return
	}
	s.render(w, http.StatusOK, "procedure", view{"Proc": p, "Site": s.siteByID(p.Site)})
}

// validPhone accepts a Vietnamese phone number: 9 to 11 digits, a
// leading + allowed.
func validPhone(p string) bool {
	p = strings.TrimPrefix(strings.TrimSpace(p), "+")
	if len(p) < 9 || len(p) > 11 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// submitDossier takes a dossier online and answers its receipt code.
func (s *Server) submitDossier(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "Hồ sơ vượt quá dung lượng cho phép.")
		return
	}
	f := r.Form
	pid, ok := parseID(f.Get("procedure"))
	if !ok {
		s.fail(w, http.StatusBadRequest, "Thủ tục không hợp lệ.")
		return
	}
	p, err := s.procByID(r, pid)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "Thủ tục không hợp lệ.")
		return
	}
	applicant := clip(f.Get("applicant"), 100)
	cid, err := parseCitizenID(f.Get("citizen_id"))
	switch {
	case applicant == "":
		s.fail(w, http.StatusBadRequest, "Vui lòng nhập họ tên người nộp.")
		return
	case err != nil:
		s.fail(w, http.StatusBadRequest, "Số CCCD phải gồm 12 chữ số.")
		return
	case !validPhone(f.Get("phone")):
		s.fail(w, http.StatusBadRequest, "Số điện thoại không hợp lệ.")
		return
	}
	files, err := s.uploads(r, "files")
	if err != nil {
		s.fail(w, http.StatusRequestEntityTooLarge, "Tệp đính kèm vượt quá 2 MB.")
		return
	}
	notes := clip(f.Get("notes"), 2000)
	address := clip(f.Get("address"), 200)
	now := s.now().Format(dateLayout)
	ctx, cancel := queryCtx(r)
	defer cancel()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	defer func() { _ = tx.Rollback() }()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO dossiers(code, procedure_id, site_id, applicant, citizen_id, phone, address, notes, status, submitted, updated, source)
		VALUES ('P' || hex(randomblob(8)), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		p.ID, p.Site, applicant, cid, strings.TrimSpace(f.Get("phone")), address, notes, StatusReceived, now, now, r.RemoteAddr).Scan(&id)
	if err == nil {
		_, err = tx.ExecContext(ctx, `UPDATE dossiers SET code = ? WHERE id = ?`, receiptCode(id), id)
	}
	size := int64(len(notes) + len(address) + 300)
	for _, u := range files {
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO files(owner_kind, owner_id, name, mime, data, source) VALUES ('dossier', ?, ?, ?, ?, ?)`, id, u.Name, u.MIME, u.Data, r.RemoteAddr)
			size += int64(len(u.Data))
		}
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		s.dbFail(w, r, err)
		return
	}
	s.stored.add(persource.Of(r.RemoteAddr), holding{kind: "dossier", id: id, bytes: size})
	code := receiptCode(id)
	s.event("http", "submit_dossier", r.RemoteAddr, "", "dossier submitted", "code", code, "procedure", p.Code, "site", s.siteByID(p.Site).Code, "files", len(files))
	if r.URL.Query().Get("format") == "json" {
		writeJSON(w, http.StatusOK, map[string]string{"code": code})
		return
	}
	s.render(w, http.StatusOK, "receipt", view{"Code": code})
}

// dossierRow is a dossier as the lookup and the back office show it.
type dossierRow struct {
	ID                                                  int64  `json:"-"`
	Code                                                string `json:"code"`
	Procedure                                           string `json:"procedure"`
	Site                                                string `json:"site"`
	SiteID                                              int64  `json:"-"`
	Applicant, CitizenID, Phone, Address, Notes, Status string
	StatusLabel                                         string `json:"statusLabel"`
	Submitted, Updated, Officer, Result                 string
}

const dossierCols = `d.id, d.code, p.name, d.site_id, d.applicant, d.citizen_id, d.phone, d.address, d.notes, d.status, d.submitted, d.updated, d.officer, d.result`

func (s *Server) scanDossier(sc interface{ Scan(...any) error }) (dossierRow, error) {
	var d dossierRow
	err := sc.Scan(&d.ID, &d.Code, &d.Procedure, &d.SiteID, &d.Applicant, &d.CitizenID, &d.Phone, &d.Address, &d.Notes, &d.Status, &d.Submitted, &d.Updated, &d.Officer, &d.Result)
	d.Site = s.siteByID(d.SiteID).Name
	d.StatusLabel = statusLabel[d.Status]
	return d, err
}

// findDossier is the public lookup: by receipt code and, unless the
// dossier_idor weakness is on, the matching citizen ID.
func (s *Server) findDossier(r *http.Request, code, cid string) (dossierRow, bool) {
	id, err := parseReceipt(code)
	if err != nil {
		return dossierRow{}, false
	}
	ctx, cancel := queryCtx(r)
	defer cancel()
	d, err := s.scanDossier(s.db.QueryRowContext(ctx, `SELECT `+dossierCols+` FROM dossiers d JOIN procedures p ON p.id = d.procedure_id WHERE d.id = ?`, id))
	if err != nil {
		return dossierRow{}, false
	}
	if s.sec.get().LookupRequiresID {
		given, err := parseCitizenID(cid)
		if err != nil || subtle.ConstantTimeCompare([]byte(given), []byte(d.CitizenID)) != 1 {
			return dossierRow{}, false
		}
	}
	return d, true
}

func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	code, cid := clip(q.Get("ma"), 40), clip(q.Get("cccd"), 40)
	if code == "" {
		s.render(w, http.StatusOK, "lookup", view{"Code": "", "CitizenID": "", "Dossier": nil})
		return
	}
	d, ok := s.findDossier(r, code, cid)
	if !ok {
		s.warn("http", "lookup", r.RemoteAddr, "", "dossier lookup failed", "code", code)
		if q.Get("format") == "json" {
			jsonError(w, http.StatusNotFound, "not found")
			return
		}
		s.render(w, http.StatusNotFound, "lookup", view{"Code": code, "CitizenID": cid, "Dossier": nil, "Error": "Không tìm thấy hồ sơ với mã và số CCCD đã nhập."})
		return
	}
	s.event("http", "lookup", r.RemoteAddr, "", "dossier looked up", "code", d.Code, "id_matches", d.CitizenID == strings.TrimSpace(cid))
	if q.Get("format") == "json" {
		writeJSON(w, http.StatusOK, d)
		return
	}
	s.render(w, http.StatusOK, "lookup", view{"Code": code, "CitizenID": cid, "Dossier": d})
}

// result serves the decision of an approved dossier.
func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d, ok := s.findDossier(r, clip(q.Get("ma"), 40), clip(q.Get("cccd"), 40))
	if !ok || d.Status != StatusApproved {
		s.fail(w, http.StatusNotFound, "Hồ sơ chưa có kết quả.")
		return
	}
	s.event("http", "result_download", r.RemoteAddr, "", "dossier result downloaded", "code", d.Code)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "KetQua_"+d.Code+".txt"))
	_, _ = fmt.Fprintf(w, "KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH\nMã hồ sơ: %s\nThủ tục: %s\nCơ quan giải quyết: %s\nNgười nộp: %s\nSố CCCD: %s\nKết quả: %s\nNgày: %s\n",
		d.Code, d.Procedure, d.Site, d.Applicant, d.CitizenID, d.Result, d.Updated)
}

// preview is the link preview of the contact form and the documents:
// the URL fetcher's public face (the ssrf_import weakness when
// unrestricted).
func (s *Server) preview(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("url")
	if raw == "" {
		s.render(w, http.StatusOK, "preview", view{"URL": "", "Body": ""})
		return
	}
	u, err := parseImportURL(raw)
	if err != nil {
		s.render(w, http.StatusBadRequest, "preview", view{"URL": trim(raw, maxURLLen), "Body": "", "Error": "Địa chỉ không hợp lệ."})
		return
	}
	ct, body, err := s.fetch(r.Context(), u)
	if err != nil {
		s.warn("http", "fetch", r.RemoteAddr, "", "link preview refused or failed", "url", u.Redacted(), "error", err.Error())
		s.render(w, http.StatusBadGateway, "preview", view{"URL": u.String(), "Body": "", "Error": "Không tải được địa chỉ này."})
		return
	}
	s.event("http", "fetch", r.RemoteAddr, "", "link previewed", "url", u.Redacted(), "bytes", len(body))
	s.render(w, http.StatusOK, "preview", view{"URL": u.String(), "Type": ct, "Body": string(body)})
}

func (s *Server) robots(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprint(w, "User-agent: *\nDisallow: /quantri/\nDisallow: /mot-cua/\nDisallow: /tim-kiem\n")
}

// backupIndex is the directory listing the web server shows of /backup/
// while the installer's backup is there.
func (s *Server) backupIndex(w http.ResponseWriter, r *http.Request) {
	if !s.sec.get().BackupExposed {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = fmt.Fprintf(w, "<html><head><title>Index of /backup/</title></head><body><h1>Index of /backup/</h1><pre><a href=\"../\">../</a>\n<a href=\"portal-config.bak\">portal-config.bak</a>   %d\n</pre></body></html>\n", len(s.backup))
}

func (s *Server) backupConfig(w http.ResponseWriter, r *http.Request) {
	if !s.sec.get().BackupExposed {
		s.fail(w, http.StatusNotFound, "Không tìm thấy trang.")
		return
	}
	s.warn("http", "backup_download", r.RemoteAddr, "", "configuration backup downloaded", "path", r.URL.Path)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(s.backup)
}
