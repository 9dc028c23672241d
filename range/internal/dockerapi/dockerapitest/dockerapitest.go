// Package dockerapitest holds what the fake engines of range/docker's and
// range/swarm's tests share: the record of the calls a driver made (and
// the failures a test plants in them), the engine's label filters, and
// the frames of its multiplexed log streams. It never talks to an engine.
package dockerapitest

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Calls records the engine calls a fake received, by name
// ("NetworkCreate"), and makes the next call of a name fail when a test
// says so. The zero value is ready; it is safe for concurrent use.
type Calls struct {
	mu   sync.Mutex
	list []string
	fail map[string]error
}

// Record notes a call of op and returns the error planted for it by
// FailNext, once, or nil.
func (c *Calls) Record(op string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.list = append(c.list, op)
	if err, ok := c.fail[op]; ok {
		delete(c.fail, op)
		return err
	}
	return nil
}

// FailNext makes the next call of op fail with err.
func (c *Calls) FailNext(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == nil {
		c.fail = map[string]error{}
	}
	c.fail[op] = err
}

// Took is how many calls of op were made.
func (c *Calls) Took(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, x := range c.list {
		if x == op {
			n++
		}
	}
	return n
}

// Made is every call made so far, in order.
func (c *Calls) Made() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

// MatchLabels reports whether labels satisfy the filters' label terms
// as the engine reads them: "k=v" wants label k at v, "k" wants label k
// at any value.
func MatchLabels(f client.Filters, labels map[string]string) bool {
	for want := range f["label"] {
		k, v, hasValue := strings.Cut(want, "=")
		got, ok := labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// Frame writes one frame of the engine's multiplexed stream: the stream,
// three zero bytes, the length (big-endian) and the text.
func Frame(w *bytes.Buffer, s stdcopy.StdType, text string) {
	var hdr [8]byte
	hdr[0] = byte(s)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(text)))
	w.Write(hdr[:])
	w.WriteString(text)
}
