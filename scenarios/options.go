package scenarios

import "sort"

// OptionsCheck checks the options of a service whose image is a built-in
// target, the way that target reads them, and returns every problem at
// once, never only the first: an unknown key, a value of the wrong type
// or range, an unknown weakness. Each problem names the option's path
// below options ("accounts", "weaknesses.nope").
type OptionsCheck func(o Options) []OptionProblem

// OptionProblem is one problem with a service's options.
type OptionProblem struct {
	Key string
	Msg string
}

// CheckOptions runs the check of each service's built-in image over its
// options and reports every problem with the file, line and field, as
// Load reports the file's own, so that a bad option stops the scenario at
// load rather than a target that refuses to start inside a range. The
// checks map an image name to its target's check; a service whose image
// has none is not checked here (with --driver none nothing runs it; a
// range refuses an image no target of the build serves when it plans).
func (s *Scenario) CheckOptions(checks map[string]OptionsCheck) error {
	var errs Errors
	for i, svc := range s.Services {
		path := indexPath("services", i)
		if !IsBuiltinImage(svc.Image) {
			continue
		}
		check, ok := checks[svc.Image]
		if !ok {
			continue
		}
		for _, p := range check(svc.Options) {
			field := path + ".options"
			if p.Key != "" {
				field += "." + p.Key
			}
			errs = append(errs, &Error{File: s.source, Line: s.lineOf(field), Field: field, Msg: p.Msg})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(a, b int) bool { return errs[a].Line < errs[b].Line })
	return errs
}

// lineOf is the line of path, or of its nearest ancestor in the file.
func (s *Scenario) lineOf(path string) int {
	for path != "" {
		if l, ok := s.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// IsBuiltinImage reports whether a service's image is a built-in target,
// a role of the cyrange binary (cyrange target IMAGE), rather than an
// image reference: a short name of a-z, 0-9 and '-'.
func IsBuiltinImage(image string) bool {
	if image == "" || len(image) > 32 {
		return false
	}
	for _, c := range image {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
