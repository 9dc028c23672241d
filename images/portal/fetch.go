package portal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cyrange/cyrange/internal/firewall"
)

// The URL fetcher behind the link preview (/tien-ich/xem-truoc) and the
// news editor's import from URL. As the vendor shipped it, it fetches any
// http(s) address; the remedy (Settings.ImportRestricted) lets it dial
// public addresses only, never loopback, private, link-local or the
// replica's own networks, and, when the allow-list is set, only the hosts
// on it.

const (
	maxFetchBytes = 256 << 10
	maxURLLen     = 2048
	fetchTimeout  = 5 * time.Second
)

var (
	errBadURL      = errors.New("address must be an http:// or https:// URL")
	errFetchDenied = errors.New("address not allowed")
	errBusy        = errors.New("too many fetches at once")
)

// parseImportURL reads an address to fetch: http or https, a host, at
// most maxURLLen bytes. User information is kept: the HTTP client sends
// it as Basic credentials, as the vendor's importer does for intranet
// pages behind a login (and as an SSRF into a console needs).
func parseImportURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxURLLen {
		return nil, errBadURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, errBadURL
	}
	if p := u.Port(); p != "" {
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, errBadURL
			}
		}
	}
	return u, nil
}

// forbidden reports whether the restricted fetcher refuses to dial a.
func (s *Server) forbidden(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsMulticast() || a.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("198.18.0.0/15")} {
		if p.Contains(a) {
			return true
		}
	}
	return firewall.Contains(s.cfg.AdminAllow, a)
}

// fetch gets u and returns its content type and at most maxFetchBytes of
// its body.
func (s *Server) fetch(ctx context.Context, u *url.URL) (string, []byte, error) {
	select {
	case s.fetches <- struct{}{}:
		defer func() { <-s.fetches }()
	default:
		return "", nil, errBusy
	}
	st := s.sec.get()
	if st.ImportRestricted && len(st.ImportAllow) > 0 && !slices.Contains(st.ImportAllow, strings.ToLower(u.Hostname())) {
		return "", nil, errFetchDenied
	}
	restricted := st.ImportRestricted
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if !restricted {
			return s.cfg.FetchDialer.DialContext(ctx, network, addr)
		}
		// Resolve, check every address, then dial the checked one, so
		// that a name resolving elsewhere on the second lookup cannot
		// slip past.
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
		for _, ip := range ips {
			if s.forbidden(ip) {
				return nil, errFetchDenied
			}
		}
		if len(ips) == 0 {
			return nil, errFetchDenied
		}
		d := &net.Dialer{Timeout: fetchTimeout, Control: func(_, address string, _ syscall.RawConn) error {
			if ap, err := netip.ParseAddrPort(address); err != nil || s.forbidden(ap.Addr()) {
				return errFetchDenied
			}
			return nil
		}}
		return d.DialContext(ctx, network, net.JoinHostPort(ips[0].String(), port))
	}
	hc := &http.Client{
		Timeout:   fetchTimeout,
		Transport: &http.Transport{DialContext: dial, Proxy: nil, MaxResponseHeaderBytes: 16 << 10, DisableKeepAlives: true},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return errBadURL
			}
			return nil
		},
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", nil, errBadURL
	}
	req.Header.Set("User-Agent", "VNPortal-Importer/3.2")
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, errFetchDenied) {
			return "", nil, errFetchDenied
		}
		return "", nil, fmt.Errorf("fetch failed")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes))
	if err != nil && len(body) == 0 {
		return "", nil, fmt.Errorf("fetch failed")
	}
	return resp.Header.Get("Content-Type"), body, nil
}
