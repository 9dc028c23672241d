package docker

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

// The engine's answers are outside input: a progress stream, event
// messages, labels anyone may have edited. So are the machine's APT
// sources, its mount table and the binary put in an image.

func FuzzReadStream(f *testing.F) {
	f.Add([]byte(`{"stream":"Step 1/4 : FROM scratch\n"}` + "\n" + `{"aux":{"ID":"sha256:1"}}`))
	f.Add([]byte(`{"errorDetail":{"message":"COPY failed"},"error":"COPY failed"}`))
	f.Add([]byte(`{"status":"Importing","progressDetail":{"current":1,"total":2}}` + "\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		err := readStream(bytes.NewReader(b), &out)
		// Each message writes at most its text and a newline; a byte of
		// invalid UTF-8 in it may come out as U+FFFD, three bytes.
		if err == nil && out.Len() > 3*len(b)+bytes.Count(b, []byte("\n"))+1 {
			t.Errorf("wrote %d bytes from %d", out.Len(), len(b))
		}
	})
}

func FuzzRangeEvent(f *testing.F) {
	f.Add([]byte(`{"Type":"container","Action":"die","Actor":{"ID":"abc","Attributes":{"name":"cyrange-x-mail-d01","exitCode":"137","cyrange.kind":"target"}},"time":5,"timeNano":5000000007}`))
	f.Add([]byte(`{"Type":"container","Action":"exec_start: sh -c x","Actor":{"Attributes":{"name":"n"}}}`))
	f.Add([]byte(`{"Type":"network","Action":"connect"}`))
	now := func() time.Time { return time.Unix(1, 0) }
	f.Fuzz(func(t *testing.T, b []byte) {
		var m events.Message
		if json.Unmarshal(b, &m) != nil {
			return
		}
		ev, ok := rangeEvent(m, now)
		if !ok {
			return
		}
		if ev.Container == "" || ev.Action == "" || strings.Contains(ev.Action, ":") || ev.Time.IsZero() {
			t.Errorf("event %+v from %s", ev, b)
		}
		var d dedup
		if !d.fresh(m, ev.Time) || d.fresh(m, ev.Time) {
			t.Errorf("dedup of %s", b)
		}
	})
}

func FuzzAptSources(f *testing.F) {
	f.Add("Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n")
	f.Add("deb [arch=amd64] http://ftp.debian.org/debian bookworm main\n# deb http://x/ sid main\n")
	f.Add("Types: deb\nEnabled: no\nURIs: https://m/debian\nSuites: trixie\n\nTypes: deb\nURIs: cdrom:\nSuites: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (string, string){parseDeb822, parseOneLine} {
			mirror, suite := parse(s)
			if (mirror == "") != (suite == "") {
				t.Errorf("%q: mirror %q suite %q", s, mirror, suite)
			}
			if mirror != "" && (!goodMirror(mirror) || !mainSuite(suite) || strings.ContainsAny(mirror+suite, " \t\n")) {
				t.Errorf("%q: mirror %q suite %q", s, mirror, suite)
			}
		}
	})
}

func FuzzMountinfo(f *testing.F) {
	f.Add("90 30 0:50 / /tmp/w/rootfs/proc rw,relatime - proc proc rw\n22 1 0:21 / /proc rw - proc proc rw\n")
	f.Add("93 30 0:53 / /tmp/w/with\\040space rw - tmpfs t rw\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseMountinfo(strings.NewReader(s), "/tmp/w")
		if err != nil {
			return
		}
		for _, m := range got {
			if m != "/tmp/w" && !strings.HasPrefix(m, "/tmp/w/") {
				t.Errorf("%q outside /tmp/w", m)
			}
		}
	})
}

func FuzzCheckStatic(f *testing.F) {
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00"))
	f.Add([]byte("#!/bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ef, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			return
		}
		defer ef.Close()
		_ = checkStaticELF("fuzz", ef)
	})
}

// The build context the engine gets is always a readable tar of two
// files, whatever the binary.
func FuzzBuildContext(f *testing.F) {
	f.Add([]byte("\x7fELF"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		buf, err := buildContext(b, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(buf.Bytes(), []byte(Dockerfile)) || buf.Len() < len(b) {
			t.Error("context lacks its files")
		}
	})
}
