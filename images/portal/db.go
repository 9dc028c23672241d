package portal

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	_ "modernc.org/sqlite" // the "sqlite" driver: pure Go, so the image stays FROM scratch
)

// The database is a real SQLite engine (modernc.org/sqlite) in memory
// (the memdb VFS, shared by the pool's connections), so that the planted
// injection is a real SQL injection. The schema:
//
//	sites(id, code, name, kind, parent, short)
//	officers(id, username, full_name, title, role, site_id, phone, password_hash)
//	news(id, site_id, kind, title, summary, body, author, published, image_id)
//	documents(id, site_id, number, kind, title, signer, issued, file_name)
//	procedures(id, site_id, code, name, field, level, days, fee)
//	dossiers(id, code, procedure_id, site_id, applicant, citizen_id, phone,
//	         address, notes, status, submitted, updated, officer, result, source)
//	files(id, owner_kind, owner_id, name, mime, data, source)
//	drafts(id, site_id, author, title, body, created)
//	messages(id, site_id, sender, email, phone, subject, body, created, source)
//
// Nothing here is written to disk: the data lives as long as the process.
const schema = `
CREATE TABLE sites (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name TEXT NOT NULL, kind TEXT NOT NULL, parent INTEGER NOT NULL DEFAULT 0, short TEXT NOT NULL);
CREATE TABLE officers (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, full_name TEXT NOT NULL, title TEXT NOT NULL, role TEXT NOT NULL, site_id INTEGER NOT NULL, phone TEXT NOT NULL, password_hash TEXT NOT NULL);
CREATE TABLE news (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, summary TEXT NOT NULL, body TEXT NOT NULL, author TEXT NOT NULL, published TEXT NOT NULL, image_id INTEGER NOT NULL DEFAULT 0);
CREATE INDEX news_site ON news(site_id, published);
CREATE TABLE documents (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL, number TEXT NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, signer TEXT NOT NULL, issued TEXT NOT NULL, file_name TEXT NOT NULL);
CREATE INDEX documents_site ON documents(site_id, issued);
CREATE TABLE procedures (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL, code TEXT NOT NULL, name TEXT NOT NULL, field TEXT NOT NULL, level INTEGER NOT NULL, days INTEGER NOT NULL, fee TEXT NOT NULL);
CREATE INDEX procedures_site ON procedures(site_id);
CREATE TABLE dossiers (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL UNIQUE, procedure_id INTEGER NOT NULL, site_id INTEGER NOT NULL, applicant TEXT NOT NULL, citizen_id TEXT NOT NULL, phone TEXT NOT NULL, address TEXT NOT NULL, notes TEXT NOT NULL, status TEXT NOT NULL, submitted TEXT NOT NULL, updated TEXT NOT NULL, officer TEXT NOT NULL DEFAULT '', result TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '');
CREATE INDEX dossiers_site ON dossiers(site_id, status, id);
CREATE TABLE files (id INTEGER PRIMARY KEY AUTOINCREMENT, owner_kind TEXT NOT NULL, owner_id INTEGER NOT NULL, name TEXT NOT NULL, mime TEXT NOT NULL, data BLOB NOT NULL, source TEXT NOT NULL DEFAULT '');
CREATE INDEX files_owner ON files(owner_kind, owner_id);
CREATE TABLE drafts (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL, author TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, created TEXT NOT NULL);
CREATE INDEX drafts_site ON drafts(site_id, id);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id INTEGER NOT NULL, sender TEXT NOT NULL, email TEXT NOT NULL, phone TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, created TEXT NOT NULL, source TEXT NOT NULL DEFAULT '');
CREATE INDEX messages_site ON messages(site_id, id);
`

// Dossier statuses, in the one-stop shop's workflow.
const (
	StatusReceived   = "received"
	StatusProcessing = "processing"
	StatusSupplement = "supplement"
	StatusApproved   = "approved"
	StatusRejected   = "rejected"
)

