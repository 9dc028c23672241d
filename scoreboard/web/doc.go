// Package web is the exercise's HTTP front: the JSON API under /api/v1, the
// websocket endpoints, the farm-compatible flag endpoints, the Prometheus
// metrics and the embedded public scoreboard page.
//
// Every route is declared once, in the table returned by (*Server).routes,
// together with the roles it admits; one middleware resolves the caller
// (Authorization: Bearer, X-Team-Token, or the session cookie) and enforces
// that table, and a test walks the same table for every role. Decisions the
// table encodes:
//
//   - Public routes ignore bad credentials: a stale session cookie or a
//     mistyped token must never break the audience's scoreboard, so the
//     caller is simply anonymous there. Routes that need a role answer 401
//     for missing or bad credentials and 403 for a known caller of the
//     wrong role.
//   - /metrics is the organizer's: its series carry no team, token or
//     flag, but totals per verdict code and request counts per route move
//     with captures, which the public must not learn after a freeze.
//     ServeMetrics serves it alone, unauthenticated, on a listen address
//     of its own for a Prometheus on a private network.
//   - After a freeze nothing public moves with what the freeze hides:
//     the boards and the history stop at the freeze, /healthz and the
//     board's seq count only what the public is shown
//     (scoreboard.FrozenBoard).
//   - Every source address holds at most Limits.MaxConnsPerSource
//     connections, websockets included; the HTTP timeouts end slow
//     clients, and upgraded websockets keep the live hub's deadlines.
//   - Each token keeps at most maxSessionsPerPrincipal browser sessions,
//     a new login ending its own oldest; logins are rate-limited per
//     source and per token (limits.go).
//   - /api/v1/export/ctftime ranks the attack-capable teams (roles attack
//     and both) by their public total. Defence-only teams are left out: a
//     CTFtime feed is one ranking on one scale, and a defender's total
//     (availability, flags kept, detections) is not comparable with attack
//     points; their scorecard is on the scoreboard. The feed is built from
//     the public view, so after a freeze it shows the frozen board.
//   - PUT /flags and POST /api/v1/flags are forwarded unchanged to the flag
//     submission handler, except that X-Team-Token is set to the caller's
//     token, so a browser session or a Bearer header works as well.
//   - GET /api/v1/history folds the event log (Options.Events) with the
//     game's own fold, so the charts and status strips a page draws for the
//     past are what the board showed then. While the board is frozen it
//     stops at the freeze, like every other public surface.
//   - GET /api/v1/team/replicas gives a defending team its replicas'
//     statuses, never frozen, but not the checker's messages: those may
//     quote what the checker planted, and stay in the organizer's log.
//     The answer is a list, one line per replica: {"service", "title",
//     "address", "status", "history", "console"} and, when the range
//     implements AdminConsoles, "proxy" (the path of the proxied admin
//     console), "viaGateway" (the console's URL as the defence gateway
//     resolves it), "operator" ({"user", "password"}, the console's login)
//     and "gateway", the team's defence gateway as /api/v1/targets shows
//     an attack team's, the same object on every line.
//   - GET, HEAD and POST /console/replicas/<service>/... (defending
//     teams only) proxy the admin console of the caller's own replica of
//     the service through its defence gateway (console.go); the team is
//     the caller's, never the path's. The replica may be the attackers'
//     by then: the console gets a short list of headers and never the
//     caller's credentials here, and its answer keeps a short list of
//     headers, has its links, redirects and cookies moved under the
//     prefix, and is served with a policy that forbids scripts and posts
//     its forms back to the console only. Posts pass the origin rule
//     below; bodies are bounded (1 MiB forwarded, 4 MiB of HTML
//     rewritten).
//   - GET /api/v1/admin/suspects is the game's report on suspected flag
//     sharing (captures no gateway connection accounts for), evidence
//     included; the organizer judges, the server only lists.
//   - GET /api/v1/admin/events streams the decoded event log as JSON lines
//     as it reads it; a log that cannot be read part way cuts the body
//     short (there is no status left to change) and is logged.
//   - POST /api/v1/detections hands the body, once it is known to be a
//     JSON object within the size limit, to Options.Detections, which
//     parses and judges it (scoreboard.Detections): 201 with {"id",
//     "verdict": "pending"} once the report is durable, 400 naming the
//     field at fault, 409 before the start or after the end, 429 past the
//     reports a team may file in a tick.
//   - GET /api/v1/admin/suspects is the organizer's report on suspected
//     flag sharing (scoreboard.Suspects); it names teams and is never
//     public.
//   - Unsafe methods and websocket upgrades that carry an Origin header
//     are refused (403) unless it is this server's own origin or one of
//     Options.AllowedOrigins; the session cookie is SameSite=Strict besides.
//
// This package is the only one that imports echo. It must never import
// bbolt, the Docker SDK, or the store; it reaches the game, the tokens, the
// live hub, the flag submission and the range through the small interfaces
// declared in server.go. Of the range it imports only the domain package,
// for the types its interfaces return, never a driver.
package web
