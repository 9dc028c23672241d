package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/net/html"

	cyberrange "github.com/cyrange/cyrange/range"
)

// A defending team's browser reaches the admin console of each of its
// replicas under consolePrefix + service + "/", through this server and
// the team's defence gateway. By the time the defence looks, the replica
// may be the attackers', so the proxy treats both directions as hostile:
//
//   - the forwarded request keeps a short list of headers: the
//     defence's credentials here (the session cookie, Authorization,
//     X-Team-Token) and whatever a proxy in front added never reach it;
//   - the answer keeps a short list of headers, its links, redirects and
//     cookies are moved under the prefix, and it is served with a policy
//     that forbids scripts. The page shares this server's origin, where a
//     script would act with the defence's session, and its forms may only
//     post back to the console, never to the API.

const consolePrefix = "/console/replicas/"

const (
	// consoleBodyLimit bounds a request forwarded to a console: its
	// forms are small.
	consoleBodyLimit = 1 << 20
	// consolePageLimit bounds an HTML page the proxy rewrites, which it
	// must hold whole.
	consolePageLimit = 4 << 20
	// consoleTimeout bounds one proxied exchange. It stays under the
	// server's WriteTimeout so that an error still reaches the browser.
	consoleTimeout = 30 * time.Second
)

// consolePath is where the defence opens service's console.
func consolePath(service string) string { return consolePrefix + url.PathEscape(service) + "/" }

// consoleRequestHeaders are the only headers forwarded to a console,
// besides the console's own cookies and an Origin rewritten to its own.
// Accept-Encoding is not among them: the transport then asks for gzip
// itself and hands the rewriter the page unpacked.
var consoleRequestHeaders = []string{"Accept", "Accept-Language", "Cache-Control", "Content-Type",
	"If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since", "Pragma", "Range", "User-Agent"}

// consoleResponseHeaders are the only headers of a console's answer that
// reach the browser, besides Location and Set-Cookie rewritten. Anything
// else (a policy of its own, HSTS, Clear-Site-Data, CORS, an
// authentication challenge) would apply to this server's origin.
var consoleResponseHeaders = []string{"Accept-Ranges", "Content-Disposition", "Content-Encoding", "Content-Language",
	"Content-Length", "Content-Range", "Content-Type", "Etag", "Last-Modified", "Retry-After"}

// adminConsoleRoot sends a browser that left out the trailing slash to
// the console's root, where the console's relative links resolve under
// the prefix.
func (s *Server) adminConsoleRoot(c echo.Context) error {
	u := c.Request().URL
	to := u.EscapedPath() + "/"
	if u.RawQuery != "" {
		to += "?" + u.RawQuery
	}
	return c.Redirect(http.StatusFound, to)
}

// adminConsole proxies one request to the admin console of the caller's
// own replica of the service its path names. The team is the caller's,
// never anything the request says, so a team reaches its own replicas
// only; the range's gateway enforces the same on its side.
func (s *Server) adminConsole(c echo.Context) error {
	acs, ok := s.rng.(AdminConsoles)
	if !ok {
		return errorf(http.StatusNotImplemented, "the replicas' admin consoles are not available on this server")
	}
	r := c.Request()
	name, rest, ok := splitConsolePath(r.URL.EscapedPath())
	if !ok {
		return echo.ErrNotFound
	}
	team := callerOf(c).p.Team
	svc, err := s.ownReplica(team, name)
	if err != nil {
		return err
	}
	teamName := s.game.Config().Teams[team].Name
	ctx, cancel := context.WithTimeout(r.Context(), rangeTimeout)
	ac, err := acs.AdminConsole(ctx, team, svc)
	cancel()
	switch {
	case errors.Is(err, cyberrange.ErrNotFound):
		return errorf(http.StatusNotFound, "your replica of %s has no admin console", name)
	case err != nil:
		s.logger.Warn("admin console unavailable", "team", teamName, "service", name, "err", err)
		return errorf(http.StatusBadGateway, "the range could not say how to reach your admin console of %s", name)
	}
	p, err := newConsoleProxy(name, ac.URL)
	if err != nil || ac.Dial == nil {
		s.logger.Error("admin console unusable", "team", teamName, "service", name, "url", ac.URL, "err", err)
		return errorf(http.StatusBadGateway, "the range gave no usable way to your admin console of %s", name)
	}

	// The body is read whole before the console is asked: a body over the
	// limit is a clean 413, and a slow client does not hold the console.
	var body []byte
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Body != nil {
		if body, err = io.ReadAll(r.Body); err != nil {
			return bodyError(err)
		}
	}
	ctx, cancel = context.WithTimeout(r.Context(), consoleTimeout)
	defer cancel()
	out := r.Clone(ctx)
	// No protocol upgrade: a console's websocket would be a connection
	// this server cannot inspect.
	out.Header.Del("Connection")
	out.Header.Del("Upgrade")
	switch {
	case len(body) > 0:
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	case body != nil:
		out.Body, out.ContentLength = http.NoBody, 0
	default:
		out.Body, out.ContentLength = nil, 0
	}

	// Per request, like everything of the team's: nothing is kept for the
	// next caller, who may be another team.
	tr := &http.Transport{DialContext: ac.Dial, DisableKeepAlives: true, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: consoleTimeout, MaxResponseHeaderBytes: 64 << 10}
	defer tr.CloseIdleConnections()
	rp := &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { p.rewriteRequest(pr, rest) },
		Transport:      tr,
		ModifyResponse: p.rewriteResponse,
		ErrorHandler:   s.consoleError(name, teamName),
		// What it logs itself is a body cut short, once the status is
		// gone: the browser or the console went away.
		ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	rp.ServeHTTP(&consoleWriter{ResponseWriter: c.Response(), policy: s.consolePolicy(r, p.prefix)}, out)
	return nil
}

