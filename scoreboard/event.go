package scoreboard

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Kind says what an event records.
type Kind uint8

// Event kinds. Their numbers are stored in the log: never renumber, only
// append.
const (
	KindInvalid Kind = iota
	// KindPhaseChanged: Code is the new Phase, Value 1 if the board is
	// frozen afterwards; Text is the action ("start", "pause", ...).
	KindPhaseChanged
	// KindTickStarted: Tick is the new tick; Value the tick's planned
	// length in nanoseconds.
	KindTickStarted
	// KindFlagIssued: the putflag of slot (Tick, Owner, Service, Store);
	// Code is its Status (OK means planted); Text is the attackInfo.
	KindFlagIssued
	// KindCheckResult: the status (Code) of service Service of Owner's
	// replica for tick Tick; Text is the checker's public message.
	KindCheckResult
	// KindFlagCaptured: Team captured the flag of slot (FlagTick, Owner,
	// Service, Store) during tick Tick.
	KindFlagCaptured
	// KindDetectionReported: defending team Team reports an attack; Value
	// is the report id, Text its JSON body.
	KindDetectionReported
	// KindDetectionJudged: report Value of Team judged; Code the verdict,
	// Text the JSON details.
	KindDetectionJudged
	// KindTelemetrySummary: attack team Team had connections to service
	// Service of Owner's replica during tick Tick; Value counts them, Text
	// holds the JSON details (bytes, first and last seen).
	KindTelemetrySummary
	// KindRemedyApplied: Owner applied remedy Text on Service.
	KindRemedyApplied
	kindEnd
)

var kindNames = [...]string{"invalid", "phase", "tick", "flag_issued", "check", "capture",
	"detection_reported", "detection_judged", "telemetry", "remedy"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Event is one entry of the game's log. Which fields mean what depends on
// Kind (see the kinds' comments); unused fields are zero (-1 for teams).
type Event struct {
	Seq      uint64 // assigned by the log, not encoded
	Time     time.Time
	Kind     Kind
	Code     uint8
	Tick     int32
	FlagTick int32
	Team     int16
	Owner    int16
	Service  int16
	Store    int16
	Value    int64
	Text     string
}

// eventVersion is the first byte of every encoded event, so the layout can
// change later without guessing.
const eventVersion = 1

// fixedLen is the encoded size without Text.
const fixedLen = 1 + 1 + 1 + 8 + 4 + 4 + 2 + 2 + 2 + 2 + 8

// maxText bounds an event's text; longer input is refused before it
// reaches the log.
const maxText = 16 << 10

// AppendEncode appends the binary form of e to b.
func (e *Event) AppendEncode(b []byte) []byte {
	b = append(b, eventVersion, byte(e.Kind), e.Code)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Tick))
	b = binary.BigEndian.AppendUint32(b, uint32(e.FlagTick))
	b = binary.BigEndian.AppendUint16(b, uint16(e.Team))
	b = binary.BigEndian.AppendUint16(b, uint16(e.Owner))
	b = binary.BigEndian.AppendUint16(b, uint16(e.Service))
	b = binary.BigEndian.AppendUint16(b, uint16(e.Store))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Value))
	b = binary.AppendUvarint(b, uint64(len(e.Text)))
	return append(b, e.Text...)
}

// Decode parses an encoded event; seq is its key in the log.
func Decode(seq uint64, b []byte) (Event, error) {
	var e Event
	if len(b) < fixedLen+1 {
		return e, fmt.Errorf("scoreboard: event %d: %d bytes, too short: %w", seq, len(b), ErrInvalid)
	}
	if b[0] != eventVersion {
		return e, fmt.Errorf("scoreboard: event %d: unknown encoding version %d: %w", seq, b[0], ErrInvalid)
	}
	e.Seq = seq
	e.Kind = Kind(b[1])
	if e.Kind == KindInvalid || e.Kind >= kindEnd {
		return e, fmt.Errorf("scoreboard: event %d: unknown kind %d: %w", seq, b[1], ErrInvalid)
	}
	e.Code = b[2]
	e.Time = time.Unix(0, int64(binary.BigEndian.Uint64(b[3:])))
	e.Tick = int32(binary.BigEndian.Uint32(b[11:]))
	e.FlagTick = int32(binary.BigEndian.Uint32(b[15:]))
	e.Team = int16(binary.BigEndian.Uint16(b[19:]))
	e.Owner = int16(binary.BigEndian.Uint16(b[21:]))
	e.Service = int16(binary.BigEndian.Uint16(b[23:]))
	e.Store = int16(binary.BigEndian.Uint16(b[25:]))
	e.Value = int64(binary.BigEndian.Uint64(b[27:]))
	n, k := binary.Uvarint(b[fixedLen:])
	if k <= 0 || n > maxText || uint64(len(b)-fixedLen-k) != n {
		return e, fmt.Errorf("scoreboard: event %d: bad text length: %w", seq, ErrInvalid)
	}
	if n > 0 {
		e.Text = string(b[fixedLen+k:])
	}
	return e, nil
}
