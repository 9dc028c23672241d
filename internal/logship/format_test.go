package logship

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// parsed is what a test reads back from one RFC 5424 message.
type parsed struct {
	pri, version, ts, host, app, procid, msgid string
	sdid                                       string
	params                                     [][2]string
	msg                                        string
}

// parseMessage is a strict reader for the messages this package writes:
// the header's space-separated fields, one SD element with escaped values.
func parseMessage(t testing.TB, b []byte) parsed {
	t.Helper()
	s := string(b)
	var p parsed
	fields := strings.SplitN(s, " ", 7)
	if len(fields) != 7 {
		t.Fatalf("header fields in %q", s)
	}
	head := fields[0]
	i := strings.IndexByte(head, '>')
	if head[0] != '<' || i < 0 {
		t.Fatalf("PRI in %q", s)
	}
	p.pri, p.version = head[1:i], head[i+1:]
	p.ts, p.host, p.app, p.procid, p.msgid = fields[1], fields[2], fields[3], fields[4], fields[5]
	rest := fields[6]
	if !strings.HasPrefix(rest, "[") {
		t.Fatalf("no SD element in %q", s)
	}
	rest = rest[1:]
	end := strings.IndexAny(rest, " ]")
	if end < 0 {
		t.Fatalf("SD-ID unterminated in %q", s)
	}
	p.sdid, rest = rest[:end], rest[end:]
	for strings.HasPrefix(rest, " ") {
		rest = rest[1:]
		eq := strings.Index(rest, "=\"")
		if eq < 0 {
			t.Fatalf("SD-PARAM in %q", s)
		}
		name := rest[:eq]
		rest = rest[eq+2:]
		var v strings.Builder
		for {
			if rest == "" {
				t.Fatalf("PARAM-VALUE unterminated in %q", s)
			}
			c := rest[0]
			if c == '\\' && len(rest) > 1 && (rest[1] == '"' || rest[1] == '\\' || rest[1] == ']') {
				v.WriteByte(rest[1])
				rest = rest[2:]
				continue
			}
			if c == '"' || c == ']' || c == '\\' {
				if c != '"' {
					t.Fatalf("unescaped %q in PARAM-VALUE of %q", c, s)
				}
				rest = rest[1:]
				break
			}
			v.WriteByte(c)
			rest = rest[1:]
		}
		p.params = append(p.params, [2]string{name, v.String()})
	}
	if !strings.HasPrefix(rest, "]") {
		t.Fatalf("SD element unterminated in %q", s)
	}
	rest = rest[1:]
	if rest != "" {
		if rest[0] != ' ' {
			t.Fatalf("no space before MSG in %q", s)
		}
		p.msg = rest[1:]
	}
	return p
}

func TestAppendMessage(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		desc string
		r    Record
		want string
	}{
		{"target line", Record{Time: at, Host: "portal-team3", App: "portal",
			Data: map[string]string{"service": "portal", "replica": "portal-team3"}, Message: []byte(`{"msg":"login"}`)},
			`<134>1 2026-12-06T02:04:05.123456Z portal-team3 portal - - [cyrange replica="portal-team3" service="portal"] {"msg":"login"}`},
		{"escapes", Record{Time: at, Host: "h", App: "a",
			Data: map[string]string{"v": `q"b\r]`}},
			`<134>1 2026-12-06T02:04:05.123456Z h a - - [cyrange v="q\"b\\r\]"]`},
		{"bad header and names", Record{Host: "a b", App: "",
			Data: map[string]string{"x=y": "1", "": "2"}, Message: []byte("\xff")},
			"<134>1 - a_b - - - [cyrange _=\"2\" x_y=\"1\"] \uFFFD"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got := string(AppendMessage(nil, tc.r))
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
			frame := string(AppendFrame(nil, tc.r))
			if frame != strconv.Itoa(len(tc.want))+" "+tc.want {
				t.Fatalf("frame %q", frame)
			}
		})
	}
}

// FuzzAppendMessage: whatever the names and values, the message parses
// back into the same fields, so a log line can never forge or break the
// structured data, and the octet count is exact.
func FuzzAppendMessage(f *testing.F) {
	f.Add("portal-team1", "portal", "portal", "portal-team1", `{"msg":"hi"}`)
	f.Add("h", "sensor", `a"b\c]d`, "", "line\nwith newline")
	f.Fuzz(func(t *testing.T, host, app, service, replica, msg string) {
		r := Record{Time: time.Unix(1700000000, 5000), Host: host, App: app,
			Data: map[string]string{"service": service, "replica": replica}, Message: []byte(msg)}
		frame := AppendFrame(nil, r)
		sp := bytes.IndexByte(frame, ' ')
		n, err := strconv.Atoi(string(frame[:sp]))
		if err != nil || n != len(frame)-sp-1 {
			t.Fatalf("octet count %q for %d bytes", frame[:sp], len(frame)-sp-1)
		}
		p := parseMessage(t, frame[sp+1:])
		if p.pri != "134" || p.version != "1" || p.sdid != SDID || p.procid != "-" || p.msgid != "-" {
			t.Fatalf("header %+v", p)
		}
		for _, f := range []string{p.host, p.app} {
			if f == "" || len(f) > 255 {
				t.Fatalf("header field %q", f)
			}
			for i := 0; i < len(f); i++ {
				if f[i] < 33 || f[i] > 126 {
					t.Fatalf("header field %q has byte %d", f, f[i])
				}
			}
		}
		want := [][2]string{{"replica", strings.ToValidUTF8(replica, "\uFFFD")}, {"service", strings.ToValidUTF8(service, "\uFFFD")}}
		if len(p.params) != 2 || p.params[0] != want[0] || p.params[1] != want[1] {
			t.Fatalf("params %q, want %q", p.params, want)
		}
		if msg != "" && p.msg != strings.ToValidUTF8(msg, "\uFFFD") {
			t.Fatalf("msg %q, want %q", p.msg, msg)
		}
		if !utf8.Valid(frame) {
			t.Fatal("output is not UTF-8")
		}
	})
}
