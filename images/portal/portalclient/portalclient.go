// Package portalclient speaks HTTP to the portal replica: what a
// citizen's browser, an officer, the checker, an attacker's script or a
// defender's automation does. Every request goes through a caller's
// dialer, so that attack teams can send it through their SOCKS5 gateway.
//
// It knows the target only by its URLs and JSON, and must never import
// the server package, the checker or the exploits.
package portalclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/portal/contract"
)

// Dialer opens connections; *net.Dialer and SOCKS5 dialers fit.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Errors the server's answers map to.
var (
	ErrUnauthorized = errors.New("portalclient: wrong user name or password")
	ErrLocked       = errors.New("portalclient: account locked out")
	ErrNotFound     = errors.New("portalclient: not found")
)

// StatusError is an unexpected HTTP status.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("portalclient: HTTP %d: %.200s", e.Code, strings.TrimSpace(e.Body))
}

// maxBody bounds what a client reads of one response.
const maxBody = 16 << 20

func newHTTPClient(d Dialer) *http.Client {
	if d == nil {
		d = &net.Dialer{Timeout: 10 * time.Second}
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Client is one browser session on the public portal and, once logged
// in, the back office.
type Client struct {
	base string
	hc   *http.Client
}

// New makes a client for the portal at baseURL ("http://host:port").
func New(baseURL string, d Dialer) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: newHTTPClient(d)}
}

// Close drops the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// SetCookie sets a cookie for the portal, as a forged session is set.
func (c *Client) SetCookie(name, value string) {
	u, _ := url.Parse(c.base + "/")
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// Do sends a request and returns the status and body, any status.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, contentType string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("portalclient: %w", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("portalclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, data, err
}

// Get fetches path and returns its body when the status is 200.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	code, data, err := c.Do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	return data, statusErr(code, data)
}

func statusErr(code int, data []byte) error {
	switch code {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrLocked
	case http.StatusNotFound:
		return ErrNotFound
	}
	return &StatusError{Code: code, Body: string(data)}
}

func (c *Client) jsonCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ct := ""
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("portalclient: %w", err)
		}
		body, ct = bytes.NewReader(data), "application/json"
	}
	code, data, err := c.Do(ctx, method, path, body, ct)
	if err != nil {
		return err
	}
	if err := statusErr(code, data); err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("portalclient: %s: %w", path, err)
		}
	}
	return nil
}

// Dossier is a submission of the online public services.
type Dossier struct {
	Procedure int64
	Applicant string
	CitizenID string
	Phone     string
	Address   string
	Notes     string
	Files     map[string][]byte // file name → content
}

// Submit sends a dossier and returns its receipt code.
func (c *Client) Submit(ctx context.Context, d Dossier) (string, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range map[string]string{"procedure": strconv.FormatInt(d.Procedure, 10), "applicant": d.Applicant,
		"citizen_id": d.CitizenID, "phone": d.Phone, "address": d.Address, "notes": d.Notes} {
		_ = mw.WriteField(k, v)
	}
	for name, data := range d.Files {
		w, _ := mw.CreateFormFile("files", name)
		_, _ = w.Write(data)
	}
	_ = mw.Close()
	code, data, err := c.Do(ctx, http.MethodPost, "/dich-vu-cong/nop-ho-so?format=json", &b, mw.FormDataContentType())
	if err != nil {
		return "", err
	}
	if err := statusErr(code, data); err != nil {
		return "", err
	}
	var out struct{ Code string }
	if err := json.Unmarshal(data, &out); err != nil || out.Code == "" {
		return "", fmt.Errorf("portalclient: no receipt code in %.100q", data)
	}
	return out.Code, nil
}

// DossierStatus is a dossier as the public lookup shows it.
type DossierStatus struct {
	Code        string `json:"code"`
	Procedure   string `json:"procedure"`
	Site        string `json:"site"`
	Applicant   string
	CitizenID   string
	Phone       string
	Address     string
	Notes       string
	Status      string
	StatusLabel string `json:"statusLabel"`
	Submitted   string
	Result      string
}

