package certlogic

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// Cases written from the specification text (1.3.x), for what the shared
// suites do not cover: date-times, plusTime's formats and overflow,
// dccDateOfBirth, extractFromUVCI, reduce, truthiness of every kind of
// value, and the errors of invalid expressions.
func TestSpecification(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse("2006-01-02T15:04:05.000Z", s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		name string
		expr string
		data string
		want any // errors.Is(err, ErrInvalid) when want is errInvalid
	}{
		// plusTime: formats, offsets, fractions, units, overflow.
		{"date at midnight UTC", `{"plusTime":["2021-06-01",0,"day"]}`, `null`, utc("2021-06-01T00:00:00.000Z")},
		{"year only: December 31", `{"plusTime":["2004",0,"day"]}`, `null`, utc("2004-12-31T00:00:00.000Z")},
		{"year-month: last day", `{"plusTime":["2004-02",0,"day"]}`, `null`, utc("2004-02-29T00:00:00.000Z")},
		{"no zone means Z", `{"plusTime":["2021-06-01T10:20:30",0,"hour"]}`, `null`, utc("2021-06-01T10:20:30.000Z")},
		{"fraction cut to ms", `{"plusTime":["2021-06-01T10:20:30.123999Z",0,"hour"]}`, `null`, utc("2021-06-01T10:20:30.123Z")},
		{"one-digit fraction", `{"plusTime":["2021-06-01T10:20:30.5Z",0,"hour"]}`, `null`, utc("2021-06-01T10:20:30.500Z")},
		{"offset +h", `{"plusTime":["2021-06-01T10:00:00+2",0,"hour"]}`, `null`, utc("2021-06-01T08:00:00.000Z")},
		{"offset -hh:mm", `{"plusTime":["2021-06-01T10:00:00-05:30",0,"hour"]}`, `null`, utc("2021-06-01T15:30:00.000Z")},
		{"offset +hmm", `{"plusTime":["2021-06-01T10:00:00+130",0,"hour"]}`, `null`, utc("2021-06-01T08:30:00.000Z")},
		{"offset +hhmm", `{"plusTime":["2021-06-01T10:00:00+0200",0,"hour"]}`, `null`, utc("2021-06-01T08:00:00.000Z")},
		{"offset +h:mm", `{"plusTime":["2021-06-01T10:00:00+1:00",0,"hour"]}`, `null`, utc("2021-06-01T09:00:00.000Z")},
		{"hours across days", `{"plusTime":["2021-06-01T22:00:00Z",48,"hour"]}`, `null`, utc("2021-06-03T22:00:00.000Z")},
		{"negative days", `{"plusTime":["2021-03-01",-1,"day"]}`, `null`, utc("2021-02-28T00:00:00.000Z")},
		{"leap day plus a day", `{"plusTime":["2020-02-29",1,"day"]}`, `null`, utc("2020-03-01T00:00:00.000Z")},
		{"leap day plus a month", `{"plusTime":["2020-02-29",1,"month"]}`, `null`, utc("2020-03-29T00:00:00.000Z")},
		{"leap day plus a year rolls over", `{"plusTime":["2020-02-29",1,"year"]}`, `null`, utc("2021-03-01T00:00:00.000Z")},
		{"January 31 plus a month rolls over", `{"plusTime":["2021-01-31",1,"month"]}`, `null`, utc("2021-03-03T00:00:00.000Z")},
		{"no DST: 24 hours are a day", `{"plusTime":["2021-03-27T12:00:00+01:00",24,"hour"]}`, `null`, utc("2021-03-28T11:00:00.000Z")},
		{"date from data", `{"plusTime":[{"var":"d"},1,"day"]}`, `{"d":"2021-06-01T00:00:00Z"}`, utc("2021-06-02T00:00:00.000Z")},
		{"not a date", `{"plusTime":["01.06.2021",0,"day"]}`, `null`, errInvalid},
		{"impossible date", `{"plusTime":["2021-02-30",0,"day"]}`, `null`, errInvalid},
		{"null date", `{"plusTime":[{"var":"x"},0,"day"]}`, `{}`, errInvalid},
		{"amount must be a literal integer", `{"plusTime":["2021-06-01",{"var":"n"},"day"]}`, `{"n":1}`, errInvalid},
		{"unknown unit", `{"plusTime":["2021-06-01",1,"week"]}`, `null`, errInvalid},

		// Date-time comparisons, binary and ternary.
		{"after", `{"after":[{"plusTime":["2021-06-02",0,"day"]},{"plusTime":["2021-06-01",0,"day"]}]}`, `null`, true},
		{"before equal", `{"before":[{"plusTime":["2021-06-01",0,"day"]},{"plusTime":["2021-06-01T00:00:00Z",0,"day"]}]}`, `null`, false},
		{"not-after equal", `{"not-after":[{"plusTime":["2021-06-01",0,"day"]},{"plusTime":["2021-06-01T02:00:00+02:00",0,"day"]}]}`, `null`, true},
		{"not-before ternary", `{"not-before":[{"plusTime":["2021-06-03",0,"day"]},{"plusTime":["2021-06-02",0,"day"]},{"plusTime":["2021-06-02",0,"day"]}]}`, `null`, true},
		{"before ternary out of order", `{"before":[{"plusTime":["2021-06-01",0,"day"]},{"plusTime":["2021-06-03",0,"day"]},{"plusTime":["2021-06-02",0,"day"]}]}`, `null`, false},
		{"date-time against string", `{"after":[{"plusTime":["2021-06-02",0,"day"]},"2021-06-01"]}`, `null`, errInvalid},
		{"integer comparison of dates", `{">":[{"plusTime":["2021-06-02",0,"day"]},{"plusTime":["2021-06-01",0,"day"]}]}`, `null`, errInvalid},
		{"four operands", `{"<":[1,2,3,4]}`, `null`, errInvalid},
		{"comparison with null", `{"<":[{"var":"x"},1]}`, `{}`, errInvalid},

		// dccDateOfBirth.
		{"dob full", `{"dccDateOfBirth":[{"var":"dob"}]}`, `{"dob":"1990-05-17"}`, utc("1990-05-17T00:00:00.000Z")},
		{"dob year-month", `{"dccDateOfBirth":[{"var":"dob"}]}`, `{"dob":"1990-04"}`, utc("1990-04-30T00:00:00.000Z")},
		{"dob year", `{"dccDateOfBirth":[{"var":"dob"}]}`, `{"dob":"1990"}`, utc("1990-12-31T00:00:00.000Z")},
		{"dob empty", `{"dccDateOfBirth":[{"var":"dob"}]}`, `{"dob":""}`, errInvalid},
		{"dob with time", `{"dccDateOfBirth":["1990-05-17T10:00:00Z"]}`, `null`, errInvalid},
		{"minor by dob", `{"after":[{"dccDateOfBirth":[{"var":"dob"}]},{"plusTime":[{"var":"clock"},-18,"year"]}]}`,
			`{"dob":"2004-06","clock":"2022-06-29T23:00:00Z"}`, true},
		{"date-time not fed back into plusTime", `{"plusTime":[{"dccDateOfBirth":["2004"]},18,"year"]}`, `null`, errInvalid},

		// extractFromUVCI.
		{"uvci country", `{"extractFromUVCI":[{"var":"ci"},1]}`, `{"ci":"URN:UVCI:01:NL:187/37512422923#Z"}`, "NL"},
		{"uvci issuer part", `{"extractFromUVCI":[{"var":"ci"},2]}`, `{"ci":"URN:UVCI:01:NL:187/37512422923#Z"}`, "187"},
		{"uvci checksum", `{"extractFromUVCI":[{"var":"ci"},4]}`, `{"ci":"URN:UVCI:01:NL:187/37512422923#Z"}`, "Z"},
		{"uvci past the end", `{"extractFromUVCI":[{"var":"ci"},5]}`, `{"ci":"URN:UVCI:01:NL:187/37512422923#Z"}`, nil},
		{"uvci without prefix", `{"extractFromUVCI":["01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W",1]}`, `null`, "IZ12345A"},
		{"uvci empty fragments", `{"extractFromUVCI":["a::c/#/f",3]}`, `null`, ""},
		{"uvci sixth fragment", `{"extractFromUVCI":["a::c/#/f",5]}`, `null`, "f"},
		{"uvci lower-case prefix kept", `{"extractFromUVCI":["urn:uvci:01:AT",0]}`, `null`, "urn"},
		{"uvci null", `{"extractFromUVCI":[{"var":"ci"},0]}`, `{}`, nil},
		{"uvci negative index", `{"extractFromUVCI":["a/b",-1]}`, `null`, nil},
		{"uvci number", `{"extractFromUVCI":[42,0]}`, `null`, errInvalid},
		{"uvci index from data", `{"extractFromUVCI":["a/b",{"var":"i"}]}`, `{"i":0}`, errInvalid},

		// reduce.
		{"count doses", `{"reduce":[{"var":"v"},{"+":[{"var":"accumulator"},{"var":"current.dn"}]},0]}`, `{"v":[{"dn":1},{"dn":2}]}`, int64(3)},
		{"reduce empty", `{"reduce":[[],{"+":[{"var":"accumulator"},1]},7]}`, `null`, int64(7)},
		{"reduce null", `{"reduce":[{"var":"missing"},{"+":[{"var":"accumulator"},1]},7]}`, `{}`, int64(7)},
		{"reduce string", `{"reduce":["abc",{"var":"current"},0]}`, `null`, errInvalid},
		{"reduce sees only current and accumulator", `{"reduce":[[1],{"var":"outer"},0]}`, `{"outer":5}`, nil},

		// Truthiness and and/if/!.
		{"empty object falsy", `{"if":[{"var":"o"},1,2]}`, `{"o":{}}`, int64(2)},
		{"non-empty object truthy", `{"if":[{"var":"o"},1,2]}`, `{"o":{"a":null}}`, int64(1)},
		{"date-time neither", `{"if":[{"plusTime":["2021-01-01",0,"day"]},1,2]}`, `null`, errInvalid},
		{"! of a date-time", `{"!":[{"plusTime":["2021-01-01",0,"day"]}]}`, `null`, errInvalid},
		{"and stops at the first falsy", `{"and":[false,{"unknown-op":[1]}]}`, `null`, false},
		{"and with a date-time operand", `{"and":[{"plusTime":["2021-01-01",0,"day"]},true]}`, `null`, errInvalid},
		{"and of one operand", `{"and":[true]}`, `null`, errInvalid},
		{"if with two operands", `{"if":[true,1]}`, `null`, errInvalid},
		{"float truthy", `{"if":[{"var":"f"},1,2]}`, `{"f":0.5}`, int64(1)},

		// Equality, in, +.
		{"=== no coercion", `{"===":[1,"1"]}`, `null`, false},
		{"=== null", `{"===":[{"var":"a"},{"var":"b"}]}`, `{}`, true},
		{"=== arrays never", `{"===":[[1],[1]]}`, `null`, false},
		{"=== float and int", `{"===":[{"var":"x"},1]}`, `{"x":1.0}`, true},
		{"in data list", `{"in":[{"var":"v.0.mp"},{"var":"products"}]}`, `{"v":[{"mp":"EU/1/20/1528"}],"products":["EU/1/20/1528"]}`, true},
		{"in a string", `{"in":["a","abc"]}`, `null`, errInvalid},
		{"+ of strings", `{"+":["1",2]}`, `null`, errInvalid},
		{"+ of three", `{"+":[1,2,3]}`, `null`, errInvalid},

		// var.
		{"var index into object key", `{"var":"a.0"}`, `{"a":{"0":"zero"}}`, "zero"},
		{"var into a string", `{"var":"a.0"}`, `{"a":"xyz"}`, nil},
		{"var negative index", `{"var":"a.-1"}`, `{"a":[1]}`, nil},
		{"var with default is not CertLogic", `{"var":["a",1]}`, `{"a":2}`, errInvalid},

		// Parity with the reference evaluator (certlogic-js 1.2.2): only the
		// branch taken is evaluated, extra operands are ignored, and var
		// reads fragments as parseInt does.
		{"if: the branch not taken may not evaluate", `{"if":[false,{"plusTime":["2021-06-01",{"var":"v.0.dn"},"month"]},true]}`, `{"v":[{"dn":2}]}`, true},
		{"if: the branch taken still fails", `{"if":[true,{"plusTime":["2021-06-01",{"var":"v.0.dn"},"month"]},true]}`, `{"v":[{"dn":2}]}`, errInvalid},
		{"if with 4 operands", `{"if":[true,1,2,3]}`, `null`, int64(1)},
		{"if with 2 operands", `{"if":[true,1]}`, `null`, errInvalid},
		{"! with 2 operands", `{"!":[false,true]}`, `null`, true},
		{"plusTime with 4 operands", `{"plusTime":["2021-06-01",1,"day","x"]}`, `null`, utc("2021-06-02T00:00:00.000Z")},
		{"reduce with 4 operands", `{"reduce":[[1,2],{"+":[{"var":"accumulator"},{"var":"current"}]},0,9]}`, `null`, int64(3)},
		{"extractFromUVCI with 3 operands", `{"extractFromUVCI":["URN:UVCI:01:DE:X",1,7]}`, `null`, "DE"},
		{"var index with a leading zero", `{"var":"a.01"}`, `{"a":[1,2]}`, int64(2)},
		{"var index with a suffix", `{"var":"a.1x"}`, `{"a":[1,2]}`, int64(2)},
		{"var length of an array", `{"var":"a.length"}`, `{"a":[1,2,3]}`, int64(3)},
		{"var numeric key in its decimal form", `{"var":"a.01"}`, `{"a":{"1":"one","01":"zero-one"}}`, "one"},

		// Invalid expressions.
		{"null literal", `null`, `null`, errInvalid},
		{"float literal", `1.5`, `null`, errInvalid},
		{"two keys", `{"var":"a","if":[]}`, `null`, errInvalid},
		{"empty operands", `{"and":[]}`, `null`, errInvalid},
		{"or is not CertLogic", `{"or":[true,false]}`, `null`, errInvalid},
		{"== is not CertLogic", `{"==":[1,1]}`, `null`, errInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expr, err := Decode([]byte(tc.expr))
			if err != nil {
				t.Fatal(err)
			}
			data, err := Decode([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Evaluate(expr, data)
			if tc.want == errInvalid {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("got %#v, %v; want an ErrInvalid", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v, want %#v", err, tc.want)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// errInvalid marks cases that must fail with ErrInvalid.
var errInvalid = struct{ invalid bool }{true}

func TestValidateOwnCases(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		issues int
	}{
		{`{"plusTime":[{"var":"d"},1,"day"]}`, 0},
		{`{"plusTime":[{"var":"d"},"1","day"]}`, 1},
		{`{"plusTime":[{"var":"d"},1,"week"]}`, 1},
		{`{"plusTime":[{"var":"d"},1]}`, 1},
		{`{"extractFromUVCI":[{"var":"ci"},1.5]}`, 1},
		{`{"dccDateOfBirth":[{"var":"dob"}]}`, 0},
		{`{"dccDateOfBirth":[]}`, 1},
		{`{"and":[{"var":"a"}]}`, 1},
		{`{"if":[true,{"nope":[1]},2]}`, 1},
		{`{"if":[true,1,2,3]}`, 1},
		{`{"!":[true,false]}`, 1},
		{`{"if":[false,{"plusTime":["2021-06-01",{"var":"n"},"month"]},true]}`, 1},
		{`{"reduce":[{"var":"v"},{"+":[{"var":"accumulator"},{"var":"current"}]},0]}`, 0},
		{`{"<":[1,{"var":"x."}]}`, 1},
		{`[1,{"var":0},null]`, 2},
	} {
		expr, err := Decode([]byte(tc.expr))
		if err != nil {
			t.Fatal(err)
		}
		if got := Validate(expr); len(got) != tc.issues {
			t.Errorf("Validate(%s) = %v, want %d issues", tc.expr, got, tc.issues)
		}
	}
}

func TestMarshalResult(t *testing.T) {
	v, _ := Evaluate(mustDecode(t, `[{"plusTime":["2021-06-01T10:00:00.5+02:00",0,"hour"]},1,"x"]`), nil)
	b, err := MarshalResult(v)
	if err != nil || string(b) != `["2021-06-01T08:00:00.500Z",1,"x"]` {
		t.Fatalf("%s, %v", b, err)
	}
}

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
