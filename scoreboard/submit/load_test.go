package submit

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	for _, proto := range []string{"tcp", "http"} {
		for _, rate := range []float64{0, 6000} {
			t.Run(fmt.Sprintf("%s at %v a second", proto, rate), func(t *testing.T) {
				fx := newFixture(t, fixtureOpts{running: true})
				o := LoadOptions{
					Proto:  proto,
					Tokens: []string{fx.toks.TeamToken(teamAlpha), fx.toks.TeamToken(teamBravo), fx.toks.TeamToken(teamCharlie)},
					Flags: func(team, i int) string {
						if i%5 == 4 {
							return "junk"
						}
						return fx.flag(int32(1001+i), teamDelta, 0)
					},
					PerTeam: 300,
					Batch:   40,
					Rate:    rate,
					Conns:   2,
				}
				if proto == "tcp" {
					o.Addr = startTCP(t, fx.tcpOptions())
				} else {
					srv := httptest.NewServer(NewHTTPHandler(fx.httpOptions()))
					defer srv.Close()
					o.URL = srv.URL + "/flags"
				}
				res, err := Load(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				if res.Sent != 900 || res.OK != 720 || res.Other != 180 {
					t.Errorf("sent %d, OK %d, other %d; want 900, 720, 180", res.Sent, res.OK, res.Other)
				}
				if res.PerSecond <= 0 || res.Elapsed <= 0 || res.P50 <= 0 || res.P50 > res.P90 || res.P90 > res.P99 || res.P99 > res.Max {
					t.Errorf("implausible figures %+v", res)
				}
				// 300 flags a team at 2000 a second each take 150 ms.
				if rate > 0 && res.Elapsed < 100*time.Millisecond {
					t.Errorf("paced load took %v, want at least 100ms", res.Elapsed)
				}
			})
		}
	}
}

func TestLoadErrors(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	good := LoadOptions{Tokens: []string{fx.toks.TeamToken(teamAlpha), "0123456789abcdef0123456789abcdef"},
		Flags: func(int, int) string { return "x" }, PerTeam: 10}
	t.Run("bad token over tcp", func(t *testing.T) {
		o := good
		o.Proto, o.Addr = "tcp", startTCP(t, fx.tcpOptions())
		if _, err := Load(context.Background(), o); err == nil || !strings.Contains(err.Error(), "invalid team token") {
			t.Fatalf("err %v, want the server's refusal", err)
		}
	})
	t.Run("bad token over http", func(t *testing.T) {
		srv := httptest.NewServer(NewHTTPHandler(fx.httpOptions()))
		defer srv.Close()
		o := good
		o.Proto, o.URL = "http", srv.URL+"/flags"
		if _, err := Load(context.Background(), o); err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err %v, want a 401", err)
		}
	})
	for _, o := range []LoadOptions{{}, {Tokens: good.Tokens, Flags: good.Flags, PerTeam: 1, Proto: "udp"},
		{Tokens: good.Tokens, Flags: good.Flags, PerTeam: 1, Proto: "tcp"}} {
		if _, err := Load(context.Background(), o); err == nil {
			t.Errorf("Load(%+v) succeeded", o)
		}
	}
}
