package valueset

import (
	"testing"
	"testing/fstest"
)

func TestBuiltin(t *testing.T) {
	ss := Builtin()
	cases := []struct {
		set, code   string
		has, active bool
	}{
		{Disease, "840539006", true, true},
		{Vaccine, "1119349007", true, true},
		{Vaccine, "J07BX03", true, false},
		{Product, "EU/1/20/1528", true, true},
		{Product, "NVX-CoV2373", true, false},
		{Manufacturer, "ORG-100030215", true, true},
		{TestType, "LP217198-3", true, true},
		{TestResult, "260415000", true, true},
		{TestResult, "260415001", false, false},
		{Country, "DE", true, true},
		{Country, "VA", true, true},
		{Country, "XK", false, false}, // user-assigned, not ISO 3166-1
		{Country, "YU", false, false}, // withdrawn
		{Country, "EU", false, false},
		{Product, "", false, false},
		{"no-such-set", "x", false, false},
	}
	for _, c := range cases {
		s := ss.Get(c.set)
		if got := s.Has(c.code); got != c.has {
			t.Errorf("%s.Has(%q) = %v, want %v", c.set, c.code, got, c.has)
		}
		if got := s.Active(c.code); got != c.active {
			t.Errorf("%s.Active(%q) = %v, want %v", c.set, c.code, got, c.active)
		}
	}
	if n := len(ss.Get(Country).Values); n != 249 {
		t.Errorf("%d countries, want ISO 3166-1's 249", n)
	}
	if got, want := len(ss.IDs()), 7; got != want {
		t.Errorf("%d built-in sets %v, want %d", got, ss.IDs(), want)
	}
	// Builtin returns copies: changing one does not change the next.
	delete(ss[Disease].Values, "840539006")
	if !Builtin().Get(Disease).Has("840539006") {
		t.Error("Builtin shares state between calls")
	}
}

func TestParseErrors(t *testing.T) {
	for name, data := range map[string]string{
		"not json":  `{`,
		"no id":     `{"valueSetValues":{"a":{}}}`,
		"no values": `{"valueSetId":"x","valueSetValues":{}}`,
	} {
		if _, err := Parse([]byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	_, err := Load(fstest.MapFS{"d/a.json": {Data: []byte(`{`)}}, "d")
	if err == nil {
		t.Error("Load of a broken file: no error")
	}
}

// Every product default names codes of the built-in sets that may still
// be used.
func TestProductDefaultsAreActiveCodes(t *testing.T) {
	ss := Builtin()
	for mp, d := range Products {
		if !ss.Get(Product).Active(mp) || !ss.Get(Manufacturer).Active(d.Holder) || !ss.Get(Vaccine).Active(d.Vaccine) {
			t.Errorf("%s → %+v: not active codes of the value sets", mp, d)
		}
	}
}
