// Package certlogic evaluates CertLogic, the EU DCC business-rule
// language: a restricted subset of JsonLogic with operations for dates,
// UVCIs and dates of birth (specification 1.3.x). Evaluate takes an
// expression and a data context, both JSON values, and returns a JSON
// value or an error for an invalid expression; Validate checks an
// expression's form without data.
//
// JSON values are Go values as Decode makes them: nil, bool, string,
// int64 (integers), float64 (other numbers), []any and map[string]any.
// Date-times, which only plusTime and dccDateOfBirth make, are time.Time
// in UTC with millisecond precision.
package certlogic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/lazyre"
)

// ErrInvalid wraps every evaluation error: the expression does not follow
// the specification (or does not for this data, e.g. an `in` whose
// right-hand side is not an array). Rule engines treat it as "not passed".
var ErrInvalid = errors.New("invalid CertLogic expression")

// MaxDepth bounds the nesting of expressions and data, so that hostile
// rules cannot exhaust the stack.
const MaxDepth = 128

// Decode reads a JSON value: integers become int64, other numbers float64.
func Decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return normalise(v, 0)
}

// Normalise turns a value decoded by encoding/json (float64 or
// json.Number numbers) into the form Evaluate works on.
func Normalise(v any) (any, error) { return normalise(v, 0) }

