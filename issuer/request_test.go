package issuer

import (
	"errors"
	"strings"
	"testing"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/valueset"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, body, wantMsg string
	}{
		{"empty", ``, "empty body"},
		{"not an object", `[1]`, "JSON object is expected"},
		{"syntax", `{"nam":`, "ends too early"},
		{"bad token", `{"nam": x}`, "invalid JSON at byte"},
		{"unknown field", `{"nam":{},"foo":1}`, `unknown field "foo"`},
		{"server field", `{"nam":{},"v":[{"ci":"URN:UVCI:01:DE:X"}]}`, `"ci" is filled by the server`},
		{"wrong type", `{"v":[{"dn":"2"}]}`, "field v.dn: expected int"},
		{"fraction", `{"v":[{"dn":1.5}]}`, "field v.dn"},
		{"trailing", `{"nam":{}} {}`, "data after the JSON object"},
	}
	for _, tt := range tests {
		_, err := ParseRequest([]byte(tt.body))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: %v, want ErrMalformed with %q", tt.name, err, tt.wantMsg)
		}
	}
	// Values of the body never appear in messages.
	_, err := ParseRequest([]byte(`{"nam":{"fn":"Geheimname"},"dob":19980226}`))
	if err == nil || strings.Contains(err.Error(), "Geheimname") || strings.Contains(err.Error(), "19980226") {
		t.Errorf("message %v", err)
	}
	r, err := ParseRequest([]byte(`{"nam":{"fn":"A"},"dob":"1990","v":[{"tg":"840539006","dn":1}]}`))
	if err != nil || r.Name.Family != "A" || r.Vaccinations[0].DoseNumber != 1 {
		t.Errorf("valid body: %+v, %v", r, err)
	}
}

