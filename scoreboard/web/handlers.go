package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/tokens"
	"github.com/cyrange/cyrange/static"
)

type health struct {
	Status string `json:"status"`
	Phase  string `json:"phase"`
	Frozen bool   `json:"frozen"`
	Seq    uint64 `json:"seq"`
}

// healthz is public: its seq is the public board's, which a freeze stops
// (scoreboard.FrozenBoard), not the event log's.
func (s *Server) healthz(c echo.Context) error {
	p, frozen := s.game.Phase()
	return c.JSON(http.StatusOK, health{Status: "ok", Phase: p.String(), Frozen: frozen, Seq: s.game.PublicView().Seq})
}

func (s *Server) scoreboard(c echo.Context) error {
	return c.JSON(http.StatusOK, s.game.PublicView())
}

func (s *Server) adminScoreboard(c echo.Context) error {
	return c.JSON(http.StatusOK, s.game.FullView())
}

// ctftime is the CTFtime feed of the public board (scoreboard.CTFtime);
// see the package doc for why defence-only teams are not in it.
func (s *Server) ctftime(c echo.Context) error {
	return c.JSON(http.StatusOK, scoreboard.CTFtime(s.game.PublicView().Standings))
}

// meBody says who the caller is; a team also gets its own line, which is
// never frozen.
type meBody struct {
	Name     string               `json:"name"`
	Role     string               `json:"role"`
	Team     *int                 `json:"team,omitempty"`
	Standing *scoreboard.Standing `json:"standing,omitempty"`
}

func (s *Server) whoami(p tokens.Principal) meBody {
	if p.Kind != tokens.TeamToken {
		return meBody{Name: "organizer", Role: "organizer"}
	}
	b := meBody{Name: s.game.Config().Teams[p.Team].Name, Role: string(p.Role), Team: &p.Team}
	if st, err := s.game.Standing(p.Team); err == nil {
		b.Standing = &st
	}
	return b
}

func (s *Server) me(c echo.Context) error {
	return c.JSON(http.StatusOK, s.whoami(callerOf(c).p))
}

// targetsBody tells an attack team what it may attack and how to get
// there; Gateway is null until the range provides it.
type targetsBody struct {
	Team    string                    `json:"team"`
	Gateway any                       `json:"gateway"`
	Targets []scoreboard.AttackTarget `json:"targets"`
}

func (s *Server) targets(c echo.Context) error {
	team := callerOf(c).p.Team
	b := targetsBody{Team: s.game.Config().Teams[team].Name, Targets: s.game.Targets(team)}
	if gw, ok := s.rng.(Gateways); ok {
		ctx, cancel := context.WithTimeout(c.Request().Context(), rangeTimeout)
		defer cancel()
		info, err := gw.Gateway(ctx, team)
		if err != nil {
			// The targets are worth having without the gateway: answer
			// with what there is and leave the gateway out.
			s.logger.Warn("gateway info unavailable", "team", b.Team, "err", err)
		} else {
			b.Gateway = info
		}
	}
	return c.JSON(http.StatusOK, b)
}

// submitFlags hands the request to the submission handler, which speaks
// the farms' protocol (PROTOCOLS.md §2) and reads X-Team-Token itself.
func (s *Server) submitFlags(c echo.Context) error {
	if s.flags == nil {
		return errorf(http.StatusNotImplemented, "flag submission is not available on this server")
	}
	r := c.Request()
	r.Header.Set("X-Team-Token", callerOf(c).token)
	s.flags.ServeHTTP(c.Response(), r)
	return nil
}

