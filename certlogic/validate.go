package certlogic

import (
	"fmt"
	"slices"
	"strings"

	"github.com/greenpass-dcc/greenpass/internal/lazyre"
)

// Issue is one problem Validate found: the sub-expression and what is
// wrong with it.
type Issue struct {
	Expr    any    `json:"expr"`
	Message string `json:"message"`
}

func (i Issue) Error() string { return i.Message }

var pathPattern = lazyre.New(`^([^.]+?)(\.[^.]+?)*$`)

// Validate checks an expression's form (operators, operand counts,
// literal arguments, var paths) without evaluating it, as the reference
// validator does; no issues means valid.
func Validate(expr any) []Issue { return validate(expr, 0) }

func validate(expr any, depth int) []Issue {
	issue := func(format string, a ...any) []Issue {
		return []Issue{{Expr: expr, Message: fmt.Sprintf(format, a...)}}
	}
	if depth > MaxDepth {
		return issue("expression nested deeper than %d", MaxDepth)
	}
	switch e := expr.(type) {
	case string, bool, int64:
		return nil
	case float64:
		return issue("%v is a non-integer number", e)
	case nil:
		return issue("invalid CertLogic expression")
	case []any:
		var out []Issue
		for _, x := range e {
			out = append(out, validate(x, depth+1)...)
		}
		return out
	case map[string]any:
		if len(e) != 1 {
			return issue("expression object must have exactly one key, but it has %d", len(e))
		}
		for op, values := range e {
			return validateOperation(expr, op, values, depth)
		}
	}
	return issue("invalid CertLogic expression")
}

func validateOperation(expr any, op string, values any, depth int) []Issue {
	var out []Issue
	add := func(format string, a ...any) {
		out = append(out, Issue{Expr: expr, Message: fmt.Sprintf(format, a...)})
	}
	sub := func(xs []any) {
		for _, x := range xs {
			out = append(out, validate(x, depth+1)...)
		}
	}
	if op == "var" {
		path, ok := values.(string)
		switch {
		case !ok:
			add(`not of the form { "var": "<path>" }`)
		case path != "" && !pathPattern().MatchString(path):
			add("data access path doesn't have a valid format: %s", path)
		}
		return out
	}
	args, ok := values.([]any)
	if !ok {
		add(`operation not of the form { "<operator>": [ <values...> ] }`)
		return out
	}
	first := func(n int) []any { return args[:min(n, len(args))] }
	switch op {
	case "if", "reduce":
		if len(args) != 3 {
			add(`an %q-operation must have exactly 3 values/operands, but it has %d`, op, len(args))
		}
		sub(first(3))
	case "!", "dccDateOfBirth":
		if len(args) != 1 {
			add(`a %q-operation must have exactly 1 operand, but it has %d`, op, len(args))
			return out
		}
		sub(args)
	case "plusTime":
		if len(args) != 3 {
			add(`a "plusTime"-operation must have exactly 3 values/operands, but it has %d`, len(args))
		}
		sub(first(1))
		if len(args) > 1 {
			if _, ok := args[1].(int64); !ok {
				add(`"amount" argument (#2) of "plusTime" must be an integer, but it is: %v`, args[1])
			}
		}
		if len(args) > 2 {
			if u, ok := args[2].(string); !ok || !slices.Contains(timeUnits, u) {
				add(`"unit" argument (#3) of "plusTime" must be a string equal to one of %s, but it is: %v`, strings.Join(timeUnits, ", "), args[2])
			}
		}
	case "extractFromUVCI":
		if len(args) != 2 {
			add(`an "extractFromUVCI"-operation must have exactly 2 values/operands, but it has %d`, len(args))
		}
		sub(first(1))
		if len(args) > 1 {
			if _, ok := args[1].(int64); !ok {
				add(`"index" argument (#2) of "extractFromUVCI" must be an integer, but it is: %v`, args[1])
			}
		}
	default:
		arity, ok := infix[op]
		if !ok {
			add("unrecognised operator: %q", op)
			return out
		}
		if len(args) < arity[0] || arity[1] > 0 && len(args) > arity[1] {
			add("an operation with operator %q must have %s operands, but it has %d", op, arityText(arity), len(args))
		}
		if arity[1] > 0 {
			sub(first(arity[1]))
		} else {
			sub(args)
		}
	}
	return out
}
