package certlogic

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/testdata"
)

// The official evaluator suite (../shared/testdata/certlogic/testSuite):
// every assertion evaluates to its expected value; skip directives are
// honoured and counted.
func TestOfficialSuite(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata.Dir(t, "certlogic"), "testSuite", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test suite files: %v", err)
	}
	type assertion struct {
		Expr      json.RawMessage `json:"certLogicExpression"`
		Data      json.RawMessage `json:"data"`
		Expected  json.RawMessage `json:"expected"`
		Message   string          `json:"message"`
		Directive string          `json:"directive"`
	}
	var suite struct {
		Name      string `json:"name"`
		Directive string `json:"directive"`
		Cases     []struct {
			Name       string          `json:"name"`
			Expr       json.RawMessage `json:"certLogicExpression"`
			Directive  string          `json:"directive"`
			Assertions []assertion     `json:"assertions"`
		} `json:"cases"`
	}
	ran, skipped := 0, 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		suite.Cases = nil
		suite.Directive = ""
		if err := json.Unmarshal(raw, &suite); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range suite.Cases {
			for i, a := range c.Assertions {
				if suite.Directive == "skip" || c.Directive == "skip" || a.Directive == "skip" {
					skipped++
					continue
				}
				exprRaw := c.Expr
				if len(a.Expr) > 0 {
					exprRaw = a.Expr
				}
				expr, err1 := Decode(exprRaw)
				data, err2 := Decode(orNull(a.Data))
				want, err3 := Decode(a.Expected)
				if err1 != nil || err2 != nil || err3 != nil {
					t.Fatalf("%s / %s #%d: decode: %v %v %v", suite.Name, c.Name, i, err1, err2, err3)
				}
				got, err := Evaluate(expr, data)
				ran++
				if err != nil {
					t.Errorf("%s / %s #%d: %v", suite.Name, c.Name, i, err)
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s / %s #%d (%s): got %#v, want %#v", suite.Name, c.Name, i, a.Message, got, want)
				}
			}
		}
	}
	t.Logf("%d assertions in %d files passed, %d skipped by directive", ran, len(files), skipped)
	if ran < 150 {
		t.Fatalf("only %d assertions ran", ran)
	}
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// The official validation suite: the issues found name the same
// sub-expressions (messages are the implementation's own words).
func TestOfficialValidationSuite(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata.Dir(t, "certlogic"), "validation-testSuite", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no validation suite files: %v", err)
	}
	n := 0
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var suite struct {
			Cases []struct {
				Expr   json.RawMessage `json:"certLogicExpression"`
				Issues []struct {
					Expr    json.RawMessage `json:"expr"`
					Message string          `json:"message"`
				} `json:"issues"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(raw, &suite); err != nil {
			t.Fatal(err)
		}
		for _, c := range suite.Cases {
			n++
			expr, err := Decode(orNull(c.Expr))
			if err != nil {
				t.Fatal(err)
			}
			got := Validate(expr)
			if len(got) != len(c.Issues) {
				t.Errorf("%s %s: %d issues %v, want %d", filepath.Base(f), c.Expr, len(got), got, len(c.Issues))
				continue
			}
			for i, want := range c.Issues {
				wantExpr, _ := Decode(orNull(want.Expr))
				if !reflect.DeepEqual(got[i].Expr, wantExpr) {
					t.Errorf("%s %s: issue %d about %v, want %v", filepath.Base(f), c.Expr, i, got[i].Expr, wantExpr)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d validation cases", n)
	}
}
