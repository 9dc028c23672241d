package mailserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/mailserver/mailmsg"
	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/persource"
)

// The webmail's storage paths, as its configuration file shows them: the
// attachment download reads files under attachmentRoot.
const (
	attachmentRoot = "/var/lib/vnmail/attachments"
	mailRoot       = "/var/mail"
	pageSize       = 50
)

func (s *Server) webmailHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/webmail/", http.StatusFound)
	})
	mux.HandleFunc("GET /webmail/{$}", s.webHome)
	mux.HandleFunc("GET /webmail/login", s.webLoginPage)
	mux.HandleFunc("POST /webmail/login", s.webLoginForm)
	mux.HandleFunc("GET /webmail/logout", s.webLogout)
	mux.HandleFunc("GET /webmail/inbox", s.webUser(s.webInbox))
	mux.HandleFunc("GET /webmail/read", s.webUser(s.webRead))
	mux.HandleFunc("GET /webmail/download", s.webUser(s.webDownload))
	mux.HandleFunc("GET /webmail/compose", s.webUser(s.webComposePage))
	mux.HandleFunc("POST /webmail/compose", s.webUser(s.webComposeForm))
	mux.HandleFunc("POST /webmail/api/login", s.apiLogin)
	mux.HandleFunc("GET /webmail/api/folders", s.webUser(s.apiFolders))
	mux.HandleFunc("GET /webmail/api/messages", s.webUser(s.apiMessages))
	mux.HandleFunc("GET /webmail/api/message", s.webUser(s.apiMessage))
	mux.HandleFunc("POST /webmail/api/send", s.webUser(s.apiSend))
	mux.HandleFunc("GET /danhba", s.webDirectory)
	mux.HandleFunc("GET /danhba.json", s.webDirectoryJSON)
	mux.HandleFunc("GET /huongdan", s.webGuide)
	mux.HandleFunc("GET /robots.txt", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "User-agent: *\nDisallow: /webmail/\nDisallow: /admin/\n")
	})
	public := s.adminHandler(false)
	mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.sec.get().AdminOnWebmail {
			http.NotFound(w, r)
			return
		}
		public.ServeHTTP(w, r)
	}))
	return serverHeader(mux)
}

// serverHeader stamps responses as the vendor's product does.
func serverHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "VNMail/3.2.7")
		w.Header().Set("X-Powered-By", "VNMail Webmail")
		h.ServeHTTP(w, r)
	})
}

type userHandler func(w http.ResponseWriter, r *http.Request, sess *session)

// webUser requires a webmail session; pages redirect to the login form and
// API calls get a 401.
func (s *Server) webUser(h userHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.webSessions.get(r)
		if !ok || sess.acct == nil {
			if strings.HasPrefix(r.URL.Path, "/webmail/api/") {
				jsonError(w, http.StatusUnauthorized, "not logged in")
				return
			}
			http.Redirect(w, r, "/webmail/login", http.StatusFound)
			return
		}
		h(w, r, sess)
	}
}

func (s *Server) webHome(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.webSessions.get(r); ok && sess.acct != nil {
		http.Redirect(w, r, "/webmail/inbox", http.StatusFound)
		return
	}
	http.Redirect(w, r, "/webmail/login", http.StatusFound)
}

func (s *Server) webLoginPage(w http.ResponseWriter, _ *http.Request) {
	s.render(w, http.StatusOK, "login", map[string]any{"Error": ""})
}

// login checks a webmail login and opens a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request, user, password string) (*Account, loginResult) {
	acct, _ := s.dir.Lookup(user)
	g, res := s.sec.login(acct, user, password, firewall.Source(r.RemoteAddr))
	name := user
	if acct != nil {
		name = acct.Addr
	}
	if res != loginOK {
		s.warn("http", "login", r.RemoteAddr, name, "webmail login failed", "result", res.String(), "agent", r.UserAgent())
		return nil, res
	}
	s.webSessions.create(w, &session{acct: acct, grant: g}, "/webmail/")
	s.event("http", "login", r.RemoteAddr, name, "webmail login", "agent", r.UserAgent())
	return acct, loginOK
}

