package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HECConfig names a Splunk HTTP Event Collector (or anything that accepts
// its event format: Elastic, Vector...).
type HECConfig struct {
	// URL is the collector's base, e.g. https://splunk:8088; events go to
	// URL + "/services/collector/event".
	URL        string
	Token      string
	SourceType string // default "_json"
	Client     *http.Client
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
}

// HECPath is where HEC takes JSON events.
const HECPath = "/services/collector/event"

// NewHEC starts a Shipper to a HEC endpoint.
func NewHEC(cfg HECConfig, opts Options) *Shipper {
	if cfg.SourceType == "" {
		cfg.SourceType = "_json"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return newShipper(&hecTransport{cfg: cfg, url: strings.TrimRight(cfg.URL, "/") + HECPath}, opts)
}

type hecTransport struct {
	cfg HECConfig
	url string
	buf bytes.Buffer
}

// hecEvent is one event in Splunk's documented format ("Format events for
// HTTP Event Collector"): time in epoch seconds with a fraction, event a
// JSON object or a string, fields flat indexed strings.
type hecEvent struct {
	Time       json.Number       `json:"time"`
	Host       string            `json:"host,omitempty"`
	Source     string            `json:"source,omitempty"`
	SourceType string            `json:"sourcetype"`
	Event      json.RawMessage   `json:"event"`
	Fields     map[string]string `json:"fields,omitempty"`
}

// AppendHECEvent appends r as one HEC event and a newline.
func AppendHECEvent(dst []byte, r Record, sourceType string) []byte {
	ev := hecEvent{
		Host:       r.Host,
		Source:     r.App,
		SourceType: sourceType,
		Fields:     r.Data,
	}
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	ev.Time = json.Number(strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64))
	// A target's line is JSON and goes as an object; anything else as a string.
	msg := bytes.TrimSpace(r.Message)
	if len(msg) > 0 && msg[0] == '{' && json.Valid(msg) {
		ev.Event = msg
	} else {
		s, _ := json.Marshal(string(r.Message))
		ev.Event = s
	}
	b, err := json.Marshal(ev)
	if err != nil { // unreachable: every part is valid JSON
		panic(err)
	}
	dst = append(dst, b...)
	return append(dst, '\n')
}

func (t *hecTransport) write(ctx context.Context, batch []Record) error {
	t.buf.Reset()
	var b []byte
	for _, r := range batch {
		b = AppendHECEvent(b[:0], r, t.cfg.SourceType)
		t.buf.Write(b)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.buf.Bytes()))
	if err != nil {
		return fmt.Errorf("%w: %v", errRejected, err)
	}
	req.Header.Set("Authorization", "Splunk "+t.cfg.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		// Busy or down (503 "server is busy"): retry after backoff.
		return fmt.Errorf("logship: hec %s: %s", resp.Status, body)
	default:
		// 400 bad data, 401/403 token: retrying the same batch cannot help.
		return fmt.Errorf("%w: hec %s: %s", errRejected, resp.Status, body)
	}
}

func (t *hecTransport) close() error {
	t.cfg.Client.CloseIdleConnections()
	return nil
}
