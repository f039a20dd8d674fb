package hcert

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *Certificate)
		field  string // "" = valid
	}{
		{"valid", func(c *Certificate) {}, ""},
		{"empty dob", func(c *Certificate) { c.DateOfBirth = "" }, ""},
		{"year-only dob", func(c *Certificate) { c.DateOfBirth = "1964" }, ""},
		{"year-month dob", func(c *Certificate) { c.DateOfBirth = "1964-08" }, ""},
		{"date-time dob (BG)", func(c *Certificate) { c.DateOfBirth = "1964-08-12T00:00:00" }, ""},
		{"date-time dt (PL)", func(c *Certificate) { c.Vaccinations[0].Date = "2021-05-29T10:00:00+02:00" }, ""},
		{"only gnt", func(c *Certificate) { c.Name.FamilyStandard = "" }, ""},
		{"dob 1800s", func(c *Certificate) { c.DateOfBirth = "1864-08-12" }, "dob"},
		{"dob with xx (NL)", func(c *Certificate) { c.DateOfBirth = "1964-xx-xx" }, "dob"},
		{"bad ver", func(c *Certificate) { c.Version = "1.3" }, "ver"},
		{"no transliterated name", func(c *Certificate) { c.Name.FamilyStandard, c.Name.GivenStandard = "", "" }, "nam"},
		{"lower-case fnt", func(c *Certificate) { c.Name.FamilyStandard = "Muster" }, "nam.fnt"},
		{"fn over 80", func(c *Certificate) { c.Name.Family = strings.Repeat("ä", 81) }, "nam.fn"},
		{"dn zero", func(c *Certificate) { c.Vaccinations[0].DoseNumber = 0 }, "v[0].dn"},
		{"dt not a date", func(c *Certificate) { c.Vaccinations[0].Date = "29.05.2021" }, "v[0].dt"},
		{"dt impossible", func(c *Certificate) { c.Vaccinations[0].Date = "2021-02-30" }, "v[0].dt"},
		{"co lower case", func(c *Certificate) { c.Vaccinations[0].Country = "de" }, "v[0].co"},
		{"ci empty (present: no minimum length)", func(c *Certificate) { c.Vaccinations[0].ID = "" }, ""},
		{"co empty fails the pattern", func(c *Certificate) { c.Vaccinations[0].Country = "" }, "v[0].co"},
		{"no group", func(c *Certificate) { c.Vaccinations = nil }, "v|t|r"},
		{"two entries", func(c *Certificate) { c.Vaccinations = append(c.Vaccinations, c.Vaccinations[0]) }, "v"},
		{"two groups", func(c *Certificate) {
			c.Recoveries = []Recovery{{Target: "840539006", FirstPositive: "2021-01-01", Country: "DE", Issuer: "X", ValidFrom: "2021-01-12", ValidUntil: "2021-06-30", ID: "X"}}
		}, "v|t|r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testCertificate()
			tt.modify(c)
			wantFieldError(t, c.Validate(), tt.field)
		})
	}
}

// wantFieldError fails unless err is nil (field "") or a SchemaError that
// names field.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	var se SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("Validate() = %v, want a SchemaError on %s", err, field)
	}
	for _, fe := range se {
		if fe.Field == field {
			return
		}
	}
	t.Fatalf("Validate() = %v, want an error on %s", err, field)
}

func TestValidateTestEntry(t *testing.T) {
	c := testCertificate()
	c.Vaccinations = nil
	c.Tests = []Test{{Target: "840539006", TestType: "LP217198-3", Device: "1232", SampledAt: "2021-05-29T10:00:00+0200",
		Result: "260415000", Country: "DE", Issuer: "X", ID: "X"}}
	if err := c.Validate(); err != nil {
		t.Fatalf("±hhmm offset: %v", err)
	}
	c.Tests[0].SampledAt = "2021-05-29"
	if err := c.Validate(); err == nil {
		t.Fatal("sc without a time must fail")
	}
}

func TestValidateNeverEchoesValues(t *testing.T) {
	c := testCertificate()
	c.Name.FamilyStandard = "Mustermann-secret"
	c.DateOfBirth = "secret"
	err := c.Validate()
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Validate() = %v; must fail without quoting personal data", err)
	}
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in    string
		want  string // UTC RFC 3339, "" = error
		zoned bool   // ParseZonedDateTime accepts it too
	}{
		{"2021-05-29T10:00:00Z", "2021-05-29T10:00:00Z", true},
		{"2021-05-29T10:00:00.123456789Z", "2021-05-29T10:00:00.123456789Z", true},
		{"2021-05-21T12:26:07.390079Z", "2021-05-21T12:26:07.390079Z", true},
		{"2021-05-29T10:00:00+02:00", "2021-05-29T08:00:00Z", true},
		{"2021-05-29T10:00:00+0200", "2021-05-29T08:00:00Z", true},
		{"2021-05-29T10:00:00+02", "2021-05-29T08:00:00Z", true},
		{"2021-05-29T10:00:00-05", "2021-05-29T15:00:00Z", true},
		// Validation clocks of the NL, GE and VA test data: no offset, UTC.
		{"2021-05-29T10:00:00", "2021-05-29T10:00:00Z", false},
		{"2021-05-30T13:38:49.822623", "2021-05-30T13:38:49.822623Z", false},
		{"2021-10-01T00:15:17.1", "2021-10-01T00:15:17.1Z", false},
		{"2021-05-29T10:00:00.Z", "", false},
		{"2021-05-29T10:00:00.", "", false},
		{"2021-05-29T10:00", "", false},
		{"2021-05-29", "", false},
		{"2021-13-29T10:00:00Z", "", false},
		{"2021-13-29T10:00:00", "", false},
		{"2021-05-29T10:00:00+2", "", false},
	}
	for _, tt := range tests {
		got, err := ParseDateTime(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParseDateTime(%q) = %v, want error", tt.in, got)
			}
		} else if err != nil || got.UTC().Format("2006-01-02T15:04:05.999999999Z07:00") != tt.want {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %s", tt.in, got.UTC(), err, tt.want)
		}
		if _, err := ParseZonedDateTime(tt.in); (err == nil) != tt.zoned {
			t.Errorf("ParseZonedDateTime(%q): error %v, want accepted=%v", tt.in, err, tt.zoned)
		}
	}
}

// matchVersion must agree with the schema's pattern exactly.
func TestMatchVersionIsTheSchemaPattern(t *testing.T) {
	pattern := regexp.MustCompile(`^\d+.\d+.\d+$`)
	for _, s := range []string{"1.3.0", "1.0.0", "10.20.30", "1.3", "1.3.", ".1.3.0", "1.3.0.", "1x3y0", "12345",
		"1234", "123", "1..3", "1.3.0\n", "a.b.c", "", "1.3.0-rc1", "1-3-0", "11.3", "1.33", "0\n000", "1é3é0", "1\xff3\xff0"} {
		if got, want := matchVersion(s), pattern.MatchString(s); got != want {
			t.Errorf("matchVersion(%q) = %v, the schema pattern says %v", s, got, want)
		}
	}
}

func FuzzMatchVersion(f *testing.F) {
	pattern := regexp.MustCompile(`^\d+.\d+.\d+$`)
	f.Add("1.3.0")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			return
		}
		if got, want := matchVersion(s), pattern.MatchString(s); got != want {
			t.Fatalf("matchVersion(%q) = %v, the schema pattern says %v", s, got, want)
		}
	})
}
