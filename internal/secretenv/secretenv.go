// Package secretenv reads a secret a role is handed in its environment:
// NAME holds it, or, where an orchestrator hands secrets over as files
// instead (Docker Swarm mounts them under /run/secrets, and environment
// variables show in every inspection of a service), NAME_FILE names the
// file that holds it.
package secretenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxBytes bounds a secret file: a token or a password, never a blob.
const maxBytes = 64 << 10

// Get returns the secret NAME from the process's environment.
func Get(name string) (string, error) { return Lookup(os.Getenv, name) }

// Lookup returns the secret NAME as getenv sees the environment: NAME's
// value when it is set, else the content of the file NAME_FILE names
// (without one trailing newline, which editors and `echo` add), else "".
func Lookup(getenv func(string) string, name string) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	path := getenv(name + "_FILE")
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secretenv: %s_FILE: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxBytes+1))
	if err != nil {
		return "", fmt.Errorf("secretenv: %s_FILE: %w", name, err)
	}
	if len(b) > maxBytes {
		return "", fmt.Errorf("secretenv: %s_FILE: %w", name, errTooBig)
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if s == "" {
		return "", fmt.Errorf("secretenv: %s_FILE: %s is empty", name, path)
	}
	return s, nil
}

var errTooBig = errors.New("larger than a secret can be")
