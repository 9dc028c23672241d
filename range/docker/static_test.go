package docker

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStaticBinaryGiven(t *testing.T) {
	script := filepath.Join(t.TempDir(), "cyrange")
	os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755)
	var progress bytes.Buffer
	if _, cleanup, err := StaticBinary(t.Context(), script, ".", "", &progress); err == nil || cleanup == nil {
		t.Errorf("a script given as the binary: %v", err)
	}
	if progress.Len() > 0 {
		t.Errorf("said %q for a binary given", progress.String())
	}
}

// TestStaticBinary takes the running binary when it is static; when it is
// not (a cgo build), it needs the source: none where there is none, and
// a static one built from it where there is.
func TestStaticBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	got, cleanup, err := StaticBinary(t.Context(), "", t.TempDir(), "", &progress)
	if CheckStatic(self) == nil {
		if err != nil || got != self {
			t.Errorf("this static binary: %q %v", got, err)
		}
		cleanup()
		return
	}
	if err == nil || !strings.Contains(err.Error(), "is not static and there is no source to build one from") ||
		!strings.Contains(err.Error(), "give --binary or --source") || progress.Len() > 0 {
		t.Errorf("no source: %v, said %q", err, progress.String())
	}
	cleanup()
	if testing.Short() {
		t.Skip("building a static cyrange from the source takes a while")
	}
	got, cleanup, err = StaticBinary(t.Context(), "", ".", "-X main.version=test", &progress)
	if err != nil {
		t.Fatal(err)
	}
	mod, _ := FindModule(".")
	if want := "this cyrange is not static: building a static one from " + mod + "\n"; progress.String() != want {
		t.Errorf("said %q, want %q", progress.String(), want)
	}
	if err := CheckStatic(got); err != nil {
		t.Error(err)
	}
	cleanup()
	if _, err := os.Stat(filepath.Dir(got)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the built binary's directory is still there: %v", err)
	}
}
