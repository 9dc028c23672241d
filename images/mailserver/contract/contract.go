// Package contract holds what the mail server replica, its checker and its
// reference exploits must agree on: the names of the planted weaknesses and
// of the flag stores, and the derivation of the checker's master password.
//
// It is imported by the target, the checker and the exploits, so it must
// never import any of them, nor anything outside the standard library.
package contract

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// The planted weaknesses, as a scenario's options.weaknesses names them.
const (
	WeakPassword         = "weak_password"
	SMTPVrfy             = "smtp_vrfy"
	NoLockout            = "no_lockout"
	WebmailIDOR          = "webmail_idor"
	PathTraversal        = "path_traversal"
	AdminDefaultPassword = "admin_default_password"
)

// Weaknesses lists every weakness name in a stable order.
func Weaknesses() []string {
	return []string{WeakPassword, SMTPVrfy, NoLockout, WebmailIDOR, PathTraversal, AdminDefaultPassword}
}

// ParseWeaknesses turns a comma-separated list ("all", "none", "" or names)
// into a set. An unknown name is an error, so that a typo in a scenario does
// not silently leave a weakness out.
func ParseWeaknesses(list string) (map[string]bool, error) {
	set := make(map[string]bool)
	list = strings.TrimSpace(list)
	switch strings.ToLower(list) {
	case "", "none":
		return set, nil
	case "all":
		for _, w := range Weaknesses() {
			set[w] = true
		}
		return set, nil
	}
	known := make(map[string]bool)
	for _, w := range Weaknesses() {
		known[w] = true
	}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !known[name] {
			return nil, fmt.Errorf("contract: unknown weakness %q (known: %s)", name, strings.Join(Weaknesses(), ", "))
		}
		set[name] = true
	}
	return set, nil
}

// ServiceName is the target's image and role name.
const ServiceName = "mailserver"

// The flag stores, in the order of the checker's variantId.
const (
	StoreInbox       = "inbox"
	StoreDrafts      = "drafts"
	StoreAttachments = "attachments"
)

// Stores lists the flag stores; the index is the checker's variantId.
func Stores() []string {
	return []string{StoreInbox, StoreDrafts, StoreAttachments}
}

// MasterPassword is the password the checker uses for the mailbox addr of
// the replica named replica: an HMAC of both under the checker secret. Each
// mailbox of each replica gets its own, so that one leaked from a checker's
// traffic opens one mailbox of one replica only (replicas share the
// secret), and a password reset by the defence never locks the checker
// out. The replica's name is what the game calls it (the plan passes it to
// the target as --replica and to the checker in --targets); a replica run
// alone has the empty name. An empty secret disables master logins (the
// function then returns "").
func MasterPassword(secret, replica, addr string) string {
	if secret == "" {
		return ""
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("mailserver-master\x00"))
	m.Write([]byte(strings.ToLower(strings.TrimSpace(replica))))
	m.Write([]byte{0})
	m.Write([]byte(strings.ToLower(strings.TrimSpace(addr))))
	return hex.EncodeToString(m.Sum(nil))[:24]
}
