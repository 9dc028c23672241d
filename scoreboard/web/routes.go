package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// route is one line of the route table.
type route struct {
	method string
	path   string
	// roles admitted; anyone else gets 401 (anonymous) or 403.
	roles   role
	handler echo.HandlerFunc
	// websocket routes are upgraded by Live; their Origin is checked.
	websocket bool
	// bodyLimit overrides defaultBodyLimit.
	bodyLimit int64
}

// defaultBodyLimit fits every JSON request the API takes.
const defaultBodyLimit = 64 << 10

// flagsBodyLimit fits a farm's batch of 1000 flags with room for
// formatting.
const flagsBodyLimit = 256 << 10

// routes is the one table of every endpoint and who may call it. The
// role × endpoint test walks it, so a route cannot be added unchecked.
func (s *Server) routes() []route {
	return []route{
		{method: http.MethodGet, path: "/healthz", roles: everyone, handler: s.healthz},
		// Counts of submissions and requests move with captures, also
		// after a freeze: the organizer's (or a listen address of its
		// own, ServeMetrics).
		{method: http.MethodGet, path: "/metrics", roles: organizer, handler: echo.WrapHandler(s.metrics.Handler())},

		{method: http.MethodGet, path: "/api/v1/scoreboard", roles: everyone, handler: s.scoreboard},
		{method: http.MethodGet, path: "/api/v1/export/ctftime", roles: everyone, handler: s.ctftime},
		{method: http.MethodGet, path: "/api/v1/scoring", roles: everyone, handler: s.scoring},
		{method: http.MethodGet, path: "/api/v1/history", roles: everyone, handler: s.history},
		{method: http.MethodGet, path: "/api/v1/live", roles: everyone, handler: s.livePublic, websocket: true},
		{method: http.MethodPost, path: "/api/v1/login", roles: everyone, handler: s.login, bodyLimit: 4 << 10},
		{method: http.MethodPost, path: "/api/v1/logout", roles: everyone, handler: s.logout},

		{method: http.MethodGet, path: "/api/v1/me", roles: teams | organizer, handler: s.me},
		{method: http.MethodGet, path: "/api/v1/team/live", roles: teams, handler: s.liveTeam, websocket: true},
		{method: http.MethodGet, path: "/api/v1/targets", roles: attackers, handler: s.targets},
		{method: http.MethodPut, path: "/flags", roles: attackers, handler: s.submitFlags, bodyLimit: flagsBodyLimit},
		{method: http.MethodPost, path: "/api/v1/flags", roles: attackers, handler: s.submitFlags, bodyLimit: flagsBodyLimit},
		{method: http.MethodPost, path: "/api/v1/detections", roles: defenders, handler: s.reportDetection},
		{method: http.MethodGet, path: "/api/v1/detections", roles: defenders, handler: s.listDetections},
		{method: http.MethodGet, path: "/api/v1/team/replicas", roles: defenders, handler: s.teamReplicas},
		// A defending team's own replicas' admin consoles, through its
		// defence gateway (console.go); the team is the caller's.
		{method: http.MethodGet, path: consolePrefix + ":service", roles: defenders, handler: s.adminConsoleRoot},
		{method: http.MethodGet, path: consolePrefix + ":service/*", roles: defenders, handler: s.adminConsole, bodyLimit: consoleBodyLimit},
		{method: http.MethodHead, path: consolePrefix + ":service/*", roles: defenders, handler: s.adminConsole, bodyLimit: consoleBodyLimit},
		{method: http.MethodPost, path: consolePrefix + ":service/*", roles: defenders, handler: s.adminConsole, bodyLimit: consoleBodyLimit},

		{method: http.MethodGet, path: "/api/v1/admin/live", roles: organizer, handler: s.liveAdmin, websocket: true},
		{method: http.MethodGet, path: "/api/v1/admin/scoreboard", roles: organizer, handler: s.adminScoreboard},
		{method: http.MethodPost, path: "/api/v1/admin/phase", roles: organizer, handler: s.phase, bodyLimit: 4 << 10},
		{method: http.MethodGet, path: "/api/v1/admin/teams", roles: organizer, handler: s.adminTeams},
		{method: http.MethodGet, path: "/api/v1/admin/flags", roles: organizer, handler: s.adminFlags},
		{method: http.MethodGet, path: "/api/v1/admin/range", roles: organizer, handler: s.adminRange},
		{method: http.MethodGet, path: "/api/v1/admin/suspects", roles: organizer, handler: s.adminSuspects},
		{method: http.MethodGet, path: "/api/v1/admin/export", roles: organizer, handler: s.adminExport},
		{method: http.MethodGet, path: "/api/v1/admin/events", roles: organizer, handler: s.adminEvents},

		{method: http.MethodGet, path: "/*", roles: everyone, handler: s.static},
	}
}