func normalise(v any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d", MaxDepth)
	}
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", x, err)
		}
		return number(f), nil
	case float64:
		return number(x), nil
	case int:
		return int64(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			n, err := normalise(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			n, err := normalise(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	}
	return v, nil
}

// number is an integral float as int64 (JavaScript has one number type;
// 42.0 is an integer there), else the float.
func number(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// dateTimeOps are the date-time comparisons as their integer twins.
var dateTimeOps = map[string]string{"after": ">", "before": "<", "not-after": "<=", "not-before": ">="}

// timeUnits are plusTime's units.
var timeUnits = []string{"year", "month", "day", "hour"}

// infix operators and their operand counts (min, max; max 0: any).
var infix = map[string][2]int{
	"===": {2, 2}, "in": {2, 2}, "+": {2, 2}, "and": {2, 0},
	"<": {2, 3}, ">": {2, 3}, "<=": {2, 3}, ">=": {2, 3},
	"after": {2, 3}, "before": {2, 3}, "not-after": {2, 3}, "not-before": {2, 3},
}

// Evaluate evaluates expr on data. Errors wrap ErrInvalid.
func Evaluate(expr, data any) (any, error) {
	return eval(expr, data, 0)
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func eval(expr, data any, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, invalid("expression nested deeper than %d", MaxDepth)
	}
	switch e := expr.(type) {
	case string, bool, int64:
		return e, nil
	case nil:
		return nil, invalid("null is not a CertLogic expression")
	case float64:
		return nil, invalid("%v is a non-integer number", e)
	case []any:
		out := make([]any, len(e))
		for i, item := range e {
			v, err := eval(item, data, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		if len(e) != 1 {
			return nil, invalid("expression object must have exactly one key, but it has %d", len(e))
		}
		for op, values := range e {
			return evalOperation(op, values, data, depth)
		}
	}
	return nil, invalid("%T is not a CertLogic expression", expr)
}

func evalOperation(op string, values, data any, depth int) (any, error) {
	if op == "var" {
		path, ok := values.(string)
		if !ok {
			return nil, invalid(`not of the form { "var": "<path>" }`)
		}
		return access(data, path), nil
	}
	args, ok := values.([]any)
	if !ok || len(args) == 0 {
		return nil, invalid(`operation not of the form { "<operator>": [ <values...> ] }`)
	}
	ev := func(x any) (any, error) { return eval(x, data, depth+1) }
	switch op {
	// Operand counts follow the reference evaluator (certlogic-js): it
	// reads the operands it needs and ignores extra ones, so {"if": [g, a,
	// b, x]} evaluates; Validate still refuses such expressions in rules.
	case "if":
		if len(args) < 3 {
			return nil, invalid(`an "if"-operation must have 3 operands, but it has %d`, len(args))
		}
		guard, err := ev(args[0])
		if err != nil {
			return nil, err
		}
		switch truthiness(guard) {
		case truthy:
			return ev(args[1])
		case falsy:
			return ev(args[2])
		}
		return nil, invalid("if-guard evaluates to something neither truthy, nor falsy")
	case "!":
		v, err := ev(args[0])
		if err != nil {
			return nil, err
		}
		switch truthiness(v) {
		case truthy:
			return false, nil
		case falsy:
			return true, nil
		}
		return nil, invalid("operand of ! evaluates to something neither truthy, nor falsy")
	case "plusTime":
		return evalPlusTime(args, ev)
	case "reduce":
		return evalReduce(args, data, depth)
	case "extractFromUVCI":
		return evalExtractFromUVCI(args, ev)
	case "dccDateOfBirth":
		v, err := ev(args[0])
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, invalid(`operand of "dccDateOfBirth" must be a string`)
		}
		t, err := dateOfBirth(s)
		if err != nil {
			return nil, invalid("%v", err)
		}
		return t, nil
	}
	arity, ok := infix[op]
	if !ok {
		return nil, invalid("unrecognised operator: %q", op)
	}
	if len(args) < arity[0] || arity[1] > 0 && len(args) > arity[1] {
		return nil, invalid("an operation with operator %q must have %s operands, but it has %d", op, arityText(arity), len(args))
	}
	if op == "and" {
		// Lazy, left to right: the first falsy operand, else the last.
		var v any = true
		for _, a := range args {
			switch truthiness(v) {
			case falsy:
				return v, nil
			case neither:
				return nil, invalid(`all operands of an "and" operation must be either truthy or falsy`)
			}
			var err error
			if v, err = ev(a); err != nil {
				return nil, err
			}
		}
		return v, nil
	}
	vals := make([]any, len(args))
	for i, a := range args {
		v, err := ev(a)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	switch op {
	case "===":
		return strictEqual(vals[0], vals[1]), nil
	case "in":
		list, ok := vals[1].([]any)
		if !ok {
			return nil, invalid(`right-hand side of an "in" operation must be an array`)
		}
		return slices.ContainsFunc(list, func(x any) bool { return strictEqual(vals[0], x) }), nil
	case "+":
		l, lok := vals[0].(int64)
		r, rok := vals[1].(int64)
		if !lok || !rok {
			return nil, invalid(`operands of "+" must both be integers`)
		}
		return l + r, nil
	case "<", ">", "<=", ">=":
		ints := make([]int64, len(vals))
		for i, v := range vals {
			n, ok := v.(int64)
			if !ok {
				return nil, invalid("all operands of a comparison operation must be of integer type")
			}
			ints[i] = n
		}
		return chain(len(ints), func(i int) int { return cmpInt(ints[i], ints[i+1]) }, op), nil
	default: // after, before, not-after, not-before
		times := make([]time.Time, len(vals))
		for i, v := range vals {
			t, ok := v.(time.Time)
			if !ok {
				return nil, invalid("all operands of a date-time comparison must be date-times")
			}
			times[i] = t
		}
		return chain(len(times), func(i int) int { return times[i].Compare(times[i+1]) }, dateTimeOps[op]), nil
	}
}

func arityText(a [2]int) string {
	switch {
	case a[1] == 0:
		return fmt.Sprintf("at least %d", a[0])
	case a[0] == a[1]:
		return strconv.Itoa(a[0])
	}
	return fmt.Sprintf("%d or %d", a[0], a[1])
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// chain applies a comparison to neighbouring operands: a op b (op c).
func chain(n int, cmp func(i int) int, op string) bool {
	for i := 0; i+1 < n; i++ {
		c := cmp(i)
		var ok bool
		switch op {
		case "<":
			ok = c < 0
		case ">":
			ok = c > 0
		case "<=":
			ok = c <= 0
		default: // >=
			ok = c >= 0
		}
		if !ok {
			return false
		}
	}
	return true
}

// strictEqual is JavaScript's === on JSON values: primitives by value,
// arrays, objects and date-times never (they are compared by reference
// there, and every evaluation makes a new one).
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool, string:
		return a == b
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return x == float64(y)
		}
	}
	return false
}

type boolsiness int

const (
	neither boolsiness = iota
	truthy
	falsy
)

// truthiness is CertLogic's notion: false, null, "", 0, [] and {} are
// falsy; true, other strings and numbers, non-empty arrays and objects
// are truthy; anything else (a date-time) is neither.
func truthiness(v any) boolsiness {
	switch x := v.(type) {
	case nil:
		return falsy
	case bool:
		if x {
			return truthy
		}
		return falsy
	case string:
		return pick(x != "")
	case int64:
		return pick(x != 0)
	case float64:
		return pick(x != 0)
	case []any:
		return pick(len(x) > 0)
	case map[string]any:
		return pick(len(x) > 0)
	}
	return neither
}

func pick(t bool) boolsiness {
	if t {
		return truthy
	}
	return falsy
}

// access is var: a path of "."-separated fragments into data; anything
// missing is null. A fragment is read as the reference reads it
// (JavaScript's parseInt): a leading integer indexes arrays ("01" and "1x"
// are 1) and names object keys in its decimal form; "length" of an array is
// its length. Strings are not indexed (the reference yields UTF-16 code
// units; see the README).
func access(data any, path string) any {
	if path == "" {
		return data
	}
	cur := data
	for _, frag := range strings.Split(path, ".") {
		i, isIndex := parseIntPrefix(frag)
		switch x := cur.(type) {
		case map[string]any:
			if isIndex {
				frag = strconv.FormatInt(i, 10)
			}
			cur = x[frag]
		case []any:
			switch {
			case isIndex && i >= 0 && i < int64(len(x)):
				cur = x[i]
			case !isIndex && frag == "length":
				cur = int64(len(x))
			default:
				return nil
			}
		default:
			return nil
		}
	}
	return cur
}

// parseIntPrefix is JavaScript's parseInt(s, 10) for path fragments:
// optional leading white space and sign, then the leading decimal digits.
func parseIntPrefix(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\r\v\f")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg, s = s[0] == '-', s[1:]
	}
	n, digits := int64(0), 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		if n < math.MaxInt32 {
			n = n*10 + int64(s[digits]-'0')
		}
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func evalPlusTime(args []any, ev func(any) (any, error)) (any, error) {
	if len(args) < 3 {
		return nil, invalid(`a "plusTime"-operation must have 3 operands, but it has %d`, len(args))
	}
	amount, ok := args[1].(int64)
	if !ok {
		return nil, invalid(`"amount" argument (#2) of "plusTime" must be an integer`)
	}
	unit, ok := args[2].(string)
	if !ok || !slices.Contains(timeUnits, unit) {
		return nil, invalid(`"unit" argument (#3) of "plusTime" must be one of %s`, strings.Join(timeUnits, ", "))
	}
	v, err := ev(args[0])
	if err != nil {
		return nil, err
	}
	s, ok := v.(string)
	if !ok {
		return nil, invalid(`date argument of "plusTime" must be a string`)
	}
	t, err := ParseDateTime(s)
	if err != nil {
		return nil, invalid("%v", err)
	}
	return PlusTime(t, amount, unit), nil
}

// PlusTime offsets a date-time as JavaScript's Date.setUTC… functions do
// (no daylight saving time; overflowing days roll into the next month:
// 2020-02-29 plus a year is 2021-03-01).
func PlusTime(t time.Time, amount int64, unit string) time.Time {
	n := int(amount)
	switch unit {
	case "year":
		return t.AddDate(n, 0, 0)
	case "month":
		return t.AddDate(0, n, 0)
	case "day":
		return t.AddDate(0, 0, n)
	}
	return t.Add(time.Duration(amount) * time.Hour)
}

var dateTimePattern = lazyre.New(`^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{1,2}):?(\d{2})?)?$`)

// ParseDateTime reads the date and date-time formats CertLogic allows:
// YYYY and YYYY-MM (the latest day they cover, as dccDateOfBirth),
// YYYY-MM-DD, and YYYY-MM-DDThh:mm:ss with any fraction (cut to
// milliseconds) and an optional offset (Z, ±h, ±hh, ±hmm, ±hhmm, ±h:mm,
// ±hh:mm; none means Z). The result is UTC.
func ParseDateTime(s string) (time.Time, error) {
	switch len(s) {
	case 4, 7:
		return dateOfBirth(s)
	case 10:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("not an allowed date or date-time: %q", s)
		}
		return t, nil
	}
	m := dateTimePattern().FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("not an allowed date or date-time: %q", s)
	}
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	ms := 0
	if m[7] != "" {
		frac := (m[7][1:] + "00")[:3]
		ms = atoi(frac)
	}
	year, month, day := atoi(m[1]), time.Month(atoi(m[2])), atoi(m[3])
	hour, minute, sec := atoi(m[4]), atoi(m[5]), atoi(m[6])
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("not a valid date-time: %q", s)
	}
	offset := 0
	if m[8] != "" && m[8] != "Z" {
		oh, om := atoi(m[10]), atoi(m[11])
		if oh > 23 || om > 59 {
			return time.Time{}, fmt.Errorf("not a valid offset: %q", s)
		}
		offset = oh*3600 + om*60
		if m[9] == "-" {
			offset = -offset
		}
	}
	t := time.Date(year, month, day, hour, minute, sec, ms*int(time.Millisecond), time.FixedZone("", offset))
	return t.UTC(), nil
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