func (s *Server) reportDetection(c echo.Context) error {
	if s.det == nil {
		return errorf(http.StatusNotImplemented, "detection reports are not available on this server yet")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return bodyError(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		if err == nil {
			return errorf(http.StatusBadRequest, "invalid JSON body: want an object")
		}
		return bodyError(err)
	}
	res, err := s.det.Report(c.Request().Context(), callerOf(c).p.Team, json.RawMessage(body))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

func (s *Server) listDetections(c echo.Context) error {
	if s.det == nil {
		return errorf(http.StatusNotImplemented, "detection reports are not available on this server yet")
	}
	res, err := s.det.List(c.Request().Context(), callerOf(c).p.Team)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) livePublic(c echo.Context) error {
	if s.live == nil {
		return errorf(http.StatusNotImplemented, "the live stream is not available on this server")
	}
	s.live.ServePublic(c.Response(), c.Request())
	return nil
}

func (s *Server) liveTeam(c echo.Context) error {
	if s.live == nil {
		return errorf(http.StatusNotImplemented, "the live stream is not available on this server")
	}
	s.live.ServeTeam(c.Response(), c.Request(), callerOf(c).p.Team)
	return nil
}

func (s *Server) liveAdmin(c echo.Context) error {
	if s.live == nil {
		return errorf(http.StatusNotImplemented, "the live stream is not available on this server")
	}
	s.live.ServeAdmin(c.Response(), c.Request())
	return nil
}

type phaseRequest struct {
	Action string `json:"action"`
}

type phaseBody struct {
	Phase  string `json:"phase"`
	Frozen bool   `json:"frozen"`
	Seq    uint64 `json:"seq"`
}

// phase moves the game: 400 for an unknown action, 409 for one the
// current phase does not allow.
func (s *Server) phase(c echo.Context) error {
	var req phaseRequest
	if err := decodeJSON(c.Request(), &req); err != nil {
		return err
	}
	if req.Action == "" {
		return errorf(http.StatusBadRequest, "action is required: start, pause, resume, freeze or end")
	}
	if err := s.game.Act(c.Request().Context(), req.Action); err != nil {
		return err
	}
	p, frozen := s.game.Phase()
	return c.JSON(http.StatusOK, phaseBody{Phase: p.String(), Frozen: frozen, Seq: s.game.LastSeq()})
}

// adminTeams lists the teams and tokens as JSON, or with ?format=csv as
// the sheet handed out to the teams.
func (s *Server) adminTeams(c echo.Context) error {
	switch f := c.QueryParam("format"); f {
	case "", "json":
		return c.JSON(http.StatusOK, s.auth.File())
	case "csv":
		return s.adminTeamsCSV(c)
	default:
		return errorf(http.StatusBadRequest, "format must be json or csv, got %q", f)
	}
}

// adminFlags lists a tick's flags; no tick (or 0) means the current one.
func (s *Server) adminFlags(c echo.Context) error {
	var tick int64
	if q := c.QueryParam("tick"); q != "" {
		n, err := strconv.ParseInt(q, 10, 32)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "tick must be a tick number (0 or none for the current tick), got %q", q)
		}
		tick = n
	}
	flags, err := s.game.IssuedFlags(int32(tick))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, flags)
}

// rangeTimeout bounds a call into the range, which may ask Docker.
const rangeTimeout = 10 * time.Second

type noRange struct {
	Driver string `json:"driver"`
}

func (s *Server) adminRange(c echo.Context) error {
	if s.rng == nil {
		return c.JSON(http.StatusOK, noRange{Driver: "none"})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), rangeTimeout)
	defer cancel()
	h, err := s.rng.Health(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// static serves the embedded page; a missing file is the API's JSON 404.
func (s *Server) static(c echo.Context) error {
	name := c.Param("*")
	if name == "" {
		name = "index.html"
	}
	if !fs.ValidPath(name) {
		return echo.ErrNotFound
	}
	st, err := fs.Stat(static.FS, name)
	if errors.Is(err, fs.ErrNotExist) || err == nil && st.IsDir() {
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	// The files change with the binary: revalidate, never serve stale.
	c.Response().Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(c.Response(), c.Request(), static.FS, name)
	return nil
}
