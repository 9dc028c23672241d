package scoreboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"hash"
	"sync"
)

// FlagLen is the length of every flag: 31 symbols and a final '=', the
// shape exploit farms look for by default ([A-Z0-9]{31}=).
const FlagLen = 32

const (
	maxPrefix = 8
	// flagData is the authenticated payload: tick (3 bytes), owner team,
	// service, store.
	flagData = 6
	bodyLen  = FlagLen - 1
)

// FlagID names one flag slot: the flag planted in store Store of service
// Service of team Owner's replica at tick Tick.
type FlagID struct {
	Tick    int32
	Owner   int16
	Service int16
	Store   int16
}

// Flags issues and verifies self-authenticating flags: a flag carries its
// slot in clear and an HMAC of it under the exercise key, so verifying a
// flag needs no storage and a forged one costs one HMAC.
//
// Flags are deterministic per slot, which lets the game regenerate any flag
// after a restart without having stored it.
type Flags struct {
	prefix string
	pool   sync.Pool // of *flagScratch
}

type flagScratch struct {
	mac  hash.Hash
	data [flagData]byte
	sum  [sha256.Size]byte
	raw  [40]byte // data + mac, enough bits for any body length
	enc  [64]byte
	dec  [40]byte
	out  [FlagLen]byte
}

// b32 is base32 without padding: its alphabet (A-Z, 2-7) is within [A-Z0-9].
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewFlags returns a codec with the exercise key and an optional prefix of
// up to 8 characters of [A-Z0-9].
func NewFlags(key []byte, prefix string) (*Flags, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("scoreboard: flag key of %d bytes, want at least 16: %w", len(key), ErrInvalid)
	}
	if len(prefix) > maxPrefix {
		return nil, fmt.Errorf("scoreboard: flag prefix %q too long: %w", prefix, ErrInvalid)
	}
	k := append([]byte(nil), key...)
	f := &Flags{prefix: prefix}
	f.pool.New = func() any { return &flagScratch{mac: hmac.New(sha256.New, k)} }
	return f, nil
}

// Regex returns the regular expression every flag of this codec matches.
func (f *Flags) Regex() string {
	return fmt.Sprintf("%s[A-Z0-9]{%d}=", f.prefix, bodyLen-len(f.prefix))
}

// Issue returns the flag of slot id.
func (f *Flags) Issue(id FlagID) string {
	s := f.pool.Get().(*flagScratch)
	defer f.pool.Put(s)
	out := f.encode(s, id)
	return string(out)
}

// encode writes the flag of id into s.enc and returns it.
func (f *Flags) encode(s *flagScratch, id FlagID) []byte {
	d := &s.data
	d[0], d[1], d[2] = byte(id.Tick>>16), byte(id.Tick>>8), byte(id.Tick)
	d[3], d[4], d[5] = byte(id.Owner), byte(id.Service), byte(id.Store)
	s.mac.Reset()
	s.mac.Write([]byte(f.prefix))
	s.mac.Write(d[:])
	sum := s.mac.Sum(s.sum[:0])
	copy(s.raw[:], d[:])
	copy(s.raw[flagData:], sum)
	n := bodyLen - len(f.prefix)
	// 40 raw bytes encode to 64 symbols; the body keeps the first n of
	// them, so the MAC is truncated to what fits (at least 67 bits).
	b32.Encode(s.enc[:], s.raw[:])
	copy(s.out[:], f.prefix)
	copy(s.out[len(f.prefix):], s.enc[:n])
	s.out[bodyLen] = '='
	return s.out[:]
}

// Parse verifies flag and returns its slot. It rejects anything that is not
// a flag this codec issued, in constant time with respect to the MAC.
func (f *Flags) Parse(flag []byte) (FlagID, bool) {
	if len(flag) != FlagLen || flag[FlagLen-1] != '=' {
		return FlagID{}, false
	}
	p := len(f.prefix)
	if string(flag[:p]) != f.prefix {
		return FlagID{}, false
	}
	body := flag[p : FlagLen-1]
	// The first 10 symbols carry 50 bits: the 48 bits of the payload.
	var sym [16]byte
	copy(sym[:10], body[:10])
	for i := range 10 {
		c := sym[i]
		if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
			return FlagID{}, false
		}
	}
	s := f.pool.Get().(*flagScratch)
	defer f.pool.Put(s)
	if _, err := b32.Decode(s.dec[:], sym[:10]); err != nil {
		return FlagID{}, false
	}
	id := FlagID{
		Tick:    int32(s.dec[0])<<16 | int32(s.dec[1])<<8 | int32(s.dec[2]),
		Owner:   int16(s.dec[3]),
		Service: int16(s.dec[4]),
		Store:   int16(s.dec[5]),
	}
	want := f.encode(s, id)
	if subtle.ConstantTimeCompare(want, flag) != 1 {
		return FlagID{}, false
	}
	return id, true
}
