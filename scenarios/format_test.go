package scenarios

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fencedAfter returns the first fenced block after marker in doc.
func fencedAfter(t *testing.T, doc, marker string) string {
	t.Helper()
	_, rest, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("FORMAT.md lacks %s", marker)
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("no fenced block after %s", marker)
	}
	return block
}

// FORMAT.md shows a minimal file and what it means with the defaults filled
// in; both must stay true.
func TestFormatDocumentsDefaults(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	s, err := Load("FORMAT.md", []byte(fencedAfter(t, doc, "<!-- minimal -->")))
	if err != nil {
		t.Fatalf("the minimal example does not load: %v", err)
	}
	if got, want := string(s.Canonical()), fencedAfter(t, doc, "<!-- minimal-expanded -->"); got != want {
		t.Errorf("FORMAT.md's expanded example is out of date; it should read:\n%s", got)
	}
}

// Every key the format has appears in FORMAT.md.
func TestFormatDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("FORMAT.md")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(s.Canonical(), &root); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				keys[c.Value] = true
				continue
			}
			// Port names and options are the author's own keys.
			if n.Kind == yaml.MappingNode {
				if k := n.Content[i-1].Value; k == "options" || k == "ports" {
					continue
				}
			}
			walk(c)
		}
	}
	walk(&root)
	if len(keys) < 35 {
		t.Fatalf("found only %d keys in the canonical form", len(keys))
	}
	for k := range keys {
		if !strings.Contains(string(data), "`"+k+"`") {
			t.Errorf("FORMAT.md does not document `%s`", k)
		}
	}
}
