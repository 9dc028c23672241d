package ingest

import (
	"slices"
	"testing"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
)

// TestExposure: a built-in target's service exposes the weaknesses its
// options plant, with the target's techniques and stores; a service of
// another image exposes nothing.
func TestExposure(t *testing.T) {
	mail := mailtarget.New()
	sc := &scenarios.Scenario{Services: []scenarios.Service{
		{Name: "mail", Image: mail.Name(), Checker: "builtin:" + mail.Name(),
			Options: scenarios.Options{"weaknesses": []any{contract.WeakPassword, contract.NoLockout}}},
		{Name: "other", Image: "example/other:1", Checker: "http://checker.example:8000"},
	}}
	exp := Exposure(sc, target.Set{mail})
	if len(exp) != 1 {
		t.Fatalf("exposure %+v", exp)
	}
	var names []string
	for _, w := range exp["mail"] {
		names = append(names, w.Name)
		want, _ := target.Find(mail, w.Name)
		if !slices.Equal(w.Techniques, want.Techniques) || !slices.Equal(w.Stores, want.Stores) || len(w.Techniques) == 0 {
			t.Errorf("%s: %+v, want the target's %v %v", w.Name, w, want.Techniques, want.Stores)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{contract.NoLockout, contract.WeakPassword}) {
		t.Errorf("weaknesses %v", names)
	}
}
