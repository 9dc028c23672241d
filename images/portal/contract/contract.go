// Package contract holds what the portal replica, its checker, its
// reference exploits and its target adapter must agree on: the names of
// the planted weaknesses with their ATT&CK techniques and flag stores,
// the names of the flag stores, and the derivation of the checker's
// master passwords.
//
// It is imported by the server, the client, the exploits and (later) the
// checker, so it must never import any of them, nor anything outside the
// standard library.
package contract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// ServiceName is the target's image and role name.
const ServiceName = "portal"

// The planted weaknesses, as a scenario's options.weaknesses names them.
const (
	NewsSQLi             = "news_sqli"
	DossierIDOR          = "dossier_idor"
	BackupExposed        = "backup_exposed"
	AdminDefaultPassword = "admin_default_password"
	WeakSessionSecret    = "weak_session_secret"
	SSRFImport           = "ssrf_import"
	NoLockout            = "no_lockout"
)

// The flag stores, in the order of the checker's variantId.
const (
	// StoreDossier is a citizen's dossier: the checker submits it through
	// the public form and keeps the receipt code and citizen ID.
	StoreDossier = "dossier"
	// StoreDraft is an agency's internal draft document, written by an
	// officer in the back office.
	StoreDraft = "draft"
	// StoreContact is a message sent through a site's contact form, read
	// in its officers' contact inbox.
	StoreContact = "contact"
)

// Stores lists the flag stores; the index is the checker's variantId.
func Stores() []string {
	return []string{StoreDossier, StoreDraft, StoreContact}
}

// Info is what the README's weakness table says of a weakness.
type Info struct {
	Name        string
	Description string
	Techniques  []string // MITRE ATT&CK technique ids
	Stores      []string // the flag stores its reference exploit reaches
	Remedy      string   // what the defence does in the admin console
}

// All describes every weakness, in a stable order.
func All() []Info {
	all := Stores()
	return []Info{
		{NewsSQLi, "the news search pastes the search words into its SQL query, so a UNION reads any table (officers, dossiers, drafts, contact messages)",
			[]string{"T1190", "T1213"}, all, "tick Vá lỗi tìm kiếm tin tức (parameterised query; API {\"searchPatched\": true})"},
		{DossierIDOR, "the dossier status lookup finds a dossier by its sequential receipt code alone and ignores the citizen ID",
			[]string{"T1190", "T1087"}, []string{StoreDossier}, "tick Bắt buộc số CCCD khi tra cứu hồ sơ (API {\"lookupRequiresID\": true})"},
		{BackupExposed, "a configuration backup left at /backup/portal-config.bak holds the session signing secret and the portal's mail account",
			[]string{"T1083", "T1552.001"}, []string{StoreDraft, StoreContact}, "untick Bản sao lưu cấu hình trong thư mục web (API {\"backupExposed\": false}), then rotate the session secret"},
		{AdminDefaultPassword, "the vendor's console account admin keeps its documented default password, and the console is also mounted under /quantri/ on the public portal",
			[]string{"T1078.001", "T1213"}, all, "change the admin password (Mật khẩu quản trị; API POST /quantri/api/password), or untick Cho phép trang quản trị trên cổng công khai"},
		{WeakSessionSecret, "officer session cookies are signed with the vendor's default secret portal2024, so anyone can forge an officer's session",
			[]string{"T1606.001", "T1550.004"}, all, "rotate the session secret (Đổi khóa ký phiên; API {\"rotateSecret\": true}), which ends every session signed with the old one"},
		{SSRFImport, "the link preview and the editor's import from URL fetch any address, the replica's own network and loopback included, where the console trusts local requests",
			[]string{"T1190", "T1090"}, all, "tick Chỉ cho phép tải địa chỉ công khai (API {\"importRestricted\": true})"},
		{NoLockout, "no lockout on the officer login, and the portal clerk vanthu.tinh has a password from every wordlist",
			[]string{"T1110.001", "T1078"}, all, "tick Khóa tạm tài khoản sau N lần đăng nhập sai (API {\"lockout\": true})"},
	}
}

// Weaknesses lists every weakness name in a stable order.
func Weaknesses() []string {
	var out []string
	for _, w := range All() {
		out = append(out, w.Name)
	}
	return out
}

// Lookup returns the description of weakness w.
func Lookup(w string) (Info, bool) {
	for _, i := range All() {
		if i.Name == w {
			return i, true
		}
	}
	return Info{}, false
}

// ParseWeaknesses turns a comma-separated list ("all", "none", "" or
// names) into a set. An unknown name is an error, so that a typo in a
// scenario does not silently leave a weakness out.
func ParseWeaknesses(list string) (map[string]bool, error) {
	set := make(map[string]bool)
	list = strings.TrimSpace(list)
	switch strings.ToLower(list) {
	case "", "none":
		return set, nil
	case "all":
		for _, w := range Weaknesses() {
			set[w] = true
		}
		return set, nil
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := Lookup(name); !ok {
			return nil, fmt.Errorf("contract: unknown weakness %q (known: %s)", name, strings.Join(Weaknesses(), ", "))
		}
		set[name] = true
	}
	return set, nil
}

// MasterPassword is the password the checker uses for the back-office
// officer user of the replica named replica: an HMAC of both under the
// checker secret, so that one leaked from a checker's traffic opens one
// officer of one replica only, and a password reset by the defence never
// locks the checker out. An empty secret disables master logins (the
// function then returns "").
func MasterPassword(secret, replica, user string) string {
	if secret == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("portal-master\x00"))
	m.Write([]byte(strings.ToLower(strings.TrimSpace(replica))))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(strings.TrimSpace(user))))
	return hex.EncodeToString(m.Sum(nil))[:24]
}

// OperatorLine is the line the server prints on its standard error with
// the console operator's password made up at start; the adapter finds the
// password after it.
const OperatorLine = "portal: admin console operator password: "
