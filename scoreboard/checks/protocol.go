// Package checks drives service checkers with the enochecker API v2 (the
// ENOWARS checker protocol), so that any ENOWARS service with its existing
// checker can be dropped into a scenario, and cyrange's own checkers can be
// used by other engines.
//
// The package holds the protocol's types, an HTTP client for remote
// checkers, an http.Handler that serves any in-process Checker over the same
// protocol, and the Runner that turns one game tick into checker tasks.
//
// Timeouts: a task the checker did not answer within its timeout counts as
// OFFLINE, as EnoEngine records it. A checker that hangs is almost always
// waiting on a team's service that accepted a connection and then went
// quiet, so the team, not the checker, is blamed. Everything else that goes
// wrong on the checker's side (connection refused, a non-200 reply, a body
// that is not a result, a panic) is INTERNAL_ERROR and blames nobody.
//
// It may import the scoreboard root package for its domain types, and must
// never import the storage, web or Docker packages.
package checks

import (
	"context"
	"fmt"
)

// Method is one of the task methods of the protocol.
type Method string

// The task methods of enochecker API v2. Exploit is for tests only.
const (
	PutFlag  Method = "putflag"
	GetFlag  Method = "getflag"
	PutNoise Method = "putnoise"
	GetNoise Method = "getnoise"
	Havoc    Method = "havoc"
	Exploit  Method = "exploit"
)

// Valid reports whether m is one of the protocol's methods.
func (m Method) Valid() bool {
	switch m {
	case PutFlag, GetFlag, PutNoise, GetNoise, Havoc, Exploit:
		return true
	}
	return false
}

// Result is a task's outcome as the protocol names it.
type Result string

// Task results. Their order of severity for a service's status is
// OFFLINE > MUMBLE > INTERNAL_ERROR > OK: a checker error only shows when
// nothing the team did wrong was seen.
const (
	OK            Result = "OK"
	Mumble        Result = "MUMBLE"
	Offline       Result = "OFFLINE"
	InternalError Result = "INTERNAL_ERROR"
)

// Valid reports whether r is one of the protocol's results.
func (r Result) Valid() bool {
	switch r {
	case OK, Mumble, Offline, InternalError:
		return true
	}
	return false
}

// ServiceInfo is the answer to GET /service.
type ServiceInfo struct {
	ServiceName     string `json:"serviceName"`
	FlagVariants    int    `json:"flagVariants"`
	NoiseVariants   int    `json:"noiseVariants"`
	HavocVariants   int    `json:"havocVariants"`
	ExploitVariants int    `json:"exploitVariants"`
}

// Task is the body of POST / in the protocol. Field names and JSON keys are
// the protocol's; Timeout and RoundLength are in milliseconds.
type Task struct {
	TaskID         int64   `json:"taskId"`
	Method         Method  `json:"method"`
	Address        string  `json:"address"`
	TeamID         int     `json:"teamId"`
	TeamName       string  `json:"teamName"`
	CurrentRoundID int64   `json:"currentRoundId"`
	RelatedRoundID int64   `json:"relatedRoundId"`
	Flag           *string `json:"flag"`
	VariantID      int     `json:"variantId"`
	Timeout        int64   `json:"timeout"`
	RoundLength    int64   `json:"roundLength"`
	TaskChainID    string  `json:"taskChainId"`
	FlagRegex      *string `json:"flagRegex"`
	FlagHash       *string `json:"flagHash"`
	AttackInfo     *string `json:"attackInfo"`
}

// TaskResult is the checker's reply to a task.
type TaskResult struct {
	Result     Result  `json:"result"`
	Message    *string `json:"message"`
	AttackInfo *string `json:"attackInfo"`
	Flag       *string `json:"flag"`
}

// Checker is what the runner needs of a checker, remote or in-process.
// Run returns a TaskResult for every task it could judge; an error means the
// checker itself could not be reached or broke, which the runner records as
// INTERNAL_ERROR (the team is not blamed for a broken checker). A Run cut
// short by its context's deadline is judged OFFLINE (see the package doc).
type Checker interface {
	Info(ctx context.Context) (ServiceInfo, error)
	Run(ctx context.Context, t Task) (TaskResult, error)
}

// ChainID builds the protocol's taskChainId: kind is "flag", "noise" or
// "havoc"; service, round and team are ids; index is the variant.
func ChainID(kind string, service int, round int64, team int, index int) string {
	return fmt.Sprintf("%s_s%d_r%d_t%d_i%d", kind, service, round, team, index)
}

// Str returns a pointer to s, for the protocol's nullable strings.
func Str(s string) *string { return &s }