func (s *Server) webLoginForm(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, "login", map[string]any{"Error": "Yêu cầu không hợp lệ."})
		return
	}
	_, res := s.login(w, r, r.PostForm.Get("username"), r.PostForm.Get("password"))
	switch res {
	case loginOK:
		http.Redirect(w, r, "/webmail/inbox", http.StatusSeeOther)
	case loginLocked:
		s.render(w, http.StatusForbidden, "login", map[string]any{"Error": "Tài khoản tạm thời bị khóa do đăng nhập sai nhiều lần. Vui lòng thử lại sau 15 phút."})
	default:
		s.render(w, http.StatusUnauthorized, "login", map[string]any{"Error": "Tên đăng nhập hoặc mật khẩu không đúng."})
	}
}

func (s *Server) apiLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := decodeJSON(r, &body); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	acct, res := s.login(w, r, body.User, body.Password)
	switch res {
	case loginOK:
		writeJSON(w, http.StatusOK, map[string]string{"user": acct.Addr, "name": acct.Name()})
	case loginLocked:
		jsonError(w, http.StatusForbidden, "account locked, try again later")
	default:
		jsonError(w, http.StatusUnauthorized, "invalid user name or password")
	}
}

func (s *Server) webLogout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.webSessions.get(r); ok && sess.acct != nil {
		s.event("http", "logout", r.RemoteAddr, sess.acct.Addr, "webmail logout")
	}
	s.webSessions.destroy(w, r, "/webmail/")
	http.Redirect(w, r, "/webmail/login", http.StatusFound)
}

// listing is one page of a folder.
type listing struct {
	Folder   string        `json:"folder"`
	Page     int           `json:"page"`
	Pages    int           `json:"pages"`
	Total    int           `json:"total"`
	Messages []listingItem `json:"messages"`
}

