package checks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// maxTaskBody bounds a task body: a task is a few hundred bytes, attackInfo
// included, so anything near this is not a task.
const maxTaskBody = 64 << 10

// NewHandler serves c over the enochecker API v2: GET /service and POST /.
// Any engine that speaks the protocol (cyrange's runner, EnoEngine) can
// drive an in-process checker through it. Tasks get c's answer within their
// timeout, OFFLINE when c runs out of it, and INTERNAL_ERROR when c fails or
// panics; malformed tasks get 400.
func NewHandler(c Checker, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{c: InProcess(c), log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /service", h.service)
	mux.HandleFunc("POST /{$}", h.task)
	return mux
}

type handler struct {
	c   Checker
	log *slog.Logger
}

func (h *handler) service(w http.ResponseWriter, r *http.Request) {
	info, err := h.c.Info(r.Context())
	if err != nil {
		h.log.Error("checker info failed", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "checker unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *handler) task(w http.ResponseWriter, r *http.Request) {
	t, err := DecodeTask(io.LimitReader(r.Body, maxTaskBody+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	ctx := r.Context()
	if t.Timeout > 0 {
		// The engine stops waiting at the task's timeout; InProcess hands
		// the checker a slightly earlier deadline so it can still answer.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, millis(t.Timeout))
		defer cancel()
	}
	res, err := h.c.Run(ctx, t)
	if err != nil {
		h.log.Error("checker task failed", "method", t.Method, "chain", t.TaskChainID, "err", err)
		res = TaskResult{Result: InternalError, Message: Str("checker error")}
	}
	writeJSON(w, http.StatusOK, res)
}

// DecodeTask parses and validates one task body. Unknown keys are ignored,
// as engines add fields over time; trailing data after the object is not.
func DecodeTask(r io.Reader) (Task, error) {
	var t Task
	body, err := io.ReadAll(r)
	if err != nil {
		return t, fmt.Errorf("checks: reading task: %w", err)
	}
	if len(body) > maxTaskBody {
		return t, errors.New("checks: task body too large")
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return Task{}, fmt.Errorf("checks: malformed task: %w", err)
	}
	if !t.Method.Valid() {
		return t, fmt.Errorf("checks: unknown method %q", t.Method)
	}
	if (t.Method == PutFlag || t.Method == GetFlag) && (t.Flag == nil || *t.Flag == "") {
		return t, fmt.Errorf("checks: %s needs a flag", t.Method)
	}
	if t.Method == Exploit && (t.FlagHash == nil || *t.FlagHash == "") {
		return t, errors.New("checks: exploit needs a flagHash")
	}
	if t.Timeout < 0 || t.RoundLength < 0 || t.VariantID < 0 {
		return t, errors.New("checks: negative timeout, roundLength or variantId")
	}
	return t, nil
}

// maxTimeout caps a task's timeout: the protocol's are seconds, and a
// larger number only risks overflowing a Duration.
const maxTimeout = time.Hour

// millis turns the protocol's milliseconds into a duration, capped.
func millis(ms int64) time.Duration {
	if ms >= maxTimeout.Milliseconds() {
		return maxTimeout
	}
	return time.Duration(ms) * time.Millisecond
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
