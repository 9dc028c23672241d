package secretenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o400); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tok := write("token", "s3cret\n")
	crlf := write("crlf", "s3cret\r\n")
	empty := write("empty", "\n")
	big := write("big", strings.Repeat("x", maxBytes+1))
	cases := []struct {
		env     map[string]string
		want    string
		wantErr string
	}{
		{map[string]string{"T": "direct", "T_FILE": tok}, "direct", ""},
		{map[string]string{"T_FILE": tok}, "s3cret", ""},
		{map[string]string{"T_FILE": crlf}, "s3cret", ""},
		{map[string]string{}, "", ""},
		{map[string]string{"T_FILE": filepath.Join(dir, "missing")}, "", "T_FILE"},
		{map[string]string{"T_FILE": empty}, "", "is empty"},
		{map[string]string{"T_FILE": big}, "", "larger than"},
	}
	for _, c := range cases {
		got, err := Lookup(func(k string) string { return c.env[k] }, "T")
		if got != c.want || (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%v: %q, %v; want %q, error with %q", c.env, got, err, c.want, c.wantErr)
		}
	}
}
