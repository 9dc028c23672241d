package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Record is one flow record as a target writes it: what a flow sensor in
// front of the target would see of one connection, or the recorder's
// heartbeat.
type Record struct {
	State Kind `json:"state"`
	// Run names the recorder's process, ID the connection within it.
	Run string `json:"run"`
	ID  uint64 `json:"id,omitempty"`
	// Proto is "tcp".
	Proto string `json:"proto,omitempty"`
	// Src is the client's address, Dst the target's address it reached.
	Src netip.AddrPort `json:"src,omitzero"`
	Dst netip.AddrPort `json:"dst,omitzero"`
	// Start is when the connection was accepted, At when the record was
	// made; Duration is At − Start in seconds.
	Start    time.Time `json:"start,omitzero"`
	At       time.Time `json:"at"`
	Duration float64   `json:"duration,omitempty"`
	// BytesUp went from the client to the target, BytesDown back, since
	// the connection's previous record.
	BytesUp   int64 `json:"bytes_up"`
	BytesDown int64 `json:"bytes_down"`
}

// linePrefix starts every flow line, so that a reader of a target's log
// (which action lines share) tells them apart without decoding.
const linePrefix = `{"flow":`

// MaxLine bounds a flow line; longer lines are not flow records.
const MaxLine = 1024

type line struct {
	Flow *Record `json:"flow"`
}

// MarshalLine formats r as one flow line, {"flow":{...}}, without the
// newline.
func MarshalLine(r Record) ([]byte, error) {
	b, err := json.Marshal(line{&r})
	if err != nil {
		return nil, fmt.Errorf("flow: record: %w", err)
	}
	return b, nil
}

// ParseLine reads one line of a target's log. It returns false when the
// line is not a flow record, and an error when it looks like one but does
// not decode or breaks a rule of the format: a known state, a run, a time,
// and for a connection's records an id, both addresses, a start and byte
// counts that are not negative.
func ParseLine(b []byte) (Record, bool, error) {
	b = bytes.TrimSpace(b)
	if !bytes.HasPrefix(b, []byte(linePrefix)) {
		return Record{}, false, nil
	}
	if len(b) > MaxLine {
		return Record{}, true, errors.New("flow: line too long")
	}
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		return Record{}, true, fmt.Errorf("flow: record: %w", err)
	}
	if l.Flow == nil {
		return Record{}, true, errors.New("flow: empty record")
	}
	r := *l.Flow
	if err := r.validate(); err != nil {
		return Record{}, true, err
	}
	return r, true, nil
}

func (r *Record) validate() error {
	switch {
	case !r.State.Valid():
		return fmt.Errorf("flow: unknown state %q", r.State)
	case r.Run == "" || r.At.IsZero():
		return errors.New("flow: record without a run or a time")
	case r.State == Heartbeat:
		return nil
	case r.ID == 0 || !r.Src.IsValid() || !r.Dst.IsValid() || r.Start.IsZero():
		return errors.New("flow: connection record without an id, addresses or a start")
	case r.BytesUp < 0 || r.BytesDown < 0 || r.Duration < 0:
		return errors.New("flow: negative bytes or duration")
	}
	return nil
}
