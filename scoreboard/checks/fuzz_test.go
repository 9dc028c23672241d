package checks

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

func FuzzDecodeTask(f *testing.F) {
	if b, err := os.ReadFile("testdata/task.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"method":"havoc","timeout":5}`))
	f.Add([]byte(`{"method":"exploit","flagHash":"ab"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		task, err := DecodeTask(bytes.NewReader(body))
		if err != nil {
			return
		}
		if !task.Method.Valid() || task.Timeout < 0 || task.RoundLength < 0 || task.VariantID < 0 {
			t.Fatalf("accepted an invalid task %+v", task)
		}
		if (task.Method == PutFlag || task.Method == GetFlag) && deref(task.Flag) == "" {
			t.Fatalf("accepted %s without a flag", task.Method)
		}
		// What was accepted survives being sent on.
		again, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeTask(bytes.NewReader(again))
		if err != nil {
			t.Fatalf("re-encoded task refused: %v\n%s", err, again)
		}
		if !reflect.DeepEqual(back, task) {
			t.Fatalf("round trip changed the task:\n%+v\n%+v", task, back)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	for _, name := range []string{"testdata/result.json", "testdata/service.json"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"result":"OFFLINE","message":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if res, err := decodeResult(body); err == nil {
			if !res.Result.Valid() {
				t.Fatalf("accepted result %q", res.Result)
			}
			again, _ := json.Marshal(res)
			if back, err := decodeResult(again); err != nil || !reflect.DeepEqual(back, res) {
				t.Fatalf("round trip: %+v, %v", back, err)
			}
		}
		if info, err := decodeInfo(body); err == nil {
			if info.validate() != nil {
				t.Fatalf("accepted service info %+v", info)
			}
		}
	})
}
