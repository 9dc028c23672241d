package scenarios

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzLoad holds Load to its contract on any input: no panic, and either a
// valid scenario whose canonical form loads back to the same scenario, or a
// non-empty list of located errors. Seeds: the built-ins here, broken files
// in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, name := range Builtins() {
		data, err := builtinFiles.ReadFile(name + ".yaml")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("fuzz.yaml", data)
		if err != nil {
			if s != nil {
				t.Fatalf("Load returned a scenario and an error")
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is %T %v, want a non-empty Errors", err, err)
			}
			lines := countLines(data)
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Line < 0 || e.Line > lines+1 {
					t.Fatalf("badly located error %+v in a file of %d lines", e, lines)
				}
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("loaded scenario does not validate: %v", err)
		}
		canon := s.Canonical()
		again, err := Load("fuzz.yaml", canon)
		if err != nil {
			t.Fatalf("canonical form does not load: %v\n%s", err, canon)
		}
		if !bytes.Equal(again.Canonical(), canon) {
			t.Fatalf("canonical form is not a fixed point:\n%s\n---\n%s", canon, again.Canonical())
		}
		_ = s.WithAttackTeams(3).Validate()
	})
}

// countLines counts lines the way YAML does: CR, LF, CR LF, NEL, LS and PS
// all end a line.
func countLines(data []byte) int {
	n := 1
	for i := 0; i < len(data); i++ {
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			n++
			i++
		case data[i] == '\r' || data[i] == '\n':
			n++
		case bytes.HasPrefix(data[i:], []byte("\u0085")), bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			n++
		}
	}
	return n
}
