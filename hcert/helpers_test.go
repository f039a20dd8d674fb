package hcert

import (
	"encoding/hex"
	"encoding/json"
	"testing"
)

func hexBytes(s string) ([]byte, error) { return hex.DecodeString(s) }

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
