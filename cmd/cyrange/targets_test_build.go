//go:build cyrange_linetarget

package main

import (
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/images/target/linetarget"
)

// testTargets adds the tests' line target to a build made for the tests
// that prove a second target plugs in (go build -tags cyrange_linetarget).
func testTargets() target.Set { return target.Set{linetarget.New()} }