// consoleWriter is what the reverse proxy writes to. It sets the proxied
// answer's security headers at the moment its status goes out, whatever
// happened to the header map before: after relaying a 1xx answer the
// proxy clears the map, and with it a policy set in advance. It relays no
// 1xx answer: an early hint's headers would apply to this origin.
type consoleWriter struct {
	http.ResponseWriter
	policy string
	wrote  bool
}

func (w *consoleWriter) WriteHeader(code int) {
	if code < http.StatusOK || w.wrote {
		return
	}
	w.wrote = true
	setSecureHeaders(w.Header(), w.policy)
	// Under no-referrer a browser sends a form's post with Origin: null,
	// which the origin rule refuses. The console never sees the Referer
	// (consoleRequestHeaders), and no other site gets one.
	w.Header().Set("Referrer-Policy", "same-origin")
	w.ResponseWriter.WriteHeader(code)
}

func (w *consoleWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets the proxy flush through to the connection.
func (w *consoleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// splitConsolePath cuts /console/replicas/<service>/<rest> into the
// service's name and the rest, still escaped.
func splitConsolePath(escaped string) (name, rest string, ok bool) {
	tail, ok := strings.CutPrefix(escaped, consolePrefix)
	if !ok {
		return "", "", false
	}
	seg, rest, ok := strings.Cut(tail, "/")
	if !ok {
		return "", "", false
	}
	name, err := url.PathUnescape(seg)
	if err != nil {
		return "", "", false
	}
	return name, rest, true
}

// ownReplica returns the index of the service named name, if team owns a
// replica of it.
func (s *Server) ownReplica(team int, name string) (int, error) {
	cfg := s.game.Config()
	for i, sv := range cfg.Services {
		if sv.Name != name {
			continue
		}
		for _, r := range cfg.Replicas {
			if r.Owner == team && r.Service == i {
				return i, nil
			}
		}
		return 0, errorf(http.StatusNotFound, "your team has no replica of %s", name)
	}
	return 0, errorf(http.StatusNotFound, "no service %q in this exercise", name)
}

// consolePolicy is the Content-Security-Policy of a proxied answer: no
// script at all, styles and images of the page itself, never framed, and
// forms that post back to this console only. The page is on this
// server's origin, where 'self' would let a form post to the API with
// the defence's session (a JSON body fits in a text/plain form), so the
// forms' sources name the console's prefix on each origin the server
// admits unsafe requests from.
func (s *Server) consolePolicy(r *http.Request, prefix string) string {
	form := "'self'"
	if srcs := s.consoleFormSources(r.Host, prefix); len(srcs) > 0 {
		form = strings.Join(srcs, " ")
	}
	return "default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"base-uri 'none'; form-action " + form + "; frame-ancestors 'none'"
}

var (
	cspHost   = regexp.MustCompile(`^[A-Za-z0-9.\-]+(:[0-9]+)?$|^\[[0-9A-Fa-f:.]+\](:[0-9]+)?$`)
	cspOrigin = regexp.MustCompile(`^https?://([A-Za-z0-9.\-]+(:[0-9]+)?|\[[0-9A-Fa-f:.]+\](:[0-9]+)?)$`)
	// cspPath escapes what would end a source expression.
	cspPath = strings.NewReplacer(";", "%3B", ",", "%2C", " ", "%20")
)

// consoleFormSources lists prefix on the request's host and on every
// allowed origin; none when any origin is allowed, or none is usable.
func (s *Server) consoleFormSources(host, prefix string) []string {
	prefix = cspPath.Replace(prefix)
	var srcs []string
	add := func(h string) {
		if cspHost.MatchString(h) {
			srcs = append(srcs, "http://"+h+prefix, "https://"+h+prefix)
		}
	}
	add(host)
	for _, og := range s.origins {
		switch {
		case og == "*":
			return nil
		case cspOrigin.MatchString(og):
			srcs = append(srcs, og+prefix)
		case !strings.Contains(og, "://"):
			add(og)
		}
	}
	return srcs
}

// consoleError answers for a console that could not be reached or whose
// answer could not be served. The cause is logged, not sent: it may name
// the range's insides.
func (s *Server) consoleError(service, team string) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		status := http.StatusBadGateway
		reason := fmt.Sprintf("the admin console of %s did not answer through your defence gateway: is the replica up?", service)
		switch {
		case errors.Is(err, errConsolePageTooLarge):
			reason = fmt.Sprintf("the admin console of %s sent a page larger than %d MiB, more than this server rewrites", service, consolePageLimit>>20)
		case errors.Is(err, errConsoleEncoding):
			reason = fmt.Sprintf("the admin console of %s sent a compressed page this server cannot rewrite", service)
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
			status = http.StatusGatewayTimeout
			reason = fmt.Sprintf("the admin console of %s did not answer within %s", service, consoleTimeout)
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			// The browser went away; nobody reads the answer.
			s.logger.Debug("admin console request abandoned", "team", team, "service", service)
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		s.logger.Warn("admin console proxy failed", "team", team, "service", service, "status", status, "err", err)
		w.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_ = json.NewEncoder(w).Encode(errorBody{Error: reason})
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var (
	errConsolePageTooLarge = errors.New("web: console page too large to rewrite")
	errConsoleEncoding     = errors.New("web: console page compressed")
)

// consoleProxy maps one console's URLs to the public prefix and back.
type consoleProxy struct {
	// prefix is the public path of the console's base, with a trailing
	// slash: /console/replicas/<service>/.
	prefix string
	// base is the console's URL, its path ending with a slash.
	base *url.URL
}

func newConsoleProxy(service, raw string) (*consoleProxy, error) {
	base, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("web: admin console URL: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" || base.User != nil {
		return nil, fmt.Errorf("web: admin console URL %q is not an http(s) URL of a host", raw)
	}
	if !strings.HasSuffix(base.Path, "/") {
		base.Path, base.RawPath = base.Path+"/", ""
	}
	base.RawQuery, base.ForceQuery, base.Fragment, base.RawFragment = "", false, "", ""
	return &consoleProxy{prefix: consolePath(service), base: base}, nil
}

// rewriteRequest points the outgoing request at the console, rest being
// the escaped path under the prefix, and keeps only what the console may
// learn of it.
func (p *consoleProxy) rewriteRequest(pr *httputil.ProxyRequest, rest string) {
	u := *p.base
	escaped := p.base.EscapedPath() + rest
	path, err := url.PathUnescape(escaped)
	if err != nil {
		path = escaped
	}
	u.Path, u.RawPath, u.RawQuery = path, escaped, pr.In.URL.RawQuery
	pr.Out.URL, pr.Out.Host = &u, ""

	in := pr.In.Header
	h := http.Header{}
	for _, k := range consoleRequestHeaders {
		if v, ok := in[k]; ok {
			h[k] = v
		}
	}
	if ck := consoleCookies(in.Values("Cookie")); ck != "" {
		h.Set("Cookie", ck)
	}
	// A console that checks Origin against itself sees its own.
	if in.Get("Origin") != "" {
		h.Set("Origin", p.base.Scheme+"://"+p.base.Host)
	}
	pr.Out.Header = h
}

// consoleCookies returns the Cookie header without this server's session
// cookie, the other pairs as the browser sent them: every other cookie on
// these paths is one the console set.
func consoleCookies(lines []string) string {
	var keep []string
	for _, l := range lines {
		for _, pair := range strings.Split(l, ";") {
			pair = strings.TrimSpace(pair)
			name, _, _ := strings.Cut(pair, "=")
			if pair == "" || strings.TrimSpace(name) == sessionCookie {
				continue
			}
			keep = append(keep, pair)
		}
	}
	return strings.Join(keep, "; ")
}

// rewriteResponse keeps the answer's harmless headers, moves its redirect,
// cookies and links under the prefix, and bounds the page it rewrites.
func (p *consoleProxy) rewriteResponse(resp *http.Response) error {
	in := resp.Header
	h := http.Header{}
	for _, k := range consoleResponseHeaders {
		if v, ok := in[k]; ok {
			h[k] = v
		}
	}
	if loc := in.Get("Location"); loc != "" {
		if local, ok := p.localURL(loc); ok {
			loc = local
		}
		h.Set("Location", loc)
	}
	for _, line := range in.Values("Set-Cookie") {
		if ck := p.cookie(line, resp.Request.URL.Path); ck != "" {
			h.Add("Set-Cookie", ck)
		}
	}
	ct := in.Get("Content-Type")
	if ct == "" {
		// Never let a browser guess a type the policy did not foresee.
		ct = "application/octet-stream"
		h.Set("Content-Type", ct)
	}
	resp.Header, resp.Trailer = h, nil
	mt, _, _ := mime.ParseMediaType(ct)
	if mt != "text/html" || resp.Request.Method == http.MethodHead ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		return nil
	}
	if enc := h.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return errConsoleEncoding
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, consolePageLimit+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("web: reading the console's page: %w", err)
	}
	if len(page) > consolePageLimit {
		return errConsolePageTooLarge
	}
	page = rewriteHTML(page, p.localURL)
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(page)), int64(len(page))
	h.Del("Content-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	return nil
}

// cookie rewrites one Set-Cookie of the console, set in answer to
// reqPath: its path moves under the prefix and it loses its domain, so
// that it comes back to this console only. A cookie named like this
// server's session is dropped: on the console's paths it would hide the
// defence's session.
func (p *consoleProxy) cookie(line, reqPath string) string {
	ck, err := http.ParseSetCookie(line)
	if err != nil || ck.Name == sessionCookie {
		return ""
	}
	path := ck.Path
	if !strings.HasPrefix(path, "/") {
		path = defaultCookiePath(reqPath)
	}
	ck.Path, ck.Domain = p.public(path), ""
	return ck.String()
}

// defaultCookiePath is a cookie's path when it names none (RFC 6265
// §5.1.4): the request path up to its last slash.
func defaultCookiePath(reqPath string) string {
	i := strings.LastIndexByte(reqPath, '/')
	if i <= 0 {
		return "/"
	}
	return reqPath[:i]
}

// public maps an absolute path of the console to its public path under
// the prefix. A path outside the console's base maps as if it were under
// it: the proxy reaches nothing else of the host anyway.
func (p *consoleProxy) public(path string) string {
	rest, ok := strings.CutPrefix(path, p.base.EscapedPath())
	if !ok {
		rest = strings.TrimPrefix(path, "/")
	}
	return p.prefix + rest
}

// localURL rewrites a URL the console wrote (a link, a redirect) that
// leads into the console, an absolute path or the console's own URL, to
// its public one; it reports false for one that leads elsewhere, left as
// it is.
func (p *consoleProxy) localURL(v string) (string, bool) {
	s := browserURL(v)
	if len(s) >= 1 && isSlash(s[0]) && (len(s) == 1 || !isSlash(s[1])) {
		return p.public("/" + s[1:]), true
	}
	if len(s) >= 2 && isSlash(s[0]) && isSlash(s[1]) {
		// Scheme-relative: another host, unless it is the console's.
		s = p.base.Scheme + "://" + s[2:]
	}
	u, err := url.Parse(strings.ReplaceAll(s, `\`, "/"))
	if err != nil || !strings.EqualFold(u.Scheme, p.base.Scheme) || !strings.EqualFold(u.Host, p.base.Host) || u.User != nil {
		return v, false
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		path += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		path += "#" + u.EscapedFragment()
	}
	return p.public(path), true
}

func isSlash(b byte) bool { return b == '/' || b == '\\' }

// browserURL is what a browser makes of a URL attribute before it
// resolves it: surrounding spaces and controls dropped, tabs and newlines
// removed wherever they are. "/\t/host" is scheme-relative to a browser,
// and must be to the rewriter too.
func browserURL(v string) string {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, v)
}

// linkAttrs are the attributes whose URL a browser follows, loads or
// posts to.
var linkAttrs = map[string]bool{"href": true, "src": true, "action": true, "formaction": true, "xlink:href": true}

// rewriteHTML passes every link attribute of page through local, which
// returns a new value and true, or false to leave it. It tokenizes the
// page as a browser does (a regular expression would miss what a browser
// finds): a tag with no link to change is copied byte for byte, one with
// a change is written anew from its parsed attributes, and everything
// between tags is copied as it is.
func rewriteHTML(page []byte, local func(string) (string, bool)) []byte {
	z := html.NewTokenizer(bytes.NewReader(page))
	var out bytes.Buffer
	out.Grow(len(page) + len(page)/16)
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			// The end of the page; an unfinished tag there goes as it
			// came, and a browser drops it.
			out.Write(z.Raw())
			return out.Bytes()
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			out.Write(z.Raw())
			continue
		}
		// Token lowercases names in the tokenizer's buffer, which Raw
		// shares.
		raw := bytes.Clone(z.Raw())
		tok := z.Token()
		changed := false
		for i, a := range tok.Attr {
			if !linkAttrs[a.Key] {
				continue
			}
			if v, ok := local(a.Val); ok && v != a.Val {
				tok.Attr[i].Val, changed = v, true
			}
		}
		if changed {
			out.WriteString(tok.String())
		} else {
			out.Write(raw)
		}
	}
}
