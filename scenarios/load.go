package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

// ErrNotFound is returned (wrapped) by Builtin and Open for a name that is
// neither a file nor a built-in scenario.
var ErrNotFound = errors.New("scenario not found")

//go:embed *.yaml
var builtinFiles embed.FS

// Load reads a scenario from data; name is the file name used in messages.
// It applies the defaults and validates the result. On failure the error is
// an Errors listing every problem found, each with file, line and field.
func Load(name string, data []byte) (*Scenario, error) {
	d := newDecoder(name)
	root := d.parse(data)
	if root == nil {
		return nil, d.errs
	}
	s := &Scenario{source: name}
	d.scenario(root, s)
	s.lines = d.lines
	s.applyDefaults(func(path string) bool {
		_, ok := d.lines[path]
		return ok
	})
	errs := sortErrors(append(d.errs, s.validate(d.failed)...))
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// LoadFile reads the scenario file at path. Problems in the file come back
// as Errors naming path; failing to read it is an ordinary wrapped error.
func LoadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	defer f.Close()
	// One byte past the limit is enough for Load to report the file as too
	// large without reading all of it.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("scenarios: reading %s: %w", path, err)
	}
	return Load(path, data)
}

// Builtins lists the scenarios compiled into the binary, by name.
func Builtins() []string {
	entries, err := fs.ReadDir(builtinFiles, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Builtin loads a built-in scenario by name ("demo"; "demo.yaml" works too).
func Builtin(name string) (*Scenario, error) {
	base := strings.TrimSuffix(name, ".yaml")
	if !slices.Contains(Builtins(), base) {
		return nil, fmt.Errorf("scenarios: no built-in scenario %q (built-in: %s): %w", name, strings.Join(Builtins(), ", "), ErrNotFound)
	}
	data, err := builtinFiles.ReadFile(base + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("scenarios: reading built-in %s: %w", base, err)
	}
	return Load(base+".yaml", data)
}

// Open loads nameOrPath as a file if one exists there, and as a built-in
// scenario otherwise, which is what a command line argument means.
func Open(nameOrPath string) (*Scenario, error) {
	_, err := os.Stat(nameOrPath)
	switch {
	case err == nil:
		return LoadFile(nameOrPath)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	if slices.Contains(Builtins(), strings.TrimSuffix(nameOrPath, ".yaml")) {
		return Builtin(nameOrPath)
	}
	return nil, fmt.Errorf("scenarios: %q is neither a file nor a built-in scenario (built-in: %s): %w", nameOrPath, strings.Join(Builtins(), ", "), ErrNotFound)
}
