package target_test

import (
	"testing"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/images/target/linetarget"
	"github.com/cyrange/cyrange/scenarios"
)

func TestSet(t *testing.T) {
	s := target.Set{linetarget.New()}
	if _, ok := s.Lookup("linesvc"); !ok {
		t.Fatal("no linesvc")
	}
	if _, ok := s.Lookup("nope"); ok {
		t.Fatal("found nope")
	}
	if n := s.Names(); len(n) != 1 || n[0] != "linesvc" {
		t.Fatalf("names %v", n)
	}
	if _, ok := s.OptionChecks()["linesvc"]; !ok {
		t.Fatal("no option check")
	}
	for _, c := range []struct {
		svc scenarios.Service
		ok  bool
	}{
		{scenarios.Service{Image: "linesvc", Checker: "builtin:linesvc"}, true},
		{scenarios.Service{Image: "linesvc", Checker: "https://checker.example/"}, false},
		{scenarios.Service{Image: "registry.example/app:1", Checker: "builtin:linesvc"}, false},
	} {
		if _, ok := s.Of(c.svc); ok != c.ok {
			t.Errorf("Of(%+v) = %v", c.svc, ok)
		}
	}
	tg, _ := s.Lookup("linesvc")
	if _, ok := target.Find(tg, linetarget.DebugDump); !ok {
		t.Error("no debug_dump")
	}
	if p, ok := target.AdminPort(tg); !ok || p != "admin" {
		t.Errorf("admin port %q %v", p, ok)
	}
	if got := s.AdminPorts(); len(got) != 1 || got["linesvc"] != 8025 {
		t.Errorf("admin ports %v", got)
	}
	r := target.Replica{Ports: map[string]int{"line": 9}}
	if r.Port("line", 1) != 9 || r.Port("other", 1) != 1 {
		t.Error("Replica.Port")
	}
}

func TestWeaknessOn(t *testing.T) {
	parse := func(s string) (map[string]bool, error) { return map[string]bool{s: true}, nil }
	for _, c := range []struct {
		o    scenarios.Options
		want bool
	}{
		{nil, true},
		{scenarios.Options{"weaknesses": scenarios.Options{"w": true}}, true},
		{scenarios.Options{"weaknesses": scenarios.Options{"w": false}}, false},
		{scenarios.Options{"weaknesses": []any{"x", "w"}}, true},
		{scenarios.Options{"weaknesses": []any{"x"}}, false},
		{scenarios.Options{"weaknesses": "w"}, true},
		{scenarios.Options{"weaknesses": 3}, false},
	} {
		if got := target.WeaknessOn(c.o, "w", parse); got != c.want {
			t.Errorf("%v: %v", c.o, got)
		}
	}
	if target.WeaknessOn(scenarios.Options{"weaknesses": "w"}, "w", nil) {
		t.Error("a string without a parser")
	}
}

func TestReadJSONLine(t *testing.T) {
	for _, c := range []struct {
		line, src string
		ok        bool
	}{
		{`{"msg":"m","action":"a","src":"127.0.0.1:5"}`, "127.0.0.1", true},
		{`{"msg":"m","action":"a","src":"[::ffff:10.0.0.1]:5"}`, "10.0.0.1", true},
		{`{"msg":"m","action":"a","src":"host:5"}`, "host", true},
		{`{"msg":"m","action":"a","src":"a\nb:1"}`, "", true},
		{`{"msg":"m","action":"a","src":"a b:1"}`, "", true},
		{`{"msg":"m","action":"a"}`, "", true},
		{`{"msg":"m"}`, "", false},
		{`password: x`, "", false},
	} {
		l, ok := target.ReadJSONLine([]byte(c.line))
		if ok != c.ok || l.Source() != c.src {
			t.Errorf("%s: %v %q", c.line, ok, l.Source())
		}
	}
}
