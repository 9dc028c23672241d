// Package webclient speaks HTTP to the mail replica's webmail and admin
// console: what a user's browser, the checker, an attacker's script or a
// defender's automation does. Every request goes through a caller's dialer,
// so that attack teams can send it through their SOCKS5 gateway.
//
// It knows the target only by its URLs and JSON, and must never import the
// target package, the checker or the exploits.
package webclient

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Dialer opens connections; *net.Dialer and SOCKS5 dialers fit.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Errors the server's answers map to.
var (
	ErrUnauthorized = errors.New("webclient: wrong user name or password")
	ErrLocked       = errors.New("webclient: account locked out")
	ErrNotFound     = errors.New("webclient: not found")
)

// StatusError is an unexpected HTTP status.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webclient: HTTP %d: %s", e.Code, strings.TrimSpace(e.Body))
}

// maxBody bounds what a client reads of one response.
const maxBody = 64 << 20

func newHTTPClient(d Dialer) *http.Client {
	if d == nil {
		d = &net.Dialer{Timeout: 10 * time.Second}
	}
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar: jar,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		},
		// A redirect is an answer here (a login form answering with one).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Client is one webmail user's browser session.
type Client struct {
	base      string
	hc        *http.Client
	UserAgent string
}

// New makes a client for the webmail at baseURL ("http://host:port").
func New(baseURL string, d Dialer) *Client {
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: newHTTPClient(d),
		UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"}
}

// Close drops the client's idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, nil, fmt.Errorf("webclient: %w", err)
	}
	req.Header.Set("User-Agent", c.UserAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return send(c.hc, req)
}

func send(hc *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("webclient: %s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("webclient: %s %s: %w", req.Method, req.URL.Path, err)
	}
	return resp, data, nil
}

// statusErr maps an answer's status to the package's errors.
func statusErr(resp *http.Response, body []byte) error {
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrLocked
	case http.StatusNotFound:
		return ErrNotFound
	}
	return &StatusError{Code: resp.StatusCode, Body: string(body[:min(len(body), 200)])}
}

func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, body, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return err
	}
	if err := statusErr(resp, body); err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("webclient: GET %s: %w", path, err)
	}
	return nil
}

func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	data, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("webclient: %w", err)
	}
	resp, body, err := c.do(ctx, http.MethodPost, path, bytes.NewReader(data), "application/json")
	if err != nil {
		return err
	}
	if err := statusErr(resp, body); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("webclient: POST %s: %w", path, err)
	}
	return nil
}

// Login opens a session through the webmail's JSON API.
func (c *Client) Login(ctx context.Context, user, password string) error {
	return c.postJSON(ctx, "/webmail/api/login", map[string]string{"user": user, "password": password}, nil)
}

// LoginForm logs in as a browser does, through the HTML form.
func (c *Client) LoginForm(ctx context.Context, user, password string) error {
	form := url.Values{"username": {user}, "password": {password}}
	resp, body, err := c.do(ctx, http.MethodPost, "/webmail/login", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusSeeOther {
		return nil
	}
	return statusErr(resp, body)
}

// Logout ends the session.
func (c *Client) Logout(ctx context.Context) error {
	_, _, err := c.do(ctx, http.MethodGet, "/webmail/logout", nil, "")
	return err
}

// Page fetches any page of the site and returns its body, for browsing as
// a person does.
func (c *Client) Page(ctx context.Context, path string) (string, error) {
	resp, body, err := c.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return "", err
	}
	if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
		return resp.Header.Get("Location"), nil
	}
	return string(body), statusErr(resp, body)
}

// Folder is a mailbox folder with its counts.
type Folder struct {
	Name   string `json:"name"`
	Total  int    `json:"total"`
	Unseen int    `json:"unseen"`
}

// Folders lists the user's folders.
func (c *Client) Folders(ctx context.Context) ([]Folder, error) {
	var out []Folder
	return out, c.getJSON(ctx, "/webmail/api/folders", &out)
}

// Summary is a message as a folder lists it.
type Summary struct {
	ID             int64     `json:"id"`
	From           string    `json:"from"`
	To             string    `json:"to"`
	Subject        string    `json:"subject"`
	Date           time.Time `json:"date"`
	Seen           bool      `json:"seen"`
	HasAttachments bool      `json:"hasAttachments"`
	MessageID      string    `json:"messageId"`
}

