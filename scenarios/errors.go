package scenarios

import (
	"strconv"
	"strings"
)

// Error is one problem in a scenario, located as precisely as the file
// allows: File and Line name where to look, Field names the setting in the
// dotted form used throughout FORMAT.md (services[0].weight). Line is 0 when
// the problem is about something missing from the file, or when the scenario
// was built in code rather than read from a file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error formats the problem the way compilers do, so editors can jump to it:
// "demo.yaml:12: services[0].weight: must be greater than 0".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one scenario. Load and Validate report
// them all at once so an author fixes a file in one pass, not one error per
// run.
type Errors []*Error

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes the individual problems to errors.As and errors.Is.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
