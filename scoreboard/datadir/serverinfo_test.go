package datadir

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestServerInfo(t *testing.T) {
	dir := t.TempDir()
	if _, ok := ReadServerInfo(dir); ok {
		t.Fatal("a server without server.json")
	}
	want := ServerInfo{HTTP: "127.0.0.1:8080", Submit: "127.0.0.1:31337", PID: 42}
	if err := WriteServerInfo(dir, want); err != nil {
		t.Fatal(err)
	}
	if got, ok := ReadServerInfo(dir); !ok || got != want {
		t.Fatalf("read %+v %v, want %+v", got, ok, want)
	}
	RemoveServerInfo(dir)
	if _, ok := ReadServerInfo(dir); ok {
		t.Fatal("a server after RemoveServerInfo")
	}
	// A file without the web address names no server.
	if err := os.WriteFile(filepath.Join(dir, ServerFile), []byte(`{"submit":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := ReadServerInfo(dir); ok {
		t.Fatal("a server without its web address")
	}
}

// TestWriteFile: the file appears whole or not at all, and no temporary
// file stays behind either way.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := WriteFile(path, func(w io.Writer) error { _, err := io.WriteString(w, "whole"); return err }); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "whole" {
		t.Fatalf("read %q %v", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	boom := errors.New("boom")
	err = WriteFile(path, func(w io.Writer) error { io.WriteString(w, "half"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("failed write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "whole" {
		t.Fatalf("a failed write left %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}