// transitions is the workflow: from a status, the ones an officer may
// move a dossier to.
var transitions = map[string][]string{
	StatusReceived:   {StatusProcessing, StatusRejected},
	StatusProcessing: {StatusSupplement, StatusApproved, StatusRejected},
	StatusSupplement: {StatusProcessing, StatusRejected},
}

// statusLabel is how the portal writes a status.
var statusLabel = map[string]string{
	StatusReceived:   "Đã tiếp nhận",
	StatusProcessing: "Đang xử lý",
	StatusSupplement: "Yêu cầu bổ sung",
	StatusApproved:   "Đã có kết quả",
	StatusRejected:   "Từ chối giải quyết",
}

// queryTimeout bounds every statement, the injected ones included: a
// UNION over a cross join must not hold a connection for long.
const queryTimeout = 3 * time.Second

// openDB opens a fresh in-memory database with the schema.
func openDB(ctx context.Context) (*sql.DB, error) {
	var b [8]byte
	_, _ = crand.Read(b[:])
	dsn := "file:/portal-" + hex.EncodeToString(b[:]) + "?vfs=memdb&_pragma=busy_timeout(5000)&_pragma=foreign_keys(0)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("portal: open database: %w", err)
	}
	// The memdb VFS shares one database among the pool's connections;
	// writers take its lock in turn (busy_timeout), readers run side by
	// side.
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(0)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("portal: schema: %w", err)
	}
	return db, nil
}

// seedTime is the day the generated content ends: everything is dated
// before it.
func seedTime(now time.Time) time.Time {
	return now.UTC().Truncate(24 * time.Hour)
}

const dateLayout = "2006-01-02 15:04"

