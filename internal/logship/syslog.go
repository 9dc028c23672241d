package logship

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SDID is the structured-data element every syslog record carries, as
// the defence's contract names it (`[cyrange service="…" replica="…"]`):
// the SOCs' parsing rules are written against that name. RFC 5424
// §7.2.2 would have a private one as name@<enterprise number>; the
// contract keeps the short name its rules already match.
const SDID = "cyrange"

// pri is facility local0 (16), severity informational (6): these are
// records of what happened, the collector's rules judge severity.
const pri = 16*8 + 6

// SyslogConfig names a syslog collector.
type SyslogConfig struct {
	Addr string      // host:port
	TLS  *tls.Config // nil: plain TCP (RFC 6587); else TLS (RFC 5425)
	// WriteTimeout bounds one connection attempt and one batch (default 10s).
	WriteTimeout time.Duration
}

// NewSyslog starts a Shipper to a syslog collector. It connects lazily.
func NewSyslog(cfg SyslogConfig, opts Options) *Shipper {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	return newShipper(&syslogTransport{cfg: cfg}, opts)
}

type syslogTransport struct {
	cfg  SyslogConfig
	conn net.Conn // owned by the shipper's goroutine, and by close after it ends
	buf  []byte
}

func (t *syslogTransport) dial(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.WriteTimeout)
	defer cancel()
	var (
		c   net.Conn
		err error
	)
	if t.cfg.TLS != nil {
		d := tls.Dialer{Config: t.cfg.TLS}
		c, err = d.DialContext(ctx, "tcp", t.cfg.Addr)
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", t.cfg.Addr)
	}
	if err != nil {
		return err
	}
	t.conn = c
	return nil
}

func (t *syslogTransport) write(ctx context.Context, batch []Record) error {
	if t.conn == nil {
		if err := t.dial(ctx); err != nil {
			return err
		}
	}
	t.buf = t.buf[:0]
	for _, r := range batch {
		t.buf = AppendFrame(t.buf, r)
	}
	// Close aborts a write stuck on a dead peer through ctx.
	stop := context.AfterFunc(ctx, func() { t.conn.SetWriteDeadline(time.Now()) })
	defer stop()
	t.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	if _, err := t.conn.Write(t.buf); err != nil {
		t.conn.Close()
		t.conn = nil
		return err
	}
	// A collector that has gone away shows it by closing; read without
	// waiting so the next batch is not written into a dead connection.
	if t.peerClosed() {
		t.conn.Close()
		t.conn = nil
	}
	return nil
}

// peerClosed reports whether the collector closed its side. Syslog
// collectors never speak, so any read result but a timeout means gone.
func (t *syslogTransport) peerClosed() bool {
	t.conn.SetReadDeadline(time.Now())
	var b [1]byte
	_, err := t.conn.Read(b[:])
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

func (t *syslogTransport) close() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	return err
}

// AppendFrame appends r as one RFC 5424 message with its RFC 6587 octet
// count: "LEN SP MSG".
func AppendFrame(dst []byte, r Record) []byte {
	msg := AppendMessage(nil, r)
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

// AppendMessage appends r as one RFC 5424 message:
// <PRI>1 TIMESTAMP HOSTNAME APP-NAME - - [cyrange k="v"...] MSG
func AppendMessage(dst []byte, r Record) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, pri, 10)
	dst = append(dst, ">1 "...)
	if r.Time.IsZero() {
		dst = append(dst, '-')
	} else {
		dst = r.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	}
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, r.Host, 255)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, r.App, 48)
	dst = append(dst, " - - "...) // PROCID, MSGID
	dst = appendSD(dst, r.Data)
	if len(r.Message) > 0 {
		dst = append(dst, ' ')
		dst = append(dst, strings.ToValidUTF8(string(r.Message), "\uFFFD")...)
	}
	return dst
}

// appendHeaderField writes a HOSTNAME or APP-NAME: 1*N PRINTUSASCII, "-"
// for none. Anything outside %d33-126 becomes "_" so that a strange
// replica name can never shift the fields after it.
func appendHeaderField(dst []byte, s string, n int) []byte {
	if s == "" {
		return append(dst, '-')
	}
	if len(s) > n {
		s = s[:n]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendName writes an SD-NAME: 1*32 PRINTUSASCII except '=', SP, ']', '"'.
func appendName(dst []byte, s string) []byte {
	if s == "" {
		s = "_"
	}
	if len(s) > 32 {
		s = s[:32]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendSD writes the one element, parameters sorted by name so that the
// output is stable. PARAM-VALUE is UTF-8 with '"', '\' and ']' escaped by a
// backslash (RFC 5424 §6.3.3).
func appendSD(dst []byte, data map[string]string) []byte {
	dst = append(dst, '[')
	dst = append(dst, SDID...)
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		dst = append(dst, ' ')
		dst = appendName(dst, k)
		dst = append(dst, '=', '"')
		v := strings.ToValidUTF8(data[k], "\uFFFD")
		for i := 0; i < len(v); i++ {
			// Bytes of multi-byte runes are never '"', '\\' or ']'.
			if c := v[i]; c == '"' || c == '\\' || c == ']' {
				dst = append(dst, '\\')
			}
			dst = append(dst, v[i])
		}
		dst = append(dst, '"')
	}
	return append(dst, ']')
}
