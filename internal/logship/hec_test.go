package logship

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hecServer checks each request against Splunk's documented event format
// ("Format events for HTTP Event Collector") and keeps the events.
type hecServer struct {
	t      *testing.T
	token  string
	mu     sync.Mutex
	events []map[string]any
	status []int // answers to give first, then 200
}

func (h *hecServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
		h.t.Errorf("%s %s", r.Method, r.URL.Path)
		http.Error(w, `{"text":"not found","code":404}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("Authorization") != "Splunk "+h.token {
		http.Error(w, `{"text":"Invalid token","code":4}`, http.StatusForbidden)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.status) > 0 {
		code := h.status[0]
		h.status = h.status[1:]
		http.Error(w, `{"text":"Server is busy","code":9}`, code)
		return
	}
	sc := bufio.NewScanner(r.Body)
	for sc.Scan() {
		var ev map[string]any
		d := json.NewDecoder(strings.NewReader(sc.Text()))
		d.UseNumber()
		if err := d.Decode(&ev); err != nil {
			h.t.Errorf("event %q: %v", sc.Text(), err)
			continue
		}
		for k := range ev {
			switch k {
			case "time", "host", "source", "sourcetype", "index", "event", "fields":
			default:
				h.t.Errorf("unknown key %q", k)
			}
		}
		if _, ok := ev["event"]; !ok {
			h.t.Errorf("no event in %q", sc.Text())
		}
		if _, ok := ev["time"].(json.Number); !ok {
			h.t.Errorf("time %v is not a number", ev["time"])
		}
		if f, ok := ev["fields"].(map[string]any); ok {
			for k, v := range f {
				if _, ok := v.(string); !ok {
					h.t.Errorf("field %s=%v is not flat", k, v)
				}
			}
		}
		h.events = append(h.events, ev)
	}
	w.Write([]byte(`{"text":"Success","code":0}`))
}

func (h *hecServer) got() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.events...)
}

func TestHEC(t *testing.T) {
	h := &hecServer{t: t, token: "11111111-2222-3333-4444-555555555555", status: []int{503}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := NewHEC(HECConfig{URL: srv.URL + "/", Token: h.token}, Options{MinBackoff: time.Millisecond})
	at := time.Unix(1700000000, 250000000)
	s.Send(Record{Time: at, Host: "portal-team1", App: "portal",
		Data: map[string]string{"service": "portal", "replica": "portal-team1"}, Message: []byte(`{"msg":"login","user":"admin"}`)})
	s.Send(Record{Time: at, Host: "sensor-team1", App: "sensor",
		Data: map[string]string{"service": "portal", "replica": "portal-team1"}, Message: []byte("not json")})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := h.got()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e["time"].(json.Number).String() != "1700000000.250000" || e["host"] != "portal-team1" || e["source"] != "portal" || e["sourcetype"] != "_json" {
		t.Fatalf("event %v", e)
	}
	if ev, ok := e["event"].(map[string]any); !ok || ev["user"] != "admin" {
		t.Fatalf("event body %v: want the JSON line as an object", e["event"])
	}
	if f := e["fields"].(map[string]any); f["service"] != "portal" || f["replica"] != "portal-team1" {
		t.Fatalf("fields %v", f)
	}
	if evs[1]["event"] != "not json" {
		t.Fatalf("non-JSON line %v: want a string", evs[1]["event"])
	}
	if st := s.Stats(); st.Sent != 2 || st.Reconnects != 1 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A wrong token is refused for good: the batch is dropped and counted,
// not retried for ever.
func TestHECBadToken(t *testing.T) {
	h := &hecServer{t: t, token: "right"}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s := NewHEC(HECConfig{URL: srv.URL, Token: "wrong"}, Options{})
	s.Send(Record{Host: "h", App: "a", Message: []byte("{}")})
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Dropped != 1 || st.Sent != 0 || len(h.got()) != 0 {
		t.Fatalf("stats %+v", st)
	}
}
