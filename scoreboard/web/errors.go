package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cyrange/cyrange/scoreboard"
)

// httpError is an error the web layer raises itself, with the status and
// the reason the client reads.
type httpError struct {
	status int
	reason string
}

func (e *httpError) Error() string { return fmt.Sprintf("web: %d: %s", e.status, e.reason) }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, reason: fmt.Sprintf(format, args...)}
}

// errorBody is the body of every error response.
type errorBody struct {
	Error string `json:"error"`
}

// statusOf is the one table from the game's sentinel errors to statuses;
// 0 means the error is not one the client may be told about. It also
// returns the sentinel found, so that the reason can drop it.
func statusOf(err error) (int, error) {
	for _, m := range [...]struct {
		sentinel error
		status   int
	}{
		{scoreboard.ErrInvalid, http.StatusBadRequest},
		{scoreboard.ErrUnauthorized, http.StatusUnauthorized},
		{scoreboard.ErrForbidden, http.StatusForbidden},
		{scoreboard.ErrNotFound, http.StatusNotFound},
		{scoreboard.ErrConflict, http.StatusConflict},
		{scoreboard.ErrRateLimited, http.StatusTooManyRequests},
		{scoreboard.ErrUnavailable, http.StatusServiceUnavailable},
	} {
		if errors.Is(err, m.sentinel) {
			return m.status, m.sentinel
		}
	}
	return 0, nil
}

// reasonOf words a domain error for the client: the status already says
// "invalid" or "conflict", and the package prefix means nothing to it, so
// "scoreboard: cannot pause while setup: conflict" reads "cannot pause
// while setup".
func reasonOf(err, sentinel error) string {
	msg := strings.TrimSuffix(err.Error(), ": "+sentinel.Error())
	if pkg, rest, ok := strings.Cut(msg, ": "); ok && rest != "" && isIdent(pkg) {
		msg = rest
	}
	return msg
}

func isIdent(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return s != ""
}

// handleError writes err as {"error": reason}. Only errors the client
// cannot be told about are logged: they are ours to fix, and their text
// may hold details (paths, addresses) that are nobody else's business.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, reason := http.StatusInternalServerError, "internal error"
	var he *httpError
	var ee *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		status, reason = he.status, he.reason
	case errors.As(err, &mbe):
		status, reason = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit)
	case errors.As(err, &ee):
		status, reason = ee.Code, strings.ToLower(http.StatusText(ee.Code))
		if m, ok := ee.Message.(string); ok && m != "" {
			reason = strings.ToLower(m)
		}
	default:
		if st, sentinel := statusOf(err); st != 0 {
			status, reason = st, reasonOf(err, sentinel)
		} else {
			s.logger.Error("request failed", "method", c.Request().Method, "route", c.Path(), "err", err)
		}
	}
	if status == http.StatusTooManyRequests && c.Response().Header().Get("Retry-After") == "" {
		c.Response().Header().Set("Retry-After", "1")
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if werr := c.JSON(status, errorBody{Error: reason}); werr != nil {
		s.logger.Debug("error response not written", "err", werr)
	}
}

// decodeJSON reads the request body into v: exactly one JSON value, no
// unknown fields, nothing after it. Every failure is a 400 (413 when too
// large) whose reason says what is wrong.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return errorf(http.StatusBadRequest, "invalid JSON body: more than one value")
	}
	return nil
}

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return errorf(http.StatusRequestEntityTooLarge, "request body larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "empty request body, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "invalid JSON body: unexpected end of input")
	}
	return errorf(http.StatusBadRequest, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
}