type listingItem struct {
	ID             int64     `json:"id"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Subject        string    `json:"subject"`
	Date           time.Time `json:"date"`
	Seen           bool      `json:"seen"`
	HasAttachments bool      `json:"hasAttachments"`
	MessageID      string    `json:"messageId"`
}

func (s *Server) listFolder(acct *Account, folderName, q string, page int) (listing, error) {
	if folderName == "" {
		folderName = "INBOX"
	}
	msgs, err := s.store.list(acct, folderName)
	if err != nil {
		return listing{}, err
	}
	q = corpus.Fold(q)
	var items []listingItem
	for _, m := range msgs {
		if q != "" && !strings.Contains(corpus.Fold(m.Sum.Subject+" "+m.Sum.From+" "+m.Sum.MessageID), q) {
			continue
		}
		items = append(items, listingItem{ID: m.ID, From: m.Sum.From, To: m.Sum.To, Subject: m.Sum.Subject, Date: m.Date, Seen: m.Seen, HasAttachments: m.Sum.Multipart, MessageID: m.Sum.MessageID})
	}
	l := listing{Folder: folderName, Page: page, Total: len(items), Pages: max(1, (len(items)+pageSize-1)/pageSize)}
	lo := min((page-1)*pageSize, len(items))
	l.Messages = items[lo:min(lo+pageSize, len(items))]
	if l.Messages == nil {
		l.Messages = []listingItem{}
	}
	return l, nil
}

func (s *Server) webInbox(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	l, err := s.listFolder(sess.acct, q.Get("folder"), q.Get("q"), parsePage(q.Get("page")))
	if err != nil {
		s.render(w, http.StatusNotFound, "error", map[string]any{"Error": "Thư mục không tồn tại."})
		return
	}
	s.event("http", "list", r.RemoteAddr, sess.acct.Addr, "folder listed", "mailbox", l.Folder, "page", l.Page)
	s.render(w, http.StatusOK, "inbox", map[string]any{
		"Account": sess.acct, "Listing": l, "Folders": s.store.folderNames(sess.acct), "Query": q.Get("q"),
	})
}

func (s *Server) apiFolders(w http.ResponseWriter, r *http.Request, sess *session) {
	type folderInfo struct {
		Name   string `json:"name"`
		Total  int    `json:"total"`
		Unseen int    `json:"unseen"`
	}
	b := s.store.lock(sess.acct)
	out := make([]folderInfo, 0, len(b.folders))
	for _, f := range b.folders {
		out = append(out, folderInfo{Name: f.name, Total: len(f.msgs), Unseen: int(f.count(imap.FlagSeen, false))})
	}
	b.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	l, err := s.listFolder(sess.acct, q.Get("folder"), q.Get("q"), parsePage(q.Get("page")))
	if err != nil {
		jsonError(w, http.StatusNotFound, "no such folder")
		return
	}
	s.event("http", "list", r.RemoteAddr, sess.acct.Addr, "folder listed", "mailbox", l.Folder, "page", l.Page)
	writeJSON(w, http.StatusOK, l)
}

// openMessage loads message id for the session's user. Without the access
// control patch it hands out any user's message (webmail_idor): the
// webmail only checked the id, not who owns it.
func (s *Server) openMessage(r *http.Request, sess *session, id int64) (stored, bool) {
	m, ok := s.store.message(id)
	if !ok {
		s.event("http", "read", r.RemoteAddr, sess.acct.Addr, "message not found", "id", id)
		return stored{}, false
	}
	if m.Owner != sess.acct && s.sec.get().IDORPatched {
		s.warn("http", "read", r.RemoteAddr, sess.acct.Addr, "access denied to message", "id", id)
		return stored{}, false
	}
	if m.Owner == sess.acct && !m.Seen {
		s.store.markSeen(sess.acct, id)
	}
	return m, true
}

// messageView is a message as the webmail shows it.
type messageView struct {
	ID          int64            `json:"id"`
	Folder      string           `json:"folder"`
	From        string           `json:"from"`
	To          string           `json:"to"`
	Cc          string           `json:"cc"`
	Subject     string           `json:"subject"`
	Date        time.Time        `json:"date"`
	MessageID   string           `json:"messageId"`
	Text        string           `json:"text"`
	Attachments []attachmentView `json:"attachments"`
}

type attachmentView struct {
	Name        string `json:"name"`
	Size        int    `json:"size"`
	ContentType string `json:"contentType"`
	URL         string `json:"url"`
}

func viewOf(m stored) messageView {
	p := mailmsg.Parse(m.Raw)
	v := messageView{ID: m.ID, Folder: m.Folder, From: p.From, To: p.To, Cc: p.Cc, Subject: p.Subject, Date: m.Date, MessageID: p.MessageID, Text: p.Text, Attachments: []attachmentView{}}
	for _, a := range p.Attachments {
		v.Attachments = append(v.Attachments, attachmentView{
			Name: a.Name, Size: len(a.Data), ContentType: a.ContentType,
			URL: "/webmail/download?id=" + strconv.FormatInt(m.ID, 10) + "&file=" + url.QueryEscape(a.Name),
		})
	}
	return v
}

func (s *Server) webRead(w http.ResponseWriter, r *http.Request, sess *session) {
	id, err := parseID(r.URL.Query().Get("id"))
	if err != nil {
		s.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Mã thư không hợp lệ."})
		return
	}
	m, ok := s.openMessage(r, sess, id)
	if !ok {
		s.render(w, http.StatusNotFound, "error", map[string]any{"Error": "Không tìm thấy thư."})
		return
	}
	s.event("http", "read", r.RemoteAddr, sess.acct.Addr, "message opened", "id", id)
	s.render(w, http.StatusOK, "read", map[string]any{"Account": sess.acct, "Message": viewOf(m)})
}

func (s *Server) apiMessage(w http.ResponseWriter, r *http.Request, sess *session) {
	id, err := parseID(r.URL.Query().Get("id"))
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	m, ok := s.openMessage(r, sess, id)
	if !ok {
		jsonError(w, http.StatusNotFound, "no such message")
		return
	}
	s.event("http", "read", r.RemoteAddr, sess.acct.Addr, "message opened", "id", id)
	writeJSON(w, http.StatusOK, viewOf(m))
}

// webDownload serves an attachment. Unpatched, it builds a file path from
// the file parameter as given and reads it (path_traversal); patched, it
// serves only an attachment of that message by its exact name.
func (s *Server) webDownload(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	id, err := parseID(q.Get("id"))
	file := q.Get("file")
	if err != nil || file == "" {
		http.Error(w, "invalid request", http.StatusBadRequest)
		return
	}
	m, ok := s.openMessage(r, sess, id)
	if !ok {
		http.NotFound(w, r)
		return
	}
	var data []byte
	if s.sec.get().TraversalPatched {
		ok = false
		for _, a := range mailmsg.Parse(m.Raw).Attachments {
			if a.Name == file {
				data, ok = a.Data, true
				break
			}
		}
		if !ok {
			s.warn("http", "download", r.RemoteAddr, sess.acct.Addr, "attachment not found", "id", id, "file", file)
			http.NotFound(w, r)
			return
		}
	} else {
		full := path.Clean(attachmentRoot + "/" + strconv.FormatInt(id, 10) + "/" + file)
		data, ok = s.readFile(full)
		if !ok {
			s.warn("http", "download", r.RemoteAddr, sess.acct.Addr, "file not found", "id", id, "file", file)
			http.Error(w, "File not found: "+full, http.StatusNotFound)
			return
		}
	}
	s.event("http", "download", r.RemoteAddr, sess.acct.Addr, "attachment downloaded", "id", id, "file", file, "size", len(data))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(file)}))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// composed is a message written in the webmail.
type composed struct {
	To          []string             `json:"to"`
	Cc          []string             `json:"cc"`
	Subject     string               `json:"subject"`
	Text        string               `json:"text"`
	Draft       bool                 `json:"draft"`
	Attachments []mailmsg.Attachment `json:"-"`
}

var errNoRecipient = errors.New("no valid recipient")

// submit sends or saves what a user composed and returns the id of the copy
// kept in Sent or Drafts.
func (s *Server) submit(r *http.Request, sess *session, c composed) (int64, string, error) {
	acct := sess.acct
	wr := writer{system: sess.grant.master, src: firewall.Source(r.RemoteAddr)}
	to, cc := cleanAddresses(c.To), cleanAddresses(c.Cc)
	if !c.Draft && len(to)+len(cc) == 0 {
		return 0, "", errNoRecipient
	}
	now := s.now()
	d := mailmsg.Message{
		From:        mailmsg.FormatAddress(acct.Name(), acct.Addr),
		To:          to,
		Cc:          cc,
		Subject:     c.Subject,
		Date:        now,
		MessageID:   mailmsg.NewMessageID(s.dir.Domain, now),
		Mailer:      "VNMail Webmail 3.2",
		Text:        c.Text,
		Attachments: c.Attachments,
	}
	raw := d.Render()
	if int64(len(raw)) > s.store.limits.MessageBytes {
		return 0, "", errTooLarge
	}
	if c.Draft {
		id, err := s.store.deliver(acct, "Drafts", raw, []imap.Flag{imap.FlagDraft, imap.FlagSeen}, wr)
		if err == nil {
			s.event("http", "draft", r.RemoteAddr, acct.Addr, "draft saved", "id", id, "size", len(raw))
		}
		return id, d.MessageID, err
	}
	var local []*Account
	var remote []string
	for _, a := range append(append([]string(nil), to...), cc...) {
		if !s.dir.Local(a) {
			remote = append(remote, a)
			continue
		}
		if accts, ok := s.expand(a); ok {
			local = append(local, accts...)
		}
	}
	received := fmt.Sprintf("Received: from webmail (%s)\r\n\tby %s (VNMail) with HTTP;\r\n\t%s\r\n", r.RemoteAddr, s.hostname, now.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	ids, delivered, err := s.deliverAll(local, append([]byte(received), raw...), wr)
	if err != nil {
		s.warn("http", "send", r.RemoteAddr, acct.Addr, "message refused: quota", "size", len(raw), "reason", err.Error())
		return 0, "", err
	}
	id, err := s.store.deliver(acct, "Sent", raw, []imap.Flag{imap.FlagSeen}, wr)
	s.event("http", "send", r.RemoteAddr, acct.Addr, "message sent", "to", delivered, "ids", ids, "remote", remote, "size", len(raw))
	return id, d.MessageID, err
}

func cleanAddresses(in []string) []string {
	var out []string
	for _, a := range in {
		out = append(out, splitAddresses(a)...)
	}
	return out
}

// composeBody bounds a compose request: a message of the size limit with
// its attachments encoded.
func (s *Server) composeBody() int64 { return s.store.limits.MessageBytes * 2 }

// holdCompose takes from the in-flight budget what decoding and rendering
// a compose request of r's size may hold (a few copies of it), so that
// many large requests at once are refused instead of exhausting the
// memory. It returns what to give back, or false.
func (s *Server) holdCompose(r *http.Request, sess *session) (func(), bool) {
	n := r.ContentLength
	if n < 0 || n > s.composeBody() {
		n = s.composeBody()
	}
	pool, size := s.inflight, s.inflightShare()
	if sess.grant.master {
		pool, size = s.sysInflight, s.sysInflightBytes()
	}
	// A request as large as the source's share still goes through alone.
	n = min(3*n+dataChunk, size)
	src := persource.Of(r.RemoteAddr) // who sends it now, whoever logged in
	if !pool.take(src, n) {
		return nil, false
	}
	return func() { pool.give(src, n) }, true
}

// submitStatus is the HTTP status of a refused message.
func submitStatus(err error) int {
	switch {
	case errors.Is(err, errMailboxFull), errors.Is(err, errStorageFull), errors.Is(err, errSourceFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

var errTooLarge = errors.New("message too large")

func (s *Server) apiSend(w http.ResponseWriter, r *http.Request, sess *session) {
	release, ok := s.holdCompose(r, sess)
	if !ok {
		jsonError(w, http.StatusServiceUnavailable, errBusy.Error())
		return
	}
	defer release()
	r.Body = http.MaxBytesReader(w, r.Body, s.composeBody())
	var body struct {
		composed
		Attachments []struct {
			Name        string `json:"name"`
			ContentType string `json:"contentType"`
			Data        string `json:"data"`
		} `json:"attachments"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		jsonError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	c := body.composed
	for _, a := range body.Attachments {
		data, err := base64.StdEncoding.DecodeString(a.Data)
		if err != nil || a.Name == "" {
			jsonError(w, http.StatusBadRequest, "attachment "+strconv.Quote(a.Name)+": name and base64 data required")
			return
		}
		c.Attachments = append(c.Attachments, mailmsg.Attachment{Name: a.Name, ContentType: a.ContentType, Data: data})
	}
	id, msgID, err := s.submit(r, sess, c)
	if err != nil {
		jsonError(w, submitStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "messageId": msgID})
}

