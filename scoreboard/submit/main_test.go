package submit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memLog is the shared in-memory log of the game's tests.
type memLog = scoreboardtest.MemLog

// The fixture's game: teams alpha and bravo attack, charlie attacks and
// defends, delta only defends; one service with two flag stores. The game
// starts at tick curTick with a flag lifetime of lifetime ticks, so flags of
// ticks 1001..5000 are live and older ones are too old.
const (
	teamAlpha   = 0
	teamBravo   = 1
	teamCharlie = 2
	teamDelta   = 3
	curTick     = 5000
	lifetime    = 4000
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

type fixtureOpts struct {
	// running seeds the log with the start and tick curTick; otherwise
	// the game is still in setup.
	running bool
	// networks of the teams, by team id ("" for none).
	networks [4]string
	log      scoreboard.Log
	// attackers adds that many more attack teams, and stores sets the
	// service's flag stores (2 when 0), for the benchmarks.
	attackers int
	stores    int
}

type fixture struct {
	game  *scoreboard.Game
	toks  *tokens.Set
	clock *scoreboardtest.Clock
}

func testConfig(o fixtureOpts) *scoreboard.Config {
	cfg := &scoreboard.Config{
		Name: "test", Title: "Test",
		Teams: []scoreboard.Team{
			{ID: 0, Name: "alpha", Role: scoreboard.RoleAttack, Network: o.networks[0]},
			{ID: 1, Name: "bravo", Role: scoreboard.RoleAttack, Network: o.networks[1]},
			{ID: 2, Name: "charlie", Role: scoreboard.RoleBoth, Network: o.networks[2]},
			{ID: 3, Name: "delta", Role: scoreboard.RoleDefence, Network: o.networks[3]},
		},
		Services: []scoreboard.Service{{ID: 0, Name: "mail", Weight: 1, Stores: []string{"inbox", "admin"}}},
		Replicas: []scoreboard.Replica{
			{Owner: teamCharlie, Service: 0, Address: "10.0.2.1"},
			{Owner: teamDelta, Service: 0, Address: "10.0.3.1"},
		},
		Tick: time.Minute, FlagLifetime: lifetime, GetflagDepth: 1,
		Scoring: scoreboard.DefaultScoring(),
	}
	for i := 2; i < o.stores; i++ {
		cfg.Services[0].Stores = append(cfg.Services[0].Stores, fmt.Sprintf("store%d", i))
	}
	for i := range o.attackers {
		id := len(cfg.Teams)
		cfg.Teams = append(cfg.Teams, scoreboard.Team{ID: id, Name: fmt.Sprintf("extra%d", i), Role: scoreboard.RoleAttack})
	}
	return cfg
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	clock := scoreboardtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	log := o.log
	if log == nil {
		log = &memLog{}
	}
	if o.running {
		evs := []scoreboard.Event{
			{Time: clock.Now(), Kind: scoreboard.KindPhaseChanged, Code: uint8(scoreboard.PhaseRunning), Text: scoreboard.ActStart, Team: -1},
			{Time: clock.Now(), Kind: scoreboard.KindTickStarted, Tick: curTick, Value: int64(time.Minute), Team: -1},
		}
		recs := make([][]byte, len(evs))
		for i := range evs {
			recs[i] = evs[i].AppendEncode(nil)
		}
		if _, err := log.Append(context.Background(), recs, nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(o)
	g, err := scoreboard.NewGame(context.Background(), scoreboard.Options{Config: cfg, Log: log, Key: testKey, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := tokens.New(cfg.Teams)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{game: g, toks: toks, clock: clock}
}

// flag returns the flag of owner's store of tick.
func (f *fixture) flag(tick int32, owner, store int) string {
	return f.game.Flags().Issue(scoreboard.FlagID{Tick: tick, Owner: int16(owner), Store: int16(store)})
}

func (f *fixture) act(t testing.TB, action string) {
	t.Helper()
	if err := f.game.Act(context.Background(), action); err != nil {
		t.Fatal(err)
	}
}

// forged is flag-shaped and base32 where it matters, but not issued.
const forged = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// observed collects what an Observer was told.
type observed struct {
	mu sync.Mutex
	n  map[scoreboard.Code]int
}

func (o *observed) observe(c scoreboard.Code, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[scoreboard.Code]int{}
	}
	o.n[c] += n
}

func (o *observed) get(c scoreboard.Code) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[c]
}
