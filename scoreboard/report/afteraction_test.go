package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestAfterActionHTML renders testdata/afteraction.json, the report of
// the scoreboard's short defence game (playDefence in its tests, pinned
// there by TestReportFixtures) as `cyrange report --json` writes it, and compares the page with
// testdata/afteraction.html: the page is what organizers keep, so any
// change to it must show in a diff.
func TestAfterActionHTML(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "afteraction.json"))
	mustNoErr(t, err)
	var aa scoreboard.AfterAction
	mustNoErr(t, json.Unmarshal(b, &aa))
	var out bytes.Buffer
	mustNoErr(t, WriteHTML(&out, &aa, time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)))
	if aa.Title != "" {
		t.Errorf("the page's fallback title %q leaked into the report", aa.Title)
	}
	page := out.String()
	for _, want := range []string{"<svg", `class="inc detected"`, `class="inc missed"`, `class="rep true_positive"`,
		`class="cap unverified"`, `class="remedy"`, "st-offline", "Đội tấn công 01", "&lt;script&gt;", "lockout: false -&gt; true",
		"Time to detect", "L×tick",
		"ATT&amp;CK techniques per defence team", "<td>T1110.001</td>", "<i>not attributable</i>", "by Đội phòng thủ (report #1, 8s)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("the page carries a script (or the notes were not escaped)")
	}
	path := filepath.Join("testdata", "afteraction.html")
	if *update {
		mustNoErr(t, os.WriteFile(path, out.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("the page differs from %s (run with -update if intended)", path)
	}
}

func mustNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