// seed fills the database with the province's generated content: news,
// announcements, legal documents, the procedures' catalogue and n
// dossiers, in one transaction.
func seed(ctx context.Context, db *sql.DB, r *rand.Rand, p *province, hashes []string, dossiers int, now time.Time) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("portal: seed: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = tx.PrepareContext(ctx, q)
		return st
	}
	insSite := prep(`INSERT INTO sites(id, code, name, kind, parent, short) VALUES (?, ?, ?, ?, ?, ?)`)
	insOfficer := prep(`INSERT INTO officers(id, username, full_name, title, role, site_id, phone, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	insNews := prep(`INSERT INTO news(site_id, kind, title, summary, body, author, published) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	insDoc := prep(`INSERT INTO documents(site_id, number, kind, title, signer, issued, file_name) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	insProc := prep(`INSERT INTO procedures(id, site_id, code, name, field, level, days, fee) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	insDossier := prep(`INSERT INTO dossiers(id, code, procedure_id, site_id, applicant, citizen_id, phone, address, notes, status, submitted, updated, officer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	insDraft := prep(`INSERT INTO drafts(site_id, author, title, body, created) VALUES (?, ?, ?, ?, ?)`)
	insMsg := prep(`INSERT INTO messages(site_id, sender, email, phone, subject, body, created) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("portal: seed: %w", err)
	}
	exec := func(st *sql.Stmt, args ...any) {
		if err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
	}
	end := seedTime(now)
	ago := func(maxDays int) string {
		return end.Add(-time.Duration(r.IntN(maxDays*24*60)) * time.Minute).Format(dateLayout)
	}
	type proc struct {
		id   int64
		site *Site
	}
	var procs []proc
	for _, s := range p.Sites {
		exec(insSite, s.ID, s.Code, s.Name, s.Kind, s.Parent, s.Short)
		staff := p.officersOf(s)
		nNews := 10
		if s.Kind == KindCommune {
			nNews = 4
		}
		for range nNews {
			topic := newsTopics[r.IntN(len(newsTopics))]
			title := fmt.Sprintf(newsForms[r.IntN(len(newsForms))], topic)
			exec(insNews, s.ID, "news", title, paragraph(r, 2), paragraph(r, 6)+"\n\n"+paragraph(r, 5), staff[r.IntN(len(staff))].Name, ago(180))
		}
		for range 2 {
			title := fmt.Sprintf(announcementForms[r.IntN(len(announcementForms))], 1+r.IntN(12))
			exec(insNews, s.ID, "announcement", title, paragraph(r, 1), paragraph(r, 4), staff[1].Name, ago(60))
		}
		for range 4 {
			k := docKinds[r.IntN(len(docKinds))]
			number := fmt.Sprintf("%d/%s-%s", 10+r.IntN(2900), k.stem, strings.ToUpper(strings.ReplaceAll(s.Short, " ", "")))
			topic := newsTopics[r.IntN(len(newsTopics))]
			exec(insDoc, s.ID, number, k.kind, k.kind+" về việc "+topic, staff[0].Name, ago(365), fmt.Sprintf("%s_%d_%s.pdf", k.stem, 10+r.IntN(2900), s.Code))
		}
		nProc := 8
		if s.Kind == KindMain {
			nProc = 4
		}
		for range nProc {
			f := procedureFields[r.IntN(len(procedureFields))]
			id := int64(len(procs) + 1)
			exec(insProc, id, s.ID, fmt.Sprintf("1.%06d", 1000+r.IntN(9000)+int(id)*10), f.names[r.IntN(len(f.names))], f.field, 3+r.IntN(2), 1+r.IntN(15), []string{"Không thu phí", "50.000 đồng", "100.000 đồng", "Miễn phí"}[r.IntN(4)])
			procs = append(procs, proc{id, s})
		}
		for i := range 2 {
			topic := newsTopics[r.IntN(len(newsTopics))]
			exec(insDraft, s.ID, staff[0].Username, fmt.Sprintf("Dự thảo %s về %s (lần %d)", docKinds[r.IntN(len(docKinds))].kind, topic, i+1), paragraph(r, 5), ago(30))
		}
		for range 2 {
			who := citizenName(r)
			exec(insMsg, s.ID, who, "", mobile(r), "Góp ý về "+newsTopics[r.IntN(len(newsTopics))], paragraph(r, 2), ago(60))
		}
	}
	for i, o := range p.Officers {
		exec(insOfficer, o.ID, o.Username, o.Name, o.Title, o.Role, o.Site.ID, o.Phone, hashes[i])
	}
	statuses := []string{StatusApproved, StatusApproved, StatusApproved, StatusProcessing, StatusReceived, StatusSupplement, StatusRejected}
	for i := range dossiers {
		id := int64(i + 1)
		pr := procs[r.IntN(len(procs))]
		submitted := end.Add(-time.Duration(dossiers-i) * 10 * time.Minute)
		st := statuses[r.IntN(len(statuses))]
		exec(insDossier, id, receiptCode(id), pr.id, pr.site.ID, citizenName(r), citizenID(r), mobile(r), address(r, pr.site), "",
			st, submitted.Format(dateLayout), submitted.Add(time.Duration(r.IntN(72))*time.Hour).Format(dateLayout), "")
	}
	if err != nil {
		return fmt.Errorf("portal: seed: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("portal: seed: %w", err)
	}
	return nil
}

// citizenName draws a citizen's name.
func citizenName(r *rand.Rand) string {
	return corpus.NewPerson(r).Full()
}

// receiptCode is the dossier's receipt code: HS and the dossier's
// number on eight digits, sequential as the one-stop shop hands them
// out.
func receiptCode(id int64) string { return fmt.Sprintf("HS%08d", id) }

var errBadReceipt = errors.New("invalid receipt code")

// parseReceipt reads a receipt code ("HS00050123", any case, spaces
// around) back into the dossier's id.
func parseReceipt(s string) (int64, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 10 || !strings.HasPrefix(s, "HS") {
		return 0, errBadReceipt
	}
	var id int64
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0, errBadReceipt
		}
		id = id*10 + int64(c-'0')
	}
	if id <= 0 {
		return 0, errBadReceipt
	}
	return id, nil
}

var errBadCitizenID = errors.New("citizen ID must be 12 digits")

// parseCitizenID reads a 12-digit citizen identity number, spaces
// allowed around.
func parseCitizenID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) != 12 {
		return "", errBadCitizenID
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return "", errBadCitizenID
		}
	}
	return s, nil
}
