package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cyrange/cyrange/images/flow"
)

// telemetryPrefix starts every telemetry line, so that a reader of a
// gateway's output (which logs and telemetry may share) can tell them apart
// without decoding every line.
const telemetryPrefix = `{"telemetry":`

// MaxTelemetryLine bounds a telemetry line; longer lines are not telemetry.
const MaxTelemetryLine = 4096

type telemetryLine struct {
	Telemetry *Conn `json:"telemetry"`
}

// MarshalTelemetry formats c as one telemetry line, {"telemetry":{...}},
// without the newline.
func MarshalTelemetry(c Conn) ([]byte, error) {
	b, err := json.Marshal(telemetryLine{&c})
	if err != nil {
		return nil, fmt.Errorf("gateway: telemetry: %w", err)
	}
	return b, nil
}

// ParseTelemetry reads one line of a gateway's output. It returns false
// when the line is not telemetry (a log line), and an error when it looks
// like telemetry but does not decode, or names an unknown state, or is a
// record of a connection's life (Conn.State) without its run, id or
// times.
func ParseTelemetry(line []byte) (Conn, bool, error) {
	line = bytes.TrimSpace(line)
	if !bytes.HasPrefix(line, []byte(telemetryPrefix)) {
		return Conn{}, false, nil
	}
	if len(line) > MaxTelemetryLine {
		return Conn{}, true, errors.New("gateway: telemetry line too long")
	}
	var l telemetryLine
	if err := json.Unmarshal(line, &l); err != nil {
		return Conn{}, true, fmt.Errorf("gateway: telemetry: %w", err)
	}
	if l.Telemetry == nil {
		return Conn{}, true, errors.New("gateway: telemetry: empty record")
	}
	c := *l.Telemetry
	if c.State != "" {
		if !flow.Kind(c.State).Valid() {
			return Conn{}, true, fmt.Errorf("gateway: telemetry: unknown state %q", c.State)
		}
		if c.Run == "" || c.At.IsZero() || (c.State != string(flow.Heartbeat) && (c.ID == 0 || c.Start.IsZero())) {
			return Conn{}, true, errors.New("gateway: telemetry: a record without its run, id or times")
		}
	}
	return c, true, nil
}

// TelemetryWriter returns a Record function that writes each connection to
// w as one telemetry line, serialised so that lines never interleave.
// Write errors are reported to onErr (may be nil).
func TelemetryWriter(w io.Writer, onErr func(error)) func(Conn) {
	var mu sync.Mutex
	return func(c Conn) {
		b, err := MarshalTelemetry(c)
		if err == nil {
			mu.Lock()
			_, err = w.Write(append(b, '\n'))
			mu.Unlock()
		}
		if err != nil && onErr != nil {
			onErr(err)
		}
	}
}
