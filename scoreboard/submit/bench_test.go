package submit

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// groupLog is memLog behind one committer that pays a simulated fsync
// for each group of waiting appends, as the real store does: it shows
// whether the submission path keeps enough flags in flight to fill groups.
type groupLog struct {
	memLog
	fsync time.Duration
	reqs  chan *appendReq
	wg    sync.WaitGroup
}

type appendReq struct {
	recs    [][]byte
	applied func(uint64)
	first   uint64
	done    chan struct{}
}

func newGroupLog(fsync time.Duration) *groupLog {
	l := &groupLog{fsync: fsync, reqs: make(chan *appendReq, 1024)}
	l.wg.Add(1)
	go l.commit()
	return l
}

func (l *groupLog) Append(ctx context.Context, recs [][]byte, applied func(uint64)) (uint64, error) {
	r := &appendReq{recs: recs, applied: applied, done: make(chan struct{})}
	l.reqs <- r
	<-r.done
	return r.first, nil
}

func (l *groupLog) commit() {
	defer l.wg.Done()
	for r := range l.reqs {
		group := []*appendReq{r}
	more:
		for {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break more
				}
				group = append(group, r)
			default:
				break more
			}
		}
		time.Sleep(l.fsync)
		for _, r := range group {
			r.first, _ = l.memLog.Append(context.Background(), r.recs, r.applied)
			close(r.done)
		}
	}
}

func (l *groupLog) Close() {
	close(l.reqs)
	l.wg.Wait()
}

// benchStores gives the benchmarks 4000 live ticks × 16 stores of flags.
const benchStores = 16

// benchFixture is the seed scenario's shape: 17 attack teams and one
// defence team, with enough live flag slots that every team submits only
// fresh flags.
func benchFixture(b *testing.B, log scoreboard.Log) (*fixture, []string) {
	fx := newFixture(b, fixtureOpts{running: true, attackers: 14, log: log, stores: benchStores})
	var toks []string
	for i, t := range fx.game.Config().Teams {
		if t.Role.Attacks() {
			toks = append(toks, fx.toks.TeamToken(i))
		}
	}
	if len(toks) != 17 {
		b.Fatalf("%d attack teams", len(toks))
	}
	return fx, toks
}

// benchFlags returns n distinct live flags of the defence team; every team
// submits the same ones, so each is a fresh capture for each team.
func benchFlags(fx *fixture, n int) []string {
	out := make([]string, n)
	for i := range out {
		slot := i % (lifetime * benchStores)
		out[i] = fx.flag(int32(curTick-lifetime+1+slot/benchStores), teamDelta, slot%benchStores)
	}
	return out
}

func runLoad(b *testing.B, fx *fixture, toks []string, o LoadOptions) {
	per := max(b.N/len(toks), 1)
	if per > lifetime*benchStores {
		per = lifetime * benchStores
	}
	flags := benchFlags(fx, per)
	o.Tokens, o.PerTeam = toks, per
	o.Flags = func(_, i int) string { return flags[i] }
	b.ResetTimer()
	res, err := Load(context.Background(), o)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.OK != per*len(toks) {
		b.Fatalf("%d of %d flags accepted", res.OK, per*len(toks))
	}
	b.ReportMetric(res.PerSecond, "flags/s")
	b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99-ms")
}

func BenchmarkTCPSubmit17Teams(b *testing.B) {
	for _, bc := range []struct {
		name  string
		fsync time.Duration
	}{{"memlog", 0}, {"fsync300us", 300 * time.Microsecond}} {
		b.Run(bc.name, func(b *testing.B) {
			var log scoreboard.Log = &memLog{}
			if bc.fsync > 0 {
				gl := newGroupLog(bc.fsync)
				defer gl.Close()
				log = gl
			}
			fx, toks := benchFixture(b, log)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			s := NewTCPServer(TCPOptions{Judge: fx.game, Auth: fx.toks})
			done := make(chan error, 1)
			go func() { done <- s.Serve(context.Background(), ln) }()
			defer func() { s.Close(); <-done }()
			runLoad(b, fx, toks, LoadOptions{Proto: "tcp", Addr: ln.Addr().String(), Batch: 500})
		})
	}
}

func BenchmarkHTTPSubmit(b *testing.B) {
	for _, bc := range []struct {
		name  string
		fsync time.Duration
	}{{"memlog", 0}, {"fsync300us", 300 * time.Microsecond}} {
		b.Run(bc.name, func(b *testing.B) {
			var log scoreboard.Log = &memLog{}
			if bc.fsync > 0 {
				gl := newGroupLog(bc.fsync)
				defer gl.Close()
				log = gl
			}
			fx, toks := benchFixture(b, log)
			srv := httptest.NewServer(NewHTTPHandler(HTTPOptions{Judge: fx.game, Auth: fx.toks}))
			defer srv.Close()
			runLoad(b, fx, toks, LoadOptions{Proto: "http", URL: srv.URL + "/flags", Batch: 100, Conns: 2})
		})
	}
}

// BenchmarkRejectForged is the cost of refusing flag-shaped garbage: every
// candidate uses only base32 symbols, so each one costs a full HMAC.
func BenchmarkRejectForged(b *testing.B) {
	fl, err := scoreboard.NewFlags(testKey, "")
	if err != nil {
		b.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	garbage := make([][]byte, 4096)
	for i := range garbage {
		g := make([]byte, scoreboard.FlagLen)
		rand.Read(g)
		for k := range g {
			g[k] = alphabet[g[k]%32]
		}
		g[len(g)-1] = '='
		garbage[i] = g
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if _, ok := fl.Parse(garbage[i%len(garbage)]); ok {
			b.Fatal("garbage accepted")
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flags/s")
}

// BenchmarkParseFlagsBody is the HTTP door's JSON path for 1000 flags.
func BenchmarkParseFlagsBody(b *testing.B) {
	fx := newFixture(b, fixtureOpts{running: true})
	flags := make([]string, MaxHTTPFlags)
	for i := range flags {
		flags[i] = fx.flag(int32(1001+i), teamDelta, 0)
	}
	body, _ := json.Marshal(flags)
	dst := make([][]byte, 0, MaxHTTPFlags)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		var err error
		if dst, err = parseFlags(body, MaxHTTPFlags, dst[:0]); err != nil || len(dst) != MaxHTTPFlags {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*MaxHTTPFlags)/time.Since(start).Seconds(), "flags/s")
}
