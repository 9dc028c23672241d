// Package scenarios defines what an exercise is — its teams, target
// services, timing, scoring constants and address plan — and reads it from
// YAML files.
//
// A scenario file is one YAML mapping with snake_case keys; FORMAT.md in
// this directory documents every key, its default and its rules. In short:
//
//	name: demo                      # exercise id, a-z 0-9 -
//	title: "Diễn tập demo"          # any Unicode text
//	tick: 15s                       # round length
//	flag_lifetime: 5                # ticks a flag stays valid
//	teams:
//	  - {name: "Đội tấn công 01", role: attack}
//	  - {name: "Đội phòng thủ", role: defence}
//	services:
//	  - name: mail
//	    checker: builtin:NAME           # a built-in target (images/)
//	    flag_stores: [inbox, drafts, attachments]
//
// Load, LoadFile, Builtin and Open parse a file, fill in the defaults and
// validate the result. Problems come back all at once as Errors, each an
// *Error naming file, line and field the way compilers do:
//
//	demo.yaml:12: services[0].weight: must be greater than 0
//
// Unknown keys are errors too, so a misspelt setting never silently falls
// back to its default. The files demo.yaml and tiengiang-2023.yaml in this
// directory are compiled in (see Builtins).
//
// A Scenario is plain data: the range turns it into a plan of networks and
// containers, the scoreboard into a game. Canonical and Hash give its
// content one fixed form, so an event log can record which scenario it was
// played with.
//
// Reading and validating scenarios needs only the standard library and
// gopkg.in/yaml.v3; the one other cyrange package this package may import is
// the scoreboard's domain package, to hand it the game's configuration
// (GameConfig). It must never import the range, its drivers, the store or
// the web server: they all depend on it.
package scenarios
