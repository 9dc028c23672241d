package target

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	cyberrange "github.com/cyrange/cyrange/range"
)

// ChainExploit runs a cross-target chain through d against one defending
// team's replicas, keyed by target name, and returns the flags it found
// by their pattern; like an Exploit, it is never told them.
type ChainExploit func(ctx context.Context, d Dialer, replicas map[string]Replica) ([]string, error)

// Step is one weakness of one target that a chain goes through.
type Step struct {
	Target   string
	Weakness string
}

// Chain is an attack that crosses targets: it starts on one replica of a
// defending team and takes flags from another replica of the same team,
// as attackers pivot from one of a province's systems into the next.
type Chain struct {
	// Name names its reference exploit.
	Name        string
	Description string
	Techniques  []string
	// Targets are the targets it crosses; the first is where it starts.
	Targets []string
	// Stores are the flag stores it reaches, as "target/store".
	Stores []string
	// Route lists the weaknesses it needs: it works only while every
	// one is on, and the remedy of any one of them stops it.
	Route []Step
	Run   ChainExploit
}

// Chainer is a target that starts cross-target chains. It is optional:
// most targets stand alone.
type Chainer interface {
	Chains() []Chain
}

// Chains lists the chains of every target of the set that starts some,
// in the set's order.
func (s Set) Chains() []Chain {
	var out []Chain
	for _, t := range s {
		if c, ok := t.(Chainer); ok {
			out = append(out, c.Chains()...)
		}
	}
	return out
}

// EnvPeerSecret carries the secret one defending team's replicas share,
// from which each derives what one of the province's systems knows of
// another (PeerPassword), so that a credential leaked on one replica
// opens its neighbour and nothing of another team's.
const EnvPeerSecret = cyberrange.EnvPeerSecret

// PeerPassword is the password of account, a system's mailbox say, as
// both sides of a pair of replicas derive it from their shared secret:
// 50 random bits behind a prefix an administrator might have typed.
func PeerPassword(secret, account string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("peer-account\x00" + account))
	tail := strings.ToLower(base32.StdEncoding.EncodeToString(m.Sum(nil))[:10])
	head := account
	if head == "" {
		head = "x"
	}
	return strings.ToUpper(head[:1]) + head[1:] + "#" + tail
}
