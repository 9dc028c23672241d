package portal

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/portal/contract"
)

// tool finds a real client, skipping (or failing, with
// CYRANGE_REQUIRE_TOOLS=1) when it is not installed.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CYRANGE_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s not installed", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

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
// news search with the weakness on, and nothing once it is patched.
func TestSqlmapNewsSearch(t *testing.T) {
	if testing.Short() {
		t.Skip("sqlmap takes seconds")
	}
	sqlmap := tool(t, "sqlmap")
	run := func(s *Server) string {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, sqlmap, "-u", "http://"+s.AddrHTTP()+"/tim-kiem?q=test", "-p", "q", "--batch",
			"--level", "1", "--risk", "1", "--technique=U", "--dbms=SQLite", "--flush-session", "--output-dir", t.TempDir(),
			"--timeout", "5", "--retries", "0").CombinedOutput()
		return string(out)
	}
	s := startSmall(t, map[string]bool{contract.NewsSQLi: true})
	out := run(s)
	if !strings.Contains(out, "is vulnerable") && !strings.Contains(out, "injectable") {
		t.Fatalf("sqlmap found no injection with the weakness on:\n%s", out)
	}
	s.sec.update(func(st *Settings) { st.SearchPatched = true })
	out = run(s)
	if strings.Contains(out, "is vulnerable") || strings.Contains(out, "Parameter: q (GET)") {
		t.Fatalf("sqlmap still found the injection after the patch:\n%s", out)
	}
}