var dobPattern = lazyre.New(`^(\d{4})(-(\d{2})(-(\d{2}))?)?$`)

// dateOfBirth is dccDateOfBirth: the latest date a (possibly partial)
// birth date can mean — YYYY is December 31, YYYY-MM the last day of the
// month — at midnight UTC.
func dateOfBirth(s string) (time.Time, error) {
	m := dobPattern().FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("not a date of birth (YYYY, YYYY-MM or YYYY-MM-DD): %q", s)
	}
	year, _ := strconv.Atoi(m[1])
	month, day := 12, 31
	if m[3] != "" {
		month, _ = strconv.Atoi(m[3])
		if month < 1 || month > 12 {
			return time.Time{}, fmt.Errorf("not a valid date of birth: %q", s)
		}
		day = daysIn(year, time.Month(month))
	}
	if m[5] != "" {
		d, _ := strconv.Atoi(m[5])
		if d < 1 || d > day {
			return time.Time{}, fmt.Errorf("not a valid date of birth: %q", s)
		}
		day = d
	}
	return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), nil
}

func evalReduce(args []any, data any, depth int) (any, error) {
	if len(args) < 3 {
		return nil, invalid(`a "reduce"-operation must have 3 operands, but it has %d`, len(args))
	}
	operand, err := eval(args[0], data, depth+1)
	if err != nil {
		return nil, err
	}
	acc, err := eval(args[2], data, depth+1)
	if err != nil || operand == nil {
		return acc, err
	}
	list, ok := operand.([]any)
	if !ok {
		return nil, invalid("operand of reduce evaluated to a non-null non-array")
	}
	for _, cur := range list {
		if acc, err = eval(args[1], map[string]any{"current": cur, "accumulator": acc}, depth+1); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

func evalExtractFromUVCI(args []any, ev func(any) (any, error)) (any, error) {
	if len(args) < 2 {
		return nil, invalid(`an "extractFromUVCI"-operation must have 2 operands, but it has %d`, len(args))
	}
	index, ok := args[1].(int64)
	if !ok {
		return nil, invalid(`"index" argument (#2) of "extractFromUVCI" must be an integer`)
	}
	v, err := ev(args[0])
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, invalid(`"UVCI" argument (#1) of "extractFromUVCI" must be either a string or null`)
	}
	return ExtractFromUVCI(s, index), nil
}

// ExtractFromUVCI returns fragment index of a UVCI split on "/", "#" and
// ":" after an optional "URN:UVCI:" prefix, or nil when there is none.
func ExtractFromUVCI(uvci string, index int64) any {
	if index < 0 {
		return nil
	}
	uvci = strings.TrimPrefix(uvci, "URN:UVCI:")
	frags := splitUVCI(uvci)
	if index >= int64(len(frags)) {
		return nil
	}
	return frags[index]
}

func splitUVCI(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == '#' || s[i] == ':' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// MarshalResult encodes an evaluation result as JSON; date-times appear as
// JavaScript's JSON.stringify writes them (2021-06-01T00:00:00.000Z).
func MarshalResult(v any) ([]byte, error) {
	return json.Marshal(forJSON(v))
}

func forJSON(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = forJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = forJSON(e)
		}
		return out
	}
	return v
}