// Listing is one page of a folder, newest first.
type Listing struct {
	Folder   string    `json:"folder"`
	Page     int       `json:"page"`
	Pages    int       `json:"pages"`
	Total    int       `json:"total"`
	Messages []Summary `json:"messages"`
}

func listPath(prefix string, q url.Values, folder, search string, page int) string {
	if folder != "" {
		q.Set("folder", folder)
	}
	if search != "" {
		q.Set("q", search)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	return prefix + "?" + q.Encode()
}

// Messages lists a page of folder, optionally searching subjects, senders
// and Message-IDs for search.
func (c *Client) Messages(ctx context.Context, folder, search string, page int) (Listing, error) {
	var out Listing
	return out, c.getJSON(ctx, listPath("/webmail/api/messages", url.Values{}, folder, search, page), &out)
}

// Attachment is an attached file as a message lists it.
type Attachment struct {
	Name        string `json:"name"`
	Size        int    `json:"size"`
	ContentType string `json:"contentType"`
	URL         string `json:"url"`
}

// Message is a message as the webmail shows it.
type Message struct {
	ID          int64        `json:"id"`
	Folder      string       `json:"folder"`
	From        string       `json:"from"`
	To          string       `json:"to"`
	Cc          string       `json:"cc"`
	Subject     string       `json:"subject"`
	Date        time.Time    `json:"date"`
	MessageID   string       `json:"messageId"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
}

// Message opens message id.
func (c *Client) Message(ctx context.Context, id int64) (Message, error) {
	var out Message
	return out, c.getJSON(ctx, "/webmail/api/message?id="+strconv.FormatInt(id, 10), &out)
}

// Download fetches the attachment named file of message id.
func (c *Client) Download(ctx context.Context, id int64, file string) ([]byte, error) {
	q := url.Values{"id": {strconv.FormatInt(id, 10)}, "file": {file}}
	resp, body, err := c.do(ctx, http.MethodGet, "/webmail/download?"+q.Encode(), nil, "")
	if err != nil {
		return nil, err
	}
	return body, statusErr(resp, body)
}

// File is an attachment to send.
type File struct {
	Name        string
	ContentType string
	Data        []byte
}

// Compose is a message to send or to save as a draft.
type Compose struct {
	To, Cc      []string
	Subject     string
	Text        string
	Draft       bool
	Attachments []File
}

// Sent is what the server kept of a sent message or draft.
type Sent struct {
	ID        int64  `json:"id"`
	MessageID string `json:"messageId"`
}

// Send sends m (or saves it in Drafts) and returns the copy the server kept.
func (c *Client) Send(ctx context.Context, m Compose) (Sent, error) {
	type file struct {
		Name        string `json:"name"`
		ContentType string `json:"contentType,omitempty"`
		Data        string `json:"data"`
	}
	body := struct {
		To          []string `json:"to"`
		Cc          []string `json:"cc,omitempty"`
		Subject     string   `json:"subject"`
		Text        string   `json:"text"`
		Draft       bool     `json:"draft"`
		Attachments []file   `json:"attachments,omitempty"`
	}{To: m.To, Cc: m.Cc, Subject: m.Subject, Text: m.Text, Draft: m.Draft}
	for _, a := range m.Attachments {
		body.Attachments = append(body.Attachments, file{Name: a.Name, ContentType: a.ContentType, Data: base64.StdEncoding.EncodeToString(a.Data)})
	}
	var out Sent
	return out, c.postJSON(ctx, "/webmail/api/send", body, &out)
}

// Contact is an entry of the public contact directory.
type Contact struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Agency string `json:"agency"`
	Email  string `json:"email"`
	Phone  string `json:"phone"`
}

// Directory fetches the public contact directory.
func (c *Client) Directory(ctx context.Context) ([]Contact, error) {
	var out []Contact
	return out, c.getJSON(ctx, "/danhba.json", &out)
}

var initialRe = regexp.MustCompile(`(?i)mật khẩu khởi tạo:\s*(?:<[^>]+>)*\s*([^<\s]+)`)

// InitialPassword reads the password new accounts get from the public
// users' guide.
func (c *Client) InitialPassword(ctx context.Context) (string, error) {
	page, err := c.Page(ctx, "/huongdan")
	if err != nil {
		return "", err
	}
	m := initialRe.FindStringSubmatch(page)
	if m == nil {
		return "", errors.New("webclient: the guide names no initial password")
	}
	return m[1], nil
}