func TestValidate(t *testing.T) {
	vs := valueset.Builtin()
	tests := []struct {
		name   string
		change func(*Request) *Request
		fields []string // the fields reported, in order; none = valid
	}{
		{"valid vaccination", func(r *Request) *Request { return r }, nil},
		{"valid test", func(*Request) *Request { return testRequest() }, nil},
		{"valid recovery", func(*Request) *Request { return recoveryRequest() }, nil},
		{"no group", func(r *Request) *Request { r.Vaccinations = nil; return r }, []string{"v|t|r"}},
		{"two groups", func(r *Request) *Request { r.Tests = testRequest().Tests; return r }, []string{"v|t|r"}},
		{"two entries", func(r *Request) *Request { r.Vaccinations = append(r.Vaccinations, r.Vaccinations[0]); return r }, []string{"v"}},
		{"no family name", func(r *Request) *Request { r.Name.Family = ""; return r }, []string{"nam.fn"}},
		{"fnt only", func(r *Request) *Request { r.Name = NameInput{FamilyStandard: "MUSTER"}; return r }, nil},
		{"bad fnt", func(r *Request) *Request { r.Name.FamilyStandard = "Muster"; return r }, []string{"nam.fnt"}},
		{"untransliterable", func(r *Request) *Request { r.Name.Family = "王"; return r }, []string{"nam.fnt"}},
		{"untransliterable with fnt", func(r *Request) *Request { r.Name.Family, r.Name.FamilyStandard = "王", "WANG"; return r }, nil},
		{"long name", func(r *Request) *Request { r.Name.Given = strings.Repeat("ä", 81); return r }, []string{"nam.gn"}},
		{"control char", func(r *Request) *Request { r.Name.Given = "a\x00b"; return r }, []string{"nam.gn"}},
		{"replacement char", func(r *Request) *Request { r.Name.Family = "M\uFFFDller"; return r }, []string{"nam.fn"}},
		{"bidi override", func(r *Request) *Request { r.Name.Family = "Muster\u202Eresum"; return r }, []string{"nam.fn"}},
		{"bidi isolate", func(r *Request) *Request { r.Name.Given = "\u2067Erika\u2069"; return r }, []string{"nam.gn"}},
		{"right-to-left mark", func(r *Request) *Request { r.Name.Given = "Erika\u200F"; return r }, []string{"nam.gn"}},
		{"zero-width space", func(r *Request) *Request { r.Name.Family = "Mus\u200Bter"; return r }, []string{"nam.fn"}},
		{"soft hyphen", func(r *Request) *Request { r.Name.Family = "Mus\u00ADter"; return r }, []string{"nam.fn"}},
		{"zero-width joiner alone", func(r *Request) *Request { r.Name.Given = "\u200DErika"; return r }, []string{"nam.gn"}},
		{"private use", func(r *Request) *Request { r.Name.Given = "Eri\uE000ka"; return r }, []string{"nam.gn"}},
		{"invisible test name", func(*Request) *Request { r := testRequest(); r.Tests[0].TestName = "PCR\u2060"; return r }, []string{"t[0].nm"}},
		{"real names", func(r *Request) *Request {
			r.Name = NameInput{Family: "Łukasiewicz-Ø'Brien", FamilyStandard: "LUKASIEWICZ<O<BRIEN", Given: "Jürgen Groß"}
			return r
		}, nil},
		{"combining marks and CJK", func(r *Request) *Request {
			r.Name = NameInput{Family: "Nguye\u0302\u0303n 王", FamilyStandard: "NGUYEN<WANG", Given: "D'Arcy"}
			return r
		}, nil},
		{"Persian name with a zero-width non-joiner", func(r *Request) *Request {
			r.Name = NameInput{Family: "\u0645\u06CC\u200C\u0631\u0632\u0627", FamilyStandard: "MIRZA"}
			return r
		}, nil},
		{"dob partial", func(r *Request) *Request { r.DateOfBirth = "1998-02"; return r }, nil},
		{"dob format", func(r *Request) *Request { r.DateOfBirth = "26.02.1998"; return r }, []string{"dob"}},
		{"dob impossible", func(r *Request) *Request { r.DateOfBirth = "1998-02-30"; return r }, []string{"dob"}},
		{"dob future", func(r *Request) *Request { r.DateOfBirth = "2027-01-01"; return r }, []string{"dob"}},
		{"dob empty", func(r *Request) *Request { r.DateOfBirth = ""; return r }, []string{"dob"}},
		{"unknown vaccine", func(r *Request) *Request { r.Vaccinations[0].Vaccine = "123"; return r }, []string{"v[0].vp"}},
		{"deprecated product", func(r *Request) *Request { r.Vaccinations[0].Product = "NVX-CoV2373"; return r }, []string{"v[0].mp"}},
		{"unknown holder", func(r *Request) *Request { r.Vaccinations[0].Manufacturer = "ACME"; return r }, []string{"v[0].ma"}},
		{"wrong disease", func(r *Request) *Request { r.Vaccinations[0].Target = "1"; return r }, []string{"v[0].tg"}},
		{"dose 0 of 10", func(r *Request) *Request {
			r.Vaccinations[0].DoseNumber, r.Vaccinations[0].TotalDoses = 0, 10
			return r
		},
			[]string{"v[0].dn", "v[0].sd"}},
		{"vaccinated in the future", func(r *Request) *Request { r.Vaccinations[0].Date = "2026-12-01"; return r }, []string{"v[0].dt"}},
		{"vaccinated in 2019", func(r *Request) *Request { r.Vaccinations[0].Date = "2019-12-01"; return r }, []string{"v[0].dt"}},
		{"test type", func(*Request) *Request { r := testRequest(); r.Tests[0].TestType = "X"; return r }, []string{"t[0].tt"}},
		{"RAT without device", func(*Request) *Request { r := testRequest(); r.Tests[0].Device = ""; return r }, []string{"t[0].ma"}},
		{"NAAT with device", func(*Request) *Request { r := testRequest(); r.Tests[0].TestType = testNAAT; return r }, []string{"t[0].ma"}},
		{"result", func(*Request) *Request { r := testRequest(); r.Tests[0].Result = "negative"; return r }, []string{"t[0].tr"}},
		{"sc without zone", func(*Request) *Request { r := testRequest(); r.Tests[0].SampledAt = "2026-11-23T09:35:00"; return r }, []string{"t[0].sc"}},
		{"sc date only", func(*Request) *Request { r := testRequest(); r.Tests[0].SampledAt = "2026-11-23"; return r }, []string{"t[0].sc"}},
		{"sc future", func(*Request) *Request {
			r := testRequest()
			r.Tests[0].SampledAt = "2026-11-23T12:00:00+01:00"
			return r
		}, []string{"t[0].sc"}},
		{"dose abroad", func(r *Request) *Request { r.Vaccinations[0].Country = "AT"; return r }, nil},
		{"test abroad", func(*Request) *Request { r := testRequest(); r.Tests[0].Country = "VA"; return r }, nil},
		{"recovery abroad", func(*Request) *Request { r := recoveryRequest(); r.Recoveries[0].Country = "FR"; return r }, nil},
		{"co not a country", func(r *Request) *Request { r.Vaccinations[0].Country = "EU"; return r }, []string{"v[0].co"}},
		{"co lower case", func(*Request) *Request { r := testRequest(); r.Tests[0].Country = "at"; return r }, []string{"t[0].co"}},
		{"df before fr", func(*Request) *Request { r := recoveryRequest(); r.Recoveries[0].ValidFrom = "2026-09-01"; return r }, []string{"r[0].df"}},
		{"du before df", func(*Request) *Request { r := recoveryRequest(); r.Recoveries[0].ValidUntil = "2026-10-11"; return r }, []string{"r[0].du"}},
		{"du too late", func(*Request) *Request { r := recoveryRequest(); r.Recoveries[0].ValidUntil = "2027-04-01"; return r }, []string{"r[0].du"}},
		{"fr missing", func(*Request) *Request { r := recoveryRequest(); r.Recoveries[0].FirstPositive = ""; return r }, []string{"r[0].fr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.change(vaccinationRequest()).Validate(vs, testNow)
			var got []string
			var se hcert.SchemaError
			if errors.As(err, &se) {
				for _, fe := range se {
					got = append(got, fe.Field)
				}
			} else if err != nil {
				t.Fatalf("error %v is not a SchemaError", err)
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("fields %v (%v), want %v", got, err, tt.fields)
			}
			if err != nil && (strings.Contains(err.Error(), "Musterfrau") || strings.Contains(err.Error(), "1998")) {
				t.Errorf("message quotes personal data: %v", err)
			}
		})
	}
}