func (s *Server) webComposePage(w http.ResponseWriter, r *http.Request, sess *session) {
	s.render(w, http.StatusOK, "compose", map[string]any{"Account": sess.acct, "To": r.URL.Query().Get("to")})
}

// parseCompose reads the compose form (multipart, with attached files),
// holding at most limit bytes of it in memory.
func parseCompose(r *http.Request, limit int64) (composed, error) {
	if err := r.ParseMultipartForm(limit); err != nil {
		if !errors.Is(err, http.ErrNotMultipart) {
			return composed{}, err
		}
		if err := r.ParseForm(); err != nil {
			return composed{}, err
		}
	}
	c := composed{
		To:      []string{r.FormValue("to")},
		Cc:      []string{r.FormValue("cc")},
		Subject: strings.TrimSpace(r.FormValue("subject")),
		Text:    r.FormValue("body"),
		Draft:   r.FormValue("action") == "draft",
	}
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["attachment"] {
			f, err := fh.Open()
			if err != nil {
				return composed{}, err
			}
			data, err := io.ReadAll(io.LimitReader(f, limit))
			_ = f.Close()
			if err != nil {
				return composed{}, err
			}
			name := path.Base(strings.ReplaceAll(fh.Filename, "\\", "/"))
			if name == "." || name == "/" {
				name = "tailieu.bin"
			}
			c.Attachments = append(c.Attachments, mailmsg.Attachment{Name: name, ContentType: fh.Header.Get("Content-Type"), Data: data})
		}
	}
	return c, nil
}

