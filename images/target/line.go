package target

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode"
)

// Line is one action of a target's log as the defence reads it: the
// target writes a JSON object with at least these keys for every action.
type Line struct {
	Time   time.Time `json:"time"`
	Level  string    `json:"level"`
	Msg    string    `json:"msg"`
	Proto  string    `json:"proto"`
	Src    string    `json:"src"`
	User   string    `json:"user"`
	Action string    `json:"action"`
	// Target and Changes are what an admin console action acted on.
	Target  string `json:"target"`
	Changes string `json:"changes"`

	// Remedy names the remedy the action applied, "" when it is none:
	// the target's reader decides, as only it knows which of its actions
	// are the defence's remedies.
	Remedy string `json:"-"`
	// Technique is the ATT&CK technique id the action suggests to a
	// watching defender, "" when it looks harmless.
	Technique string `json:"-"`
}

// ReadJSONLine decodes one line of a target's output written in the
// common form. It reports false for anything but an action (a JSON object
// with a msg and an action): what else a process prints, on stderr above
// all, may be a secret meant for the operator's terminal and is never
// streamed. Targets call it first in their ReadLine and then fill in
// Remedy and Technique.
func ReadJSONLine(b []byte) (Line, bool) {
	var l Line
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return l, false
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Msg == "" || l.Action == "" {
		return Line{}, false
	}
	return l, true
}

// Source is the address the line's activity came from, without its port;
// "" when it names none.
func (l Line) Source() string {
	s := strings.TrimSpace(l.Src)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().String()
	}
	// A host name, but nothing that could forge a second line or column
	// where the source is shown.
	if h, _, err := net.SplitHostPort(s); err == nil && !strings.ContainsFunc(h, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r)
	}) {
		return h
	}
	return ""
}
