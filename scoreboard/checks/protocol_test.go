package checks

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenTask has every field set, so that the golden file pins every key.
var goldenTask = Task{TaskID: 4294967297, Method: GetFlag, Address: "10.1.2.3", TeamID: 7, TeamName: "red-7",
	CurrentRoundID: 12, RelatedRoundID: 10, Flag: Str("AAAABBBBCCCCDDDDEEEEFFFFGGGGHHH="), VariantID: 1,
	Timeout: 20000, RoundLength: 60000, TaskChainID: "flag_s2_r10_t7_i1", FlagRegex: Str("[A-Z0-9]{31}="),
	FlagHash: Str("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), AttackInfo: Str("user u123")}

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		v    any
	}{
		{"task", goldenTask},
		// Absent optional fields are sent as null, as engines expect
		// every key to be present.
		{"task_havoc", Task{TaskID: 3, Method: Havoc, Address: "10.1.2.3", TeamID: 7, TeamName: "red-7",
			CurrentRoundID: 12, RelatedRoundID: 12, Timeout: 12000, RoundLength: 60000, TaskChainID: "havoc_s2_r12_t7_i0"}},
		{"result", TaskResult{Result: OK, Message: Str("all good"), AttackInfo: Str("user u123"),
			Flag: Str("AAAABBBBCCCCDDDDEEEEFFFFGGGGHHH=")}},
		{"result_mumble", TaskResult{Result: Mumble, Message: Str("flag not found")}},
		{"service", ServiceInfo{ServiceName: "mailserver", FlagVariants: 2, NoiseVariants: 1, HavocVariants: 3,
			ExploitVariants: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s changed (run with -update if on purpose):\n%s\nwant:\n%s", path, got, want)
			}
			back := reflect.New(reflect.TypeOf(tc.v))
			if err := json.Unmarshal(want, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Elem().Interface(), tc.v) {
				t.Errorf("%s decodes to %+v, want %+v", path, back.Elem().Interface(), tc.v)
			}
		})
	}
}

func TestChainID(t *testing.T) {
	tests := []struct {
		kind    string
		service int
		round   int64
		team    int
		index   int
		want    string
	}{
		{"flag", 0, 1, 0, 0, "flag_s0_r1_t0_i0"},
		{"noise", 3, 120, 16, 2, "noise_s3_r120_t16_i2"},
		{"havoc", 1, 7, 4, 0, "havoc_s1_r7_t4_i0"},
	}
	for _, tc := range tests {
		if got := ChainID(tc.kind, tc.service, tc.round, tc.team, tc.index); got != tc.want {
			t.Errorf("ChainID(%q, %d, %d, %d, %d) = %q, want %q", tc.kind, tc.service, tc.round, tc.team, tc.index, got, tc.want)
		}
	}
}

func TestValid(t *testing.T) {
	for _, m := range []Method{PutFlag, GetFlag, PutNoise, GetNoise, Havoc, Exploit} {
		if !m.Valid() {
			t.Errorf("%q not valid", m)
		}
	}
	for _, m := range []Method{"", "PUTFLAG", "put"} {
		if m.Valid() {
			t.Errorf("%q valid", m)
		}
	}
	for _, r := range []Result{OK, Mumble, Offline, InternalError} {
		if !r.Valid() {
			t.Errorf("%q not valid", r)
		}
	}
	for _, r := range []Result{"", "ok", "ERROR"} {
		if r.Valid() {
			t.Errorf("%q valid", r)
		}
	}
}