// Invalid UTF-8 in the body reaches the field check as U+FFFD (the JSON
// decoder replaces it) and is refused there, naming the field.
func TestInvalidUTF8NamesTheField(t *testing.T) {
	body := []byte(strings.Replace(`{"nam":{"fn":"M@ller","gn":"Erika"},"dob":"1964-08-12","v":[{"tg":"840539006","vp":"1119349007","mp":"EU/1/20/1528","ma":"ORG-100030215","dn":1,"sd":2,"dt":"2021-05-29"}]}`, "@", "\xfc\xff", 1))
	r, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	var se hcert.SchemaError
	if err := r.Validate(valueset.Builtin(), testNow); !errors.As(err, &se) || len(se) != 1 || se[0].Field != "nam.fn" {
		t.Fatalf("Validate = %v, want one error on nam.fn", err)
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"nam":{"fn":"A"},"dob":"1990","v":[{"tg":"840539006","dn":1}]}`))
	f.Add([]byte(`{"nam":{"fn":"Иванов"},"dob":"1980","t":[{"sc":"2026-11-23T09:35:00+02"}]}`))
	f.Add([]byte(`{"r":[{"fr":"2026-10-01","df":"x","du":"2026-10-01"}]}`))
	vs := valueset.Builtin()
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRequest(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := r.Validate(vs, testNow); err != nil {
			return
		}
		// A valid request makes a schema-valid certificate.
		c := r.certificate("DE", "x", "URN:UVCI:01:DE:X/Y#Z")
		if err := c.Validate(); err != nil {
			t.Fatalf("valid request, invalid certificate: %v", err)
		}
	})
}
