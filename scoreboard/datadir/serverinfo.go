package datadir

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ServerFile is where a running server says where it listens.
const ServerFile = "server.json"

// ServerInfo is what <dir>/server.json holds while a server runs, so that
// `cyrange game --data DIR` can reach it.
type ServerInfo struct {
	HTTP   string `json:"http"`
	Submit string `json:"submit"`
	PID    int    `json:"pid"`
}

// WriteServerInfo records where the server of dir listens.
func WriteServerInfo(dir string, si ServerInfo) error {
	b, err := json.Marshal(si)
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ServerFile), b, 0o600); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	return nil
}

// ReadServerInfo is the server of dir, if one said where it listens. A
// missing or unreadable file is no server: the caller falls back to the
// log.
func ReadServerInfo(dir string) (ServerInfo, bool) {
	var si ServerInfo
	b, err := os.ReadFile(filepath.Join(dir, ServerFile))
	if err != nil || json.Unmarshal(b, &si) != nil || si.HTTP == "" {
		return si, false
	}
	return si, true
}

// RemoveServerInfo says that the server of dir has stopped.
func RemoveServerInfo(dir string) {
	os.Remove(filepath.Join(dir, ServerFile))
}

// WriteFile writes path through a temporary file in its directory, so
// that a reader never sees half of it. The file is readable by all, as a
// report handed around should be.
func WriteFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	return nil
}
