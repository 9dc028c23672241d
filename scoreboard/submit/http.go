package submit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// DefaultMaxBody bounds an HTTP submission's body: 1000 flags take about
// 36 KiB, the rest is room for escapes and whitespace.
const DefaultMaxBody = 128 << 10

// Paths the HTTP handler serves (PROTOCOLS.md §2).
const (
	PathFlags   = "/flags"
	PathAPIFlag = "/api/v1/flags"
)

// HTTPOptions configure the HTTP handler. Judge and Auth are required.
type HTTPOptions struct {
	Judge Judge
	Auth  Authenticator
	// Limiter throttles each team; nil means no limit. A request is
	// granted whole or refused with 429.
	Limiter *Limiter
	Logger  *slog.Logger
	// MaxBody bounds the request body; 0 means DefaultMaxBody.
	MaxBody int64
	// Observe, if set, counts the verdicts sent, and counts the flags of
	// a request refused with 409 or 429 as ERR.
	Observe Observer
}

// NewHTTPHandler returns the farm-compatible submission endpoint:
// PUT or POST, at PathFlags or PathAPIFlag, a JSON array of up to
// MaxHTTPFlags flag strings, the team token in X-Team-Token or
// "Authorization: Bearer". Every error is a JSON {"error": reason}.
func NewHTTPHandler(o HTTPOptions) http.Handler {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	h := &httpHandler{o: o, log: o.Logger}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.scratch.New = func() any {
		return &httpScratch{flags: make([][]byte, 0, MaxHTTPFlags), shaped: make([][]byte, 0, MaxHTTPFlags)}
	}
	return h
}

type httpHandler struct {
	o       HTTPOptions
	log     *slog.Logger
	scratch sync.Pool // of *httpScratch
}

// httpScratch is one request's reusable memory.
type httpScratch struct {
	body   bytes.Buffer
	flags  [][]byte
	shaped [][]byte
	out    []byte
}

func (h *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != PathFlags && r.URL.Path != PathAPIFlag {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed: use PUT or POST")
		return
	}
	tok := requestToken(r)
	if h.o.Judge == nil || h.o.Auth == nil {
		writeError(w, http.StatusInternalServerError, "submission is not configured")
		return
	}
	p, err := h.o.Auth.Lookup(tok)
	if tok == "" || err != nil {
		writeError(w, http.StatusUnauthorized, "invalid team token")
		return
	}
	if p.Kind != tokens.TeamToken {
		writeError(w, http.StatusForbidden, msgOrganizer)
		return
	}
	if !p.Role.Attacks() {
		writeError(w, http.StatusForbidden, msgNoAttack)
		return
	}

	sc := h.scratch.Get().(*httpScratch)
	defer h.release(sc)
	if r.ContentLength > h.o.MaxBody {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body larger than %d bytes", h.o.MaxBody))
		return
	}
	if _, err := sc.body.ReadFrom(io.LimitReader(r.Body, h.o.MaxBody+1)); err != nil {
		writeError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		return
	}
	if int64(sc.body.Len()) > h.o.MaxBody {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body larger than %d bytes", h.o.MaxBody))
		return
	}
	sc.flags, err = parseFlags(sc.body.Bytes(), MaxHTTPFlags, sc.flags)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, f := range sc.flags {
		if flagShaped(f) {
			sc.shaped = append(sc.shaped, f)
		}
	}
	if pm := h.o.Judge.PhaseError(); pm != "" {
		h.refused(len(sc.flags))
		writeError(w, http.StatusConflict, pm)
		return
	}
	ok, retry := h.o.Limiter.TakeAll(p.Team, len(sc.shaped))
	if !ok && retry <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(
			"%d flags in one request, more than the team's burst of %d: send smaller batches",
			len(sc.shaped), h.o.Limiter.Burst()))
		return
	}
	if !ok {
		h.refused(len(sc.flags))
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(retry.Seconds())), 10))
		writeError(w, http.StatusTooManyRequests, msgRateLimited)
		return
	}
	var vs []scoreboard.Verdict
	if len(sc.shaped) > 0 {
		vs, err = h.o.Judge.Submit(r.Context(), p.Team, sc.shaped)
		if err == nil && len(vs) != len(sc.shaped) {
			err = fmt.Errorf("submit: %d verdicts for %d flags", len(vs), len(sc.shaped))
		}
		if errors.Is(err, scoreboard.ErrForbidden) {
			writeError(w, http.StatusForbidden, msgNoAttack)
			return
		}
		if err != nil {
			h.log.Warn("flags not judged", "team", p.Team, "flags", len(sc.shaped), "err", err)
			writeError(w, http.StatusInternalServerError, msgSubmitFailed)
			return
		}
	}
	sc.out = h.appendVerdicts(sc.out[:0], sc.flags, vs)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(sc.out)))
	w.WriteHeader(http.StatusOK)
	w.Write(sc.out)
}

func (h *httpHandler) release(sc *httpScratch) {
	sc.body.Reset()
	clear(sc.flags)
	clear(sc.shaped)
	sc.flags, sc.shaped = sc.flags[:0], sc.shaped[:0]
	if cap(sc.out) > 1<<20 || sc.body.Cap() > 1<<20 {
		// Keep no giant buffer of one odd request alive in the pool.
		return
	}
	h.scratch.Put(sc)
}

func (h *httpHandler) refused(n int) {
	if h.o.Observe != nil && n > 0 {
		h.o.Observe(scoreboard.CodeERR, n)
	}
}

// appendVerdicts writes the 200 reply: one object per flag, in order;
// vs holds the verdicts of the flag-shaped ones.
func (h *httpHandler) appendVerdicts(out []byte, flags [][]byte, vs []scoreboard.Verdict) []byte {
	var t tally
	out = append(out, '[')
	j := 0
	for i, f := range flags {
		code, msg := scoreboard.CodeINV, scoreboard.MsgInvalid
		if flagShaped(f) {
			code, msg = vs[j].Code, vs[j].Msg
			j++
		}
		t.add(code, 1)
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"flag":`...)
		out = appendJSONString(out, f)
		out = append(out, `,"msg":"[`...)
		out = appendJSONInner(out, f)
		out = append(out, "] "...)
		out = appendJSONInner(out, []byte(msg))
		out = append(out, `","status":`...)
		out = strconv.AppendBool(out, code == scoreboard.CodeOK)
		out = append(out, `,"code":"`...)
		out = append(out, code.String()...)
		out = append(out, `"}`...)
	}
	t.report(h.o.Observe)
	return append(out, "]\n"...)
}

// requestToken returns the team token of r: X-Team-Token, or else a
// Bearer Authorization.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Team-Token"); t != "" {
		return strings.TrimSpace(t)
	}
	a := r.Header.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		return strings.TrimSpace(a[7:])
	}
	return ""
}

func writeError(w http.ResponseWriter, status int, reason string) {
	b := make([]byte, 0, len(reason)+16)
	b = append(b, `{"error":`...)
	b = appendJSONString(b, []byte(reason))
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
