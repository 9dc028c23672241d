package portalclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cyrange/cyrange/images/portal/contract"
)

// Admin talks to the admin console's JSON API with HTTP Basic
// credentials.
type Admin struct {
	base, user, password string
	hc                   *http.Client
}

// NewAdmin makes a console client for the server at baseURL (the admin
// port, or the public portal where the console is also mounted).
func NewAdmin(baseURL string, d Dialer, user, password string) *Admin {
	return &Admin{base: strings.TrimRight(baseURL, "/"), user: user, password: password, hc: newHTTPClient(d)}
}

// Close drops the client's idle connections.
func (a *Admin) Close() { a.hc.CloseIdleConnections() }

func (a *Admin) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("portalclient: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return fmt.Errorf("portalclient: %w", err)
	}
	req.SetBasicAuth(a.user, a.password)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("portalclient: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("portalclient: %w", err)
	}
	if err := statusErr(resp.StatusCode, data); err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("portalclient: %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Settings is the state of the console's remedies. In an update, nil
// fields are left unchanged; RotateSecret true makes a new signing key.
type Settings struct {
	SearchPatched    *bool    `json:"searchPatched,omitempty"`
	LookupRequiresID *bool    `json:"lookupRequiresID,omitempty"`
	BackupExposed    *bool    `json:"backupExposed,omitempty"`
	AdminOnPortal    *bool    `json:"adminOnPortal,omitempty"`
	ImportRestricted *bool    `json:"importRestricted,omitempty"`
	ImportAllow      []string `json:"importAllow,omitempty"`
	Lockout          *bool    `json:"lockout,omitempty"`
	LockThreshold    *int     `json:"lockThreshold,omitempty"`
	SecretDefault    *bool    `json:"secretDefault,omitempty"`
	SecretGen        *int     `json:"secretGeneration,omitempty"`
	RotateSecret     *bool    `json:"rotateSecret,omitempty"`
	Blocked          []string `json:"blocked,omitempty"`
}

// Bool is a helper for Settings fields.
func Bool(b bool) *bool { return &b }

// Update changes settings and returns them all.
func (a *Admin) Update(ctx context.Context, s Settings) (Settings, error) {
	var out Settings
	err := a.call(ctx, http.MethodPost, "/quantri/api/settings", s, &out)
	return out, err
}

// Status is the console's dashboard.
type Status struct {
	Domain   string   `json:"domain"`
	Sites    int      `json:"sites"`
	Officers int      `json:"officers"`
	Dossiers int      `json:"dossiers"`
	Sessions int      `json:"sessions"`
	Settings Settings `json:"settings"`
}

// Status reads the dashboard.
func (a *Admin) Status(ctx context.Context) (Status, error) {
	var out Status
	err := a.call(ctx, http.MethodGet, "/quantri/api/status", nil, &out)
	return out, err
}

// ChangePassword changes a console account's password ("admin").
func (a *Admin) ChangePassword(ctx context.Context, user, password string) error {
	return a.call(ctx, http.MethodPost, "/quantri/api/password", map[string]string{"user": user, "password": password}, nil)
}

// ResetOfficer sets an officer's password (the server makes one up when
// password is empty) and returns it.
func (a *Admin) ResetOfficer(ctx context.Context, user, password string) (string, error) {
	var out struct{ Password string }
	err := a.call(ctx, http.MethodPost, "/quantri/api/users/password", map[string]string{"user": user, "password": password}, &out)
	return out.Password, err
}

// Block refuses connections from the given ranges on the public port.
func (a *Admin) Block(ctx context.Context, ranges ...string) (Settings, error) {
	var out Settings
	err := a.call(ctx, http.MethodPost, "/quantri/api/firewall", map[string][]string{"block": ranges}, &out)
	return out, err
}

// Table is one of the console's lists.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// Table reads a console list (users, sites, dossiers, messages, drafts)
// filtered by q.
func (a *Admin) Table(ctx context.Context, name, q string) (Table, error) {
	var out Table
	err := a.call(ctx, http.MethodGet, "/quantri/api/"+url.PathEscape(name)+"?"+url.Values{"q": {q}}.Encode(), nil, &out)
	return out, err
}

func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Remedy does in the admin console what the README gives as the remedy
// of weakness w: what the target adapter's Remedy calls.
func Remedy(ctx context.Context, a *Admin, w string) error {
	var s Settings
	switch w {
	case contract.NewsSQLi:
		s.SearchPatched = Bool(true)
	case contract.DossierIDOR:
		s.LookupRequiresID = Bool(true)
	case contract.BackupExposed:
		s.BackupExposed, s.RotateSecret = Bool(false), Bool(true)
	case contract.AdminDefaultPassword:
		return a.ChangePassword(ctx, "admin", randomPassword())
	case contract.WeakSessionSecret:
		s.RotateSecret = Bool(true)
	case contract.SSRFImport:
		s.ImportRestricted = Bool(true)
	case contract.NoLockout:
		s.Lockout = Bool(true)
	default:
		return fmt.Errorf("portalclient: no remedy for %q", w)
	}
	_, err := a.Update(ctx, s)
	return err
}