// Lookup looks a dossier up by its receipt code and citizen ID.
func (c *Client) Lookup(ctx context.Context, code, citizenID string) (DossierStatus, error) {
	var out DossierStatus
	err := c.jsonCall(ctx, http.MethodGet, "/dich-vu-cong/tra-cuu?"+url.Values{"ma": {code}, "cccd": {citizenID}, "format": {"json"}}.Encode(), nil, &out)
	return out, err
}

// Contact sends a message through a site's contact form and returns its
// id.
func (c *Client) Contact(ctx context.Context, site, name, email, subject, body string) (int64, error) {
	form := url.Values{"site": {site}, "name": {name}, "email": {email}, "subject": {subject}, "body": {body}}
	code, data, err := c.Do(ctx, http.MethodPost, "/lien-he?format=json", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	if err != nil {
		return 0, err
	}
	if err := statusErr(code, data); err != nil {
		return 0, err
	}
	var out struct{ ID int64 }
	if err := json.Unmarshal(data, &out); err != nil {
		return 0, fmt.Errorf("portalclient: contact: %w", err)
	}
	return out.ID, nil
}

// Login logs an officer in to the back office.
func (c *Client) Login(ctx context.Context, user, password string) error {
	err := c.jsonCall(ctx, http.MethodPost, "/mot-cua/api/login", map[string]string{"username": user, "password": password}, nil)
	if err != nil && errors.Is(err, ErrLocked) {
		return ErrLocked
	}
	return err
}

// MasterLogin logs the checker in as officer user of replica with the
// master password derived from secret.
func (c *Client) MasterLogin(ctx context.Context, secret, replica, user string) error {
	return c.Login(ctx, user, contract.MasterPassword(secret, replica, user))
}

// Draft is an internal draft document of an agency.
type Draft struct {
	ID      int64 `json:"id"`
	Author  string
	Title   string
	Body    string
	Created string
}

// Drafts lists the logged-in officer's agency's drafts, newest first.
func (c *Client) Drafts(ctx context.Context) ([]Draft, error) {
	var out []Draft
	err := c.jsonCall(ctx, http.MethodGet, "/mot-cua/api/drafts", nil, &out)
	return out, err
}

// SaveDraft writes a draft and returns its id.
func (c *Client) SaveDraft(ctx context.Context, title, body string) (int64, error) {
	var out struct{ ID int64 }
	err := c.jsonCall(ctx, http.MethodPost, "/mot-cua/api/drafts", map[string]string{"title": title, "body": body}, &out)
	return out.ID, err
}

// Message is a message of a contact inbox.
type Message struct {
	ID      int64 `json:"id"`
	Sender  string
	Email   string
	Phone   string
	Subject string
	Body    string
	Created string
}

// Inbox lists the logged-in officer's agency's contact messages.
func (c *Client) Inbox(ctx context.Context) ([]Message, error) {
	var out []Message
	err := c.jsonCall(ctx, http.MethodGet, "/mot-cua/api/inbox", nil, &out)
	return out, err
}

// Dossiers lists the newest dossiers of the logged-in officer's agency.
func (c *Client) Dossiers(ctx context.Context) ([]DossierStatus, error) {
	var out []DossierStatus
	err := c.jsonCall(ctx, http.MethodGet, "/mot-cua/api/dossiers", nil, &out)
	return out, err
}

// Procedure is an entry of a site's procedures catalogue.
type Procedure struct {
	ID    int64
	Code  string
	Name  string
	Field string
}

// Procedures lists a site's procedures.
func (c *Client) Procedures(ctx context.Context, site string) ([]Procedure, error) {
	var out []Procedure
	err := c.jsonCall(ctx, http.MethodGet, "/dich-vu-cong/thu-tuc?"+url.Values{"site": {site}, "format": {"json"}}.Encode(), nil, &out)
	return out, err
}
