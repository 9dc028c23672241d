package checker_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/portal/checker"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// TestRunChecker serves the checker as its role does and asks it, with
// the token the game derives from the secret, what it checks. What the
// role requires and whom it serves is taskrun's (see its role tests).
func TestRunChecker(t *testing.T) {
	base := targettest.ServeChecker(t, checker.RunChecker, "--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=portal.d01")
	hc := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	info, err := checks.NewClient(base, hc, checks.WithToken(checks.CallerToken("s"))).Info(context.Background())
	if err != nil || info.ServiceName != "portal" || info.FlagVariants != 3 {
		t.Errorf("service: %+v %v", info, err)
	}
}
