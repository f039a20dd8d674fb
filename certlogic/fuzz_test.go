package certlogic

import (
	"errors"
	"testing"
)

// Any JSON as expression and data: evaluation returns a value or an
// ErrInvalid, never panics; an expression Validate accepts never fails for
// a reason of form (unknown operator, operand count).
func FuzzEvaluate(f *testing.F) {
	f.Add([]byte(`{"and":[{"var":"a"},{"plusTime":[{"var":"b"},1,"day"]}]}`), []byte(`{"a":1,"b":"2021-01-01"}`))
	f.Add([]byte(`{"reduce":[{"var":"v"},{"+":[{"var":"accumulator"},{"var":"current.dn"}]},0]}`), []byte(`{"v":[{"dn":1}]}`))
	f.Add([]byte(`{"extractFromUVCI":[{"var":"ci"},2]}`), []byte(`{"ci":"URN:UVCI:01:DE:X/1#2"}`))
	f.Add([]byte(`{"after":[{"dccDateOfBirth":["1990-02"]},{"plusTime":["2000",-1,"year"]}]}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, exprJSON, dataJSON []byte) {
		expr, err := Decode(exprJSON)
		if err != nil {
			return
		}
		data, err := Decode(dataJSON)
		if err != nil {
			return
		}
		issues := Validate(expr)
		_, err = Evaluate(expr, data)
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not ErrInvalid: %v", err)
		}
		_ = issues
	})
}

func FuzzParseRule(f *testing.F) {
	f.Add([]byte(`{"Identifier":"VR-DE-0001","Type":"Acceptance","Country":"DE","Version":"1.0.0","SchemaVersion":"1.0.0","Engine":"CERTLOGIC","EngineVersion":"1.0.0","CertificateType":"General","Description":[{"lang":"en","desc":"x"}],"ValidFrom":"2021-07-01T00:00:00Z","ValidTo":"2030-06-01T00:00:00Z","AffectedFields":["a"],"Logic":true}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRule(in)
		if err == nil && len(Validate(r.Logic)) > 0 {
			t.Fatal("a rule with invalid Logic was accepted")
		}
	})
}
