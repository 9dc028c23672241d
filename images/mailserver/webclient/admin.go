package webclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Admin talks to the admin console's JSON API with HTTP Basic credentials.
type Admin struct {
	base, user, password string
	hc                   *http.Client
}

// NewAdmin makes a console client for the server at baseURL (the admin
// port, or the webmail where the console is also mounted).
func NewAdmin(baseURL string, d Dialer, user, password string) *Admin {
	return &Admin{base: strings.TrimRight(baseURL, "/"), user: user, password: password, hc: newHTTPClient(d)}
}

// Close drops the client's idle connections.
func (a *Admin) Close() { a.hc.CloseIdleConnections() }

func (a *Admin) call(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("webclient: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("webclient: %w", err)
	}
	req.SetBasicAuth(a.user, a.password)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, data, err := send(a.hc, req)
	if err != nil {
		return nil, err
	}
	if err := statusErr(resp, data); err != nil {
		return data, err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return data, fmt.Errorf("webclient: %s %s: %w", method, path, err)
		}
	}
	return data, nil
}

// Settings is the state of the console's remedies. In an update, nil
// fields are left unchanged.
type Settings struct {
	VRFY             *bool    `json:"vrfy,omitempty"`
	Lockout          *bool    `json:"lockout,omitempty"`
	LockThreshold    *int     `json:"lockThreshold,omitempty"`
	IDORPatched      *bool    `json:"idorPatched,omitempty"`
	TraversalPatched *bool    `json:"traversalPatched,omitempty"`
	AdminOnWebmail   *bool    `json:"adminOnWebmail,omitempty"`
	Blocked          []string `json:"blocked,omitempty"`
}

// Bool is a helper for Settings fields.
func Bool(b bool) *bool { return &b }

// Status is the console's dashboard.
type Status struct {
	Domain       string    `json:"domain"`
	Accounts     int       `json:"accounts"`
	Agencies     int       `json:"agencies"`
	Settings     Settings  `json:"settings"`
	FailedLogins int       `json:"failedLogins"`
	LockedOut    int       `json:"lockedOut"`
	ServerTime   time.Time `json:"serverTime"`
}

// Status reads the dashboard.
func (a *Admin) Status(ctx context.Context) (Status, error) {
	var out Status
	_, err := a.call(ctx, http.MethodGet, "/admin/api/status", nil, &out)
	return out, err
}

// User is an account as the console lists it.
type User struct {
	Addr    string `json:"addr"`
	Name    string `json:"name"`
	Title   string `json:"title"`
	Agency  string `json:"agency"`
	Role    string `json:"role"`
	Listed  bool   `json:"listed"`
	Forward string `json:"forward"`
}

// Users searches accounts by text and role (leader, head, deputy, clerk,
// secretary, staff; empty for any).
func (a *Admin) Users(ctx context.Context, q, role string) ([]User, error) {
	var out []User
	_, err := a.call(ctx, http.MethodGet, "/admin/api/users?"+url.Values{"q": {q}, "role": {role}}.Encode(), nil, &out)
	return out, err
}

// ResetPassword sets a mailbox's password; an empty password makes the
// server pick one. It returns the new password.
func (a *Admin) ResetPassword(ctx context.Context, addr, password string) (string, error) {
	var out struct {
		Password string `json:"password"`
	}
	_, err := a.call(ctx, http.MethodPost, "/admin/api/users/password", map[string]string{"addr": addr, "password": password}, &out)
	return out.Password, err
}

// Mailbox lists a page of a user's folder.
func (a *Admin) Mailbox(ctx context.Context, addr, folder string, page int) (Listing, error) {
	var out Listing
	_, err := a.call(ctx, http.MethodGet, listPath("/admin/api/mailbox", url.Values{"addr": {addr}}, folder, "", page), nil, &out)
	return out, err
}

// Source returns a message's raw text.
func (a *Admin) Source(ctx context.Context, id int64) ([]byte, error) {
	return a.call(ctx, http.MethodGet, "/admin/api/message?id="+strconv.FormatInt(id, 10), nil, nil)
}

// Update changes settings and returns them all.
func (a *Admin) Update(ctx context.Context, s Settings) (Settings, error) {
	var out Settings
	_, err := a.call(ctx, http.MethodPost, "/admin/api/settings", s, &out)
	return out, err
}

// Block refuses connections from the given ranges (CIDR or addresses).
func (a *Admin) Block(ctx context.Context, ranges ...string) (Settings, error) {
	var out Settings
	_, err := a.call(ctx, http.MethodPost, "/admin/api/firewall", map[string][]string{"block": ranges}, &out)
	return out, err
}

// Unblock lifts blocks.
func (a *Admin) Unblock(ctx context.Context, ranges ...string) (Settings, error) {
	var out Settings
	_, err := a.call(ctx, http.MethodPost, "/admin/api/firewall", map[string][]string{"unblock": ranges}, &out)
	return out, err
}

// ChangePassword changes a console account's password ("admin").
func (a *Admin) ChangePassword(ctx context.Context, user, password string) error {
	_, err := a.call(ctx, http.MethodPost, "/admin/api/password", map[string]string{"user": user, "password": password}, nil)
	return err
}

// Failure is a row of the failed-login table.
type Failure struct {
	User        string    `json:"user"`
	Source      string    `json:"source"`
	Count       int       `json:"count"`
	Last        time.Time `json:"last"`
	LockedUntil time.Time `json:"lockedUntil"`
}

// Failures lists recent failed logins.
func (a *Admin) Failures(ctx context.Context) ([]Failure, error) {
	var out []Failure
	_, err := a.call(ctx, http.MethodGet, "/admin/api/failures", nil, &out)
	return out, err
}
