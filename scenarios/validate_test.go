package scenarios

import (
	"errors"
	"strings"
	"testing"
)

// base is the smallest valid scenario; most cases below are it plus or
// minus a line, so their line numbers are easy to check by eye.
const base = `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - {name: web, flag_stores: [f]}
`

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		desc string
		yaml string
		want []string
	}{
		// The file as a whole.
		{"empty file", ``, []string{"t.yaml: file is empty"}},
		{"only comments", "# nothing\n", []string{"t.yaml: file is empty"}},
		{"null document", "~\n", []string{"t.yaml: file is empty"}},
		{"not a mapping", "- a\n- b\n", []string{"t.yaml:1: must be a mapping of settings (name: ..., teams: ..., services: ...)"}},
		{"syntax error", "name: t\nteams: [\n", []string{"t.yaml:2: invalid YAML: did not find expected node content"}},
		{"bad indentation", "name: t\n tick: 1s\n", []string{"t.yaml:2: invalid YAML: mapping values are not allowed in this context"}},
		{"two documents", base + "---\nname: u\n", []string{"t.yaml:7: only one YAML document is allowed per file"}},
		{"unknown anchor", base + "tick: *nope\n", []string{"t.yaml: invalid YAML: unknown anchor 'nope' referenced"}},
		{"too large", strings.Repeat("#", MaxFileSize+1), []string{"t.yaml: file is larger than 1048576 bytes"}},

		// Keys.
		{"unknown key with suggestion", "tikc: 15s\n" + base, []string{"t.yaml:1: tikc: unknown field (did you mean tick?)"}},
		{"unknown key", base + "colour: red\n", []string{"t.yaml:7: colour: unknown field"}},
		{"unknown nested key", "scoring: {first_blod: 3}\n" + base, []string{"t.yaml:1: scoring.first_blod: unknown field (did you mean first_blood?)"}},
		{"unknown team key", `name: t
teams:
  - {name: A, role: attack}
  - name: D
    role: defence
    colour: blue
services:
  - {name: web, flag_stores: [f]}
`, []string{"t.yaml:6: teams[1].colour: unknown field"}},
		{"unknown service key", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: web
    flag_stores: [f]
    wieght: 2
`, []string{"t.yaml:8: services[0].wieght: unknown field (did you mean weight?)"}},
		{"duplicate key", base + "name: u\n", []string{"t.yaml:7: name: duplicate key (first at line 1)"}},
		{"non-text key", base + "[a]: 1\n", []string{"t.yaml:7: keys must be plain text"}},

		// Types.
		{"tick without unit", "tick: 15\n" + base, []string{`t.yaml:1: tick: must be a duration with a unit, such as 15s, 1m30s or 2h (got "15")`}},
		{"tick as list", "tick: [1]\n" + base, []string{"t.yaml:1: tick: must be a duration with a unit, such as 15s, 1m30s or 2h"}},
		{"lifetime not a number", "flag_lifetime: five\n" + base, []string{"t.yaml:1: flag_lifetime: must be a whole number"}},
		{"lifetime fractional", "flag_lifetime: 2.5\n" + base, []string{"t.yaml:1: flag_lifetime: must be a whole number"}},
		{"bool as yes", "require_telemetry: yes\n" + base, []string{"t.yaml:1: require_telemetry: must be true or false"}},
		{"weight as text", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - {name: web, flag_stores: [f], weight: heavy}
`, []string{"t.yaml:6: services[0].weight: must be a number"}},
		{"teams not a list", "name: t\nteams: {name: A}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:2: teams: must be a list"}},
		{"team not a mapping", `name: t
teams:
  - A
  - {name: D, role: defence}
  - {name: B, role: attack}
services:
  - {name: web, flag_stores: [f]}
`, []string{"t.yaml:3: teams[0]: must be a mapping"}},
		{"team null", `name: t
teams:
  -
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - {name: web, flag_stores: [f]}
`, []string{"t.yaml:3: teams[0]: must be a mapping"}},
		{"name as mapping", "name: {a: 1}\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:1: name: must be text"}},
		{"scoring not a mapping", "scoring: 5\n" + base, []string{"t.yaml:1: scoring: must be a mapping"}},
		{"cidr garbage", "network: {docker: {teams: tenSixty}}\n" + base,
			[]string{`t.yaml:1: network.docker.teams: must be an address range in CIDR form, such as 10.60.0.0/16 (got "tenSixty")`}},
		{"ports not a mapping", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - {name: web, flag_stores: [f], ports: [80]}
`, []string{"t.yaml:6: services[0].ports: must be a mapping of port names to numbers, such as {smtp: 25, http: 80}"}},
		{"port without number", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: web
    flag_stores: [f]
    ports:
      http:
`, []string{"t.yaml:9: services[0].ports.http: needs a port number"}},
		{"options not a mapping", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - {name: web, flag_stores: [f], options: [1]}
`, []string{"t.yaml:6: services[0].options: must be a mapping"}},
		{"options binary", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: web
    flag_stores: [f]
    options:
      blob: !!binary aGVsbG8=
`, []string{"t.yaml:9: services[0].options.blob: unsupported tag !!binary: use plain text, numbers, booleans, lists and mappings"}},
		{"options duplicate key", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: web
    flag_stores: [f]
    options:
      a: 1
      a: 2
`, []string{"t.yaml:10: services[0].options.a: duplicate key (first at line 9)"}},
		{"merge of a scalar", "x: &x 1\n" + base, []string{"t.yaml:1: x: unknown field"}},
		{"bad merge", "<<: 5\n" + base, []string{"t.yaml:1: <<: merge key needs a mapping or a list of mappings"}},

		// Scenario settings.
		{"name missing", "teams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml: name: is required"}},
		{"name pattern", "name: Demo 1\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:1: name: must be 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got "Demo 1")`}},
		{"name trailing dash", "name: demo-\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:1: name: must be 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got "demo-")`}},
		{"title with control character", "title: \"a\\tb\"\n" + base, []string{"t.yaml:1: title: must not contain control or invisible characters (found U+0009)"}},
		{"locale", "locale: fr\n" + base, []string{`t.yaml:1: locale: must be vi or en (got "fr")`}},
		{"tick too short", "tick: 500ms\n" + base, []string{"t.yaml:1: tick: must be at least 1s (got 500ms)"}},
		{"tick zero", "tick: 0s\n" + base, []string{"t.yaml:1: tick: must be at least 1s (got 0s)"}},
		{"lifetime zero", "flag_lifetime: 0\n" + base, []string{"t.yaml:1: flag_lifetime: must be between 1 and 100 (got 0)"}},
		{"lifetime too long", "flag_lifetime: 101\n" + base, []string{"t.yaml:1: flag_lifetime: must be between 1 and 100 (got 101)"}},
		{"depth beyond lifetime", "flag_lifetime: 2\ngetflag_depth: 3\n" + base, []string{"t.yaml:2: getflag_depth: must be between 1 and flag_lifetime (2) (got 3)"}},
		{"depth zero", "getflag_depth: 0\n" + base, []string{"t.yaml:1: getflag_depth: must be between 1 and flag_lifetime (5) (got 0)"}},
		{"duration negative", "duration: -1h\n" + base, []string{"t.yaml:1: duration: must not be negative (got -1h)"}},
		{"duration shorter than a tick", "tick: 1m\nduration: 30s\n" + base, []string{"t.yaml:2: duration: must be 0 (no end) or at least one tick (1m), got 30s"}},
		{"freeze negative", "freeze_at: -5m\n" + base, []string{"t.yaml:1: freeze_at: must not be negative (got -5m)"}},
		{"freeze after end", "duration: 2h\nfreeze_at: 2h\n" + base, []string{"t.yaml:2: freeze_at: must be less than duration (2h), got 2h"}},
		{"flag prefix lower case", "flag_format: {prefix: ctf}\n" + base, []string{`t.yaml:1: flag_format.prefix: must be at most 8 characters of A-Z and 0-9 (got "ctf")`}},
		{"flag prefix too long", "flag_format: {prefix: ABCDEFGHI}\n" + base, []string{`t.yaml:1: flag_format.prefix: must be at most 8 characters of A-Z and 0-9 (got "ABCDEFGHI")`}},
		{"scoring negative", "scoring:\n  detection_false: -2.5\n" + base, []string{"t.yaml:2: scoring.detection_false: must not be negative (got -2.5)"}},
		{"scoring infinite", "scoring:\n  first_blood: .inf\n" + base, []string{"t.yaml:2: scoring.first_blood: must be a finite number"}},
		{"rate zero", "submission: {rate: 0}\n" + base, []string{"t.yaml:1: submission.rate: must be greater than 0"}},
		{"burst zero", "submission: {burst: 0}\n" + base, []string{"t.yaml:1: submission.burst: must be at least 1 (got 0)"}},
		{"max line", "submission: {max_line: 512}\n" + base, []string{"t.yaml:1: submission.max_line: must be 200: the submission protocol fixes the longest line (got 512)"}},

		// Network.
		{"host bits", "network: {docker: {teams: 10.60.1.0/16}}\n" + base,
			[]string{"t.yaml:1: network.docker.teams: 10.60.1.0/16 has host bits set (did you mean 10.60.0.0/16?)"}},
		{"ipv6", "network: {docker: {replicas: 'fd00::/48'}}\n" + base,
			[]string{"t.yaml:1: network.docker.replicas: must be an IPv4 range (got fd00::/48)"}},
		{"overlap", "network:\n  docker:\n    replicas: 10.60.128.0/17\n" + base,
			[]string{"t.yaml:3: network.docker.replicas: 10.60.128.0/17 overlaps network.docker.teams (10.60.0.0/16)"}},
		{"checkers inside teams", "network:\n  local:\n    checkers: 127.60.0.0/24\n" + base,
			[]string{"t.yaml:3: network.local.checkers: 127.60.0.0/24 overlaps network.local.teams (127.60.0.0/16)"}},
		{"team base too small", "network:\n  docker:\n    teams: 10.60.0.0/23\n" + base,
			[]string{"t.yaml:3: network.docker.teams: 10.60.0.0/23 has room for 1 teams, the scenario has 2"}},
		{"team base smaller than a /24", "network:\n  docker:\n    teams: 10.60.0.0/25\n" + base,
			[]string{"t.yaml:3: network.docker.teams: must be /24 or larger: every team gets a /24 of it (got 10.60.0.0/25)"}},
		{"checkers too small", "network:\n  docker:\n    checkers: 10.62.0.0/30\n" + base,
			[]string{"t.yaml:3: network.docker.checkers: must be /29 or larger (got 10.62.0.0/30)"}},
		{"local outside loopback", "network:\n  local:\n    teams: 10.70.0.0/16\n" + base,
			[]string{"t.yaml:3: network.local.teams: must be inside 127.0.0.0/8: the local driver uses loopback addresses (got 10.70.0.0/16)"}},
		{"local covering more than loopback", "network:\n  local:\n    teams: 0.0.0.0/0\n" + base,
			[]string{"t.yaml:3: network.local.teams: must be inside 127.0.0.0/8: the local driver uses loopback addresses (got 0.0.0.0/0)"}},
		{"docker on loopback", "network:\n  docker:\n    checkers: 127.62.0.0/24\n" + base,
			[]string{"t.yaml:3: network.docker.checkers: must not be a loopback range: Docker networks need routable addresses (got 127.62.0.0/24)"}},

		{"gateways not an address", "network:\n  local:\n    gateways: localhost:1080\n" + base,
			[]string{`t.yaml:3: network.local.gateways: must be an address and a port, such as 127.0.0.1:1080 (got "localhost:1080")`}},
		{"gateways past the last port", "network:\n  docker:\n    gateways: 0.0.0.0:65534\n" + base,
			[]string{"t.yaml:3: network.docker.gateways: port 65534 leaves no port for team 2 (team i listens on port 65534+i)"}},

		// Teams.
		{"no teams", "name: t\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml: teams: needs at least one team that attacks and one that defends"}},
		{"no defender", "name: t\nteams:\n  - {name: A, role: attack}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:2: teams: needs at least one team with role defence or both"}},
		{"no attacker", "name: t\nteams:\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:2: teams: needs at least one team with role attack or both"}},
		{"lonely both", "name: t\nteams:\n  - {name: B, role: both}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:2: teams: a single team with role both has no one else's replica to attack"}},
		{"role missing", "name: t\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\n  - {name: C}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:5: teams[2].role: is required: attack, defence or both"}},
		{"role unknown", "name: t\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\n  - {name: C, role: red}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:5: teams[2].role: must be attack, defence or both (got "red")`}},
		{"team name missing", "name: t\nteams:\n  - {name: A, role: attack}\n  - {role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:4: teams[1].name: is required"}},
		{"team name duplicate", "name: t\nteams:\n  - {name: Đội A, role: attack}\n  - {name: D, role: defence}\n  - {name: Đội A, role: attack}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:5: teams[2].name: "Đội A" is already used by teams[0]`}},
		{"team name differs in case only", "name: t\nteams:\n  - {name: Đội A, role: attack}\n  - {name: D, role: defence}\n  - {name: đội a, role: attack}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:5: teams[2].name: "đội a" differs from teams[0] only in letter case`}},
		{"team name with spaces around", "name: t\nteams:\n  - {name: ' A', role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:3: teams[0].name: must not start or end with a space"}},
		{"team name too long", "name: t\nteams:\n  - {name: " + strings.Repeat("Đ", 65) + ", role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:3: teams[0].name: must be at most 64 characters (got 65)"}},
		{"team name zero width", "name: t\nteams:\n  - {name: \"A\\u200B\", role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:3: teams[0].name: must not contain control or invisible characters (found U+200B)"}},
		{"team name is an address", "name: t\nteams:\n  - {name: 10.60.1.5, role: attack}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{"t.yaml:3: teams[0].name: must not be an IP address: detection reports name an attacker by team name or by address"}},
		{"short pattern", "name: t\nteams:\n  - {name: A, role: attack, short: A01}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:3: teams[0].short: must be 1 to 8 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got "A01")`}},
		{"short collides with a default", "name: t\nteams:\n  - {name: A, role: attack, short: d01}\n  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n",
			[]string{`t.yaml:4: teams[1].short: "d01" is already used by teams[0]`}},

		// Services.
		{"no services", "name: t\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\n",
			[]string{"t.yaml: services: needs at least one service"}},
		{"empty services", "name: t\nteams:\n  - {name: A, role: attack}\n  - {name: D, role: defence}\nservices: []\n",
			[]string{"t.yaml:5: services: needs at least one service"}},
		{"service name missing", base + "  - {flag_stores: [f]}\n",
			[]string{"t.yaml:7: services[1].name: is required"}},
		{"service name pattern", base + "  - {name: Web_2, flag_stores: [f]}\n",
			[]string{`t.yaml:7: services[1].name: must be 1 to 32 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got "Web_2")`}},
		{"service name duplicate", base + "  - {name: web, flag_stores: [g]}\n",
			[]string{`t.yaml:7: services[1].name: "web" is already used by services[0]`}},
		{"image", base + "  - {name: db, image: '-x', flag_stores: [f]}\n",
			[]string{`t.yaml:7: services[1].image: must be a built-in target's name or an image reference such as registry.example/app:1.2 (got "-x")`}},
		{"foreign image without checker", base + "  - {name: db, image: 'registry.example/db:1', flag_stores: [f]}\n",
			[]string{`t.yaml:7: services[1].checker: is required: image "registry.example/db:1" is not the name of a built-in checker, so give builtin:NAME or the http(s) URL of an enochecker v2 checker`}},
		// A box's traffic bypasses the gateways: only built-in targets see it.
		{"attack box with a foreign image", "attack_box: true\n" + base +
			"  - name: db\n    image: registry.example/db:1\n    checker: http://checker.example:8000\n    flag_stores: [f]\n",
			[]string{`t.yaml:9: services[1].image: must be a built-in target when attack_box is true: only built-in targets record the connections that reach them, and traffic from an attack box passes no gateway (got "registry.example/db:1")`}},
		{"checker scheme", base + "  - {name: db, checker: 'ftp://c.example/', flag_stores: [f]}\n",
			[]string{`t.yaml:7: services[1].checker: must be builtin:NAME or the http(s) URL of an enochecker v2 checker (got "ftp://c.example/")`}},
		{"checker builtin empty", base + "  - {name: db, checker: 'builtin:', flag_stores: [f]}\n",
			[]string{`t.yaml:7: services[1].checker: must be builtin:NAME or the http(s) URL of an enochecker v2 checker (got "builtin:")`}},
		{"checker url without host", base + "  - {name: db, checker: 'http:///x', flag_stores: [f]}\n",
			[]string{`t.yaml:7: services[1].checker: must be builtin:NAME or the http(s) URL of an enochecker v2 checker (got "http:///x")`}},
		{"weight zero", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: mail
    flag_stores: [inbox]
    weight: 0
`, []string{"t.yaml:8: services[0].weight: must be greater than 0"}},
		{"weight negative", base + "  - {name: db, flag_stores: [f], weight: -1}\n",
			[]string{"t.yaml:7: services[1].weight: must be greater than 0"}},
		{"weight nan", base + "  - {name: db, flag_stores: [f], weight: .nan}\n",
			[]string{"t.yaml:7: services[1].weight: must be a finite number"}},
		{"no flag stores", base + "  - {name: db}\n",
			[]string{"t.yaml:7: services[1].flag_stores: needs at least one flag store"}},
		{"store duplicate", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: mail
    flag_stores:
      - inbox
      - drafts
      - inbox
`, []string{`t.yaml:10: services[0].flag_stores[2]: "inbox" is already listed as services[0].flag_stores[0]`}},
		{"store name pattern", base + "  - {name: db, flag_stores: ['a b']}\n",
			[]string{`t.yaml:7: services[1].flag_stores[0]: must be 1 to 32 characters of a-z, 0-9, '-' and '_', starting and ending with a letter or digit (got "a b")`}},
		{"too many stores", base + "  - {name: db, flag_stores: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q]}\n",
			[]string{"t.yaml:7: services[1].flag_stores: must have at most 16 flag stores (got 17)"}},
		{"port out of range", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: mail
    flag_stores: [inbox]
    ports:
      smtp: 25
      http: 70000
`, []string{"t.yaml:10: services[0].ports.http: must be between 1 and 65535 (got 70000)"}},
		{"port twice", `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: mail
    flag_stores: [inbox]
    ports: {http: 80, web: 80}
`, []string{"t.yaml:8: services[0].ports.web: port 80 is already named http"}},
		{"port name", base + "  - {name: db, flag_stores: [f], ports: {SQL: 5432}}\n",
			[]string{"t.yaml:7: services[1].ports.SQL: port name must be 1 to 15 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"}},

		// Several problems at once, all reported, in file order, with no
		// follow-on noise from fields that failed to decode.
		{"many at once", `name: Bad Name
tick: soon
flag_lifetime: 0
teams:
  - {name: A, role: attack}
  - {name: A, role: defence, extra: 1}
services:
  - name: mail
    flag_stores: [inbox, inbox]
    weight: -3
`, []string{
			`t.yaml:1: name: must be 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got "Bad Name")`,
			`t.yaml:2: tick: must be a duration with a unit, such as 15s, 1m30s or 2h (got "soon")`,
			"t.yaml:3: flag_lifetime: must be between 1 and 100 (got 0)",
			"t.yaml:6: teams[1].extra: unknown field",
			`t.yaml:6: teams[1].name: "A" is already used by teams[0]`,
			`t.yaml:9: services[0].flag_stores[1]: "inbox" is already listed as services[0].flag_stores[0]`,
			"t.yaml:10: services[0].weight: must be greater than 0",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			s, err := Load("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Load succeeded, want errors:\n%s", strings.Join(tc.want, "\n"))
			}
			if s != nil {
				t.Errorf("Load returned a scenario along with errors")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
			for _, e := range errs {
				if e.File != "t.yaml" {
					t.Errorf("error %q names file %q", e, e.File)
				}
			}
		})
	}
}

func TestTooManyTeams(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("name: t\nteams:\n")
	for i := 1; i <= 300; i++ {
		b.WriteString("  - {name: " + AttackTeamName(i) + ", role: attack}\n")
	}
	b.WriteString("  - {name: D, role: defence}\nservices:\n  - {name: web, flag_stores: [f]}\n")
	_, err := Load("t.yaml", []byte(b.String()))
	// The network section is left out, so its errors carry no line.
	want := "t.yaml: network.docker.teams: 10.60.0.0/16 has room for 255 teams, the scenario has 301\n" +
		"t.yaml: network.local.teams: 127.60.0.0/16 has room for 255 teams, the scenario has 301\n" +
		"t.yaml:2: teams: must have at most 250 teams (got 301)"
	if err == nil || err.Error() != want {
		t.Errorf("errors:\n%v\nwant:\n%s", err, want)
	}
}

func TestValidateInCode(t *testing.T) {
	t.Parallel()
	s, err := Load("t.yaml", []byte(`name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: web
    flag_stores: [f]
`))
	if err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	c.Services[0].Weight = 0
	c.Services[0].FlagStores = append(c.Services[0].FlagStores, "f")
	err = c.Validate()
	// A field the file did not have points at the nearest one it did.
	want := "t.yaml:6: services[0].weight: must be greater than 0\n" +
		`t.yaml:7: services[0].flag_stores[1]: "f" is already listed as services[0].flag_stores[0]`
	if err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("original changed by editing the clone: %v", err)
	}

	bare := &Scenario{}
	err = bare.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "name: is required\n") {
		t.Errorf("Validate of an empty scenario: %v", err)
	}
}
