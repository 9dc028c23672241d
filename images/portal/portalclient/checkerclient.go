package portalclient

import "net/http"

// SetUserAgent makes every later request of the client carry ua and a
// Vietnamese browser's Accept-Language, so that the checker's sessions
// look like the public's browsers rather than one fixed client.
func (c *Client) SetUserAgent(ua string) {
	next := c.hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.hc.Transport = &browserHeaders{next: next, ua: ua}
}

// browserHeaders sets a browser's headers on each request it passes on.
type browserHeaders struct {
	next http.RoundTripper
	ua   string
}

func (b *browserHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", b.ua)
	if r.Header.Get("Accept-Language") == "" {
		r.Header.Set("Accept-Language", "vi-VN,vi;q=0.9,en-US;q=0.8,en;q=0.7")
	}
	return b.next.RoundTrip(r)
}

// CloseIdleConnections lets Client.Close reach the transport underneath.
func (b *browserHeaders) CloseIdleConnections() {
	if ci, ok := b.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
