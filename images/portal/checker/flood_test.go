package checker_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// TestFloodFromOtherSourcesKeepsTheFlags: attack teams, each from its own
// source, flood the public writes (dossiers with files, contact
// messages) past their shares and past the total; what the quota evicts
// is theirs, so the checker's flags and noise planted before the flood
// are still there (getflag and getnoise OK) and planting goes on.
func TestFloodFromOtherSourcesKeepsTheFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood of some megabytes")
	}
	lim := portal.Limits{StoredPerSource: 40, StoredBytesSource: 512 << 10, StoredBytes: 2 << 20}
	e := startWith(t, replicaName, lim)
	var gets []checks.Task
	for v := range contract.Stores() {
		put := task(checks.PutFlag, v, targettest.NewFlag())
		targettest.Expect(t, e.c, put, checks.OK)
		gets = append(gets, again(put, checks.GetFlag))
	}
	noise := task(checks.PutNoise, 0, "")
	targettest.Expect(t, e.c, noise, checks.OK)
	gets = append(gets, again(noise, checks.GetNoise))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := "http://" + e.srv.AddrHTTP()
	probe := portalclient.New(base, nil)
	defer probe.Close()
	procs, err := probe.Procedures(ctx, "tinh")
	if err != nil || len(procs) == 0 {
		t.Fatalf("procedures: %v %v", procs, err)
	}
	const sources, each = 8, 40
	file := bytes.Repeat([]byte("PDF-1.4 ho so dinh kem "), (48<<10)/23)
	var wg sync.WaitGroup
	accepted := make([]int, sources)
	for i := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each flooder is its own source, as each team's gateway is.
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 7, byte(i+1))}}
			c := portalclient.New(base, d)
			defer c.Close()
			for k := range each {
				if _, err := c.Submit(ctx, portalclient.Dossier{Procedure: procs[0].ID, Applicant: "Nguyễn Văn Lũ",
					CitizenID: fmt.Sprintf("0792%08d", i*1000+k), Phone: "0912345678",
					Files: map[string][]byte{"giay-to.pdf": file}}); err == nil {
					accepted[i]++
				}
				if _, err := c.Contact(ctx, "tinh", "Khách", "", fmt.Sprintf("Thư %d", k), string(file[:4096])); err != nil {
					continue
				}
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range accepted {
		total += n
	}
	// The flood was real: far more than the total keeps was accepted.
	if int64(total)*int64(len(file)) < 2*lim.StoredBytes {
		t.Fatalf("the flood wrote only %d dossiers", total)
	}
	for _, tk := range gets {
		targettest.Expect(t, e.c, again(tk, tk.Method), checks.OK)
	}
	for v := range contract.Stores() {
		put := task(checks.PutFlag, v, targettest.NewFlag())
		targettest.Expect(t, e.c, put, checks.OK)
		targettest.Expect(t, e.c, again(put, checks.GetFlag), checks.OK)
	}
}