func (s *Server) webComposeForm(w http.ResponseWriter, r *http.Request, sess *session) {
	release, ok := s.holdCompose(r, sess)
	if !ok {
		s.render(w, http.StatusServiceUnavailable, "compose", map[string]any{"Account": sess.acct, "Error": "Máy chủ đang bận, vui lòng thử lại sau."})
		return
	}
	defer release()
	r.Body = http.MaxBytesReader(w, r.Body, s.composeBody())
	c, err := parseCompose(r, s.store.limits.MessageBytes)
	if err != nil {
		s.render(w, http.StatusBadRequest, "error", map[string]any{"Error": "Biểu mẫu không hợp lệ."})
		return
	}
	if _, _, err := s.submit(r, sess, c); err != nil {
		msg := "Chưa có người nhận hợp lệ."
		if submitStatus(err) != http.StatusBadRequest {
			msg = "Hộp thư hoặc máy chủ đã hết dung lượng."
		}
		s.render(w, submitStatus(err), "compose", map[string]any{"Account": sess.acct, "Error": msg})
		return
	}
	folder := "Sent"
	if c.Draft {
		folder = "Drafts"
	}
	http.Redirect(w, r, "/webmail/inbox?folder="+folder, http.StatusSeeOther)
}

// contact is one entry of the public contact directory.
type contact struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Agency string `json:"agency"`
	Email  string `json:"email"`
	Phone  string `json:"phone"`
}

func (s *Server) contacts() []contact {
	var out []contact
	for _, a := range s.dir.Listed() {
		name := a.Name()
		if a.Role == RoleClerk {
			name = "Văn thư"
		}
		out = append(out, contact{Name: name, Title: a.Title, Agency: a.Agency.Name, Email: a.Addr, Phone: a.Phone})
	}
	return out
}

func (s *Server) webDirectory(w http.ResponseWriter, r *http.Request) {
	s.event("http", "directory", r.RemoteAddr, "", "contact directory viewed", "agent", r.UserAgent())
	s.render(w, http.StatusOK, "danhba", map[string]any{"Contacts": s.contacts()})
}

func (s *Server) webDirectoryJSON(w http.ResponseWriter, r *http.Request) {
	s.event("http", "directory", r.RemoteAddr, "", "contact directory viewed", "agent", r.UserAgent())
	writeJSON(w, http.StatusOK, s.contacts())
}

func (s *Server) webGuide(w http.ResponseWriter, r *http.Request) {
	s.event("http", "guide", r.RemoteAddr, "", "users' guide viewed", "agent", r.UserAgent())
	s.render(w, http.StatusOK, "huongdan", map[string]any{"Initial": s.initial})
}
