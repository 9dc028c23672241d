package mailtarget

import (
	"testing"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scenarios"
)

// TestReadLineTechnique: what a watching defender makes of the server's
// actions.
func TestReadLineTechnique(t *testing.T) {
	targettest.Techniques(t, New(), map[string]string{
		`{"level":"WARN","msg":"login failed","proto":"imap","src":"127.60.1.2:4000","action":"login"}`:                                       "T1110",
		`{"level":"INFO","msg":"login","proto":"imap","src":"127.60.1.2:4000","action":"login"}`:                                              "",
		`{"level":"WARN","msg":"authentication failed","proto":"smtp","src":"127.60.1.2:4000","action":"auth"}`:                               "T1110",
		`{"level":"WARN","msg":"EXPN answered","proto":"smtp","src":"127.60.1.2:4000","action":"expn"}`:                                       "T1087",
		`{"level":"WARN","msg":"VRFY refused","proto":"smtp","src":"127.60.1.2:4000","action":"vrfy"}`:                                        "T1087",
		`{"level":"INFO","msg":"attachment downloaded","proto":"http","src":"127.60.1.2:4000","action":"download","file":"../../etc/passwd"}`: "T1190",
		`{"level":"INFO","msg":"attachment downloaded","proto":"http","src":"127.60.1.2:4000","action":"download","file":"bao-cao.pdf"}`:      "",
		`{"level":"INFO","msg":"settings","proto":"admin","src":"127.61.1.200:4000","action":"settings"}`:                                     "",
	})
}

// TestReadLineRemedy: only the admin port's changes are remedies.
func TestReadLineRemedy(t *testing.T) {
	targettest.Remedies(t, New(), map[string]string{
		`{"msg":"settings saved","proto":"admin","action":"settings","changes":"lockout: false -> true"}`: "settings: lockout: false -> true",
		`{"msg":"settings saved","proto":"admin","action":"settings","changes":" "}`:                      "",
		`{"msg":"settings saved","proto":"http","action":"settings","changes":"lockout: false -> true"}`:  "",
		`{"msg":"password reset","proto":"admin","action":"reset_password","target":"a@x.gov.vn"}`:        "reset_password: a@x.gov.vn",
		`{"msg":"password changed","proto":"admin","action":"admin_password","target":"admin"}`:           "admin_password: admin",
		`{"msg":"login","proto":"admin","action":"login"}`:                                                "",
	})
}

func TestWeaknessOn(t *testing.T) {
	targettest.WeaknessOn(t, New(), []targettest.Switch{
		{Desc: "no weaknesses key: the target takes them all", Options: scenarios.Options{"domain": "x.gov.vn"},
			On: map[string]bool{"webmail_idor": true, "smtp_vrfy": true}},
		{Desc: "those set true", Options: scenarios.Options{"weaknesses": scenarios.Options{"webmail_idor": true, "smtp_vrfy": false}},
			On: map[string]bool{"webmail_idor": true, "smtp_vrfy": false, "path_traversal": false}},
		{Desc: "a list", Options: scenarios.Options{"weaknesses": []any{"smtp_vrfy"}},
			On: map[string]bool{"smtp_vrfy": true, "webmail_idor": false}},
		{Desc: "none", Options: scenarios.Options{"weaknesses": "none"}, On: map[string]bool{"smtp_vrfy": false}},
		{Desc: "all", Options: scenarios.Options{"weaknesses": "all"}, On: map[string]bool{"smtp_vrfy": true}},
	})
}

// TestWeaknesses: every weakness of the contract, each with its exploit,
// techniques, stores and remedy, and nothing else.
func TestWeaknesses(t *testing.T) {
	targettest.Weaknesses(t, New(), contract.Weaknesses())
	if p, ok := New().OperatorPassword("mailserver: admin console operator password: s3cret"); !ok || p != "s3cret" {
		t.Errorf("operator password %q %v", p, ok)
	}
}

// FuzzReadLine feeds the server's log lines, which an attacker shapes, to
// what the defence reads of them: an action has a message and an action,
// a remedy comes only from the admin port, a technique is an ATT&CK id.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte(`{"level":"WARN","msg":"EXPN answered","proto":"smtp","src":"127.60.1.2:4000","action":"expn"}`))
	f.Add([]byte(`{"msg":"x","action":"download","file":"..\u0000"}`))
	f.Add([]byte("mailserver: admin console operator password: x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		targettest.ReadLine(t, New(), b)
	})
}
