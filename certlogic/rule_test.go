package certlogic

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// rule makes a rule document; logic is CertLogic JSON.
func rule(id, typ, country, certType, version, logic string) string {
	return fmt.Sprintf(`{"Identifier":%q,"Type":%q,"Country":%q,"Version":%q,"SchemaVersion":"1.0.0","Engine":"CERTLOGIC",
		"EngineVersion":"1.0.0","CertificateType":%q,"Description":[{"lang":"en","desc":"the rule %s in English"},{"lang":"de","desc":"die Regel %s"}],
		"ValidFrom":"2021-07-01T00:00:00Z","ValidTo":"2030-06-01T00:00:00Z","AffectedFields":["v.0.dn"],"Logic":%s}`,
		id, typ, country, version, certType, id, id, logic)
}

const (
	fullCourse = `{"if":[{"var":"payload.v.0"},{">=":[{"var":"payload.v.0.dn"},{"var":"payload.v.0.sd"}]},true]}`
	test48h    = `{"if":[{"var":"payload.t.0"},{"not-after":[{"plusTime":[{"var":"external.validationClock"},0,"hour"]},{"plusTime":[{"var":"payload.t.0.sc"},48,"hour"]}]},true]}`
)

func mustRule(t *testing.T, doc string) *Rule {
	t.Helper()
	r, err := ParseRule([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestParseRuleRefusesMalformedRules(t *testing.T) {
	good := rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.0.0", fullCourse)
	if r := mustRule(t, good); r.Text("de") != "die Regel VR-DE-0001" || r.Text("fr") != "the rule VR-DE-0001 in English" {
		t.Fatalf("texts: %q %q", r.Text("de"), r.Text("fr"))
	}
	for name, doc := range map[string]string{
		"identifier":   rule("VR-DE-1", Acceptance, "DE", "Vaccination", "1.0.0", fullCourse),
		"type":         rule("VR-DE-0001", "Accept", "DE", "Vaccination", "1.0.0", fullCourse),
		"country":      rule("VR-DE-0001", Acceptance, "de", "Vaccination", "1.0.0", fullCourse),
		"version":      rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.0", fullCourse),
		"cert type":    rule("VR-DE-0001", Acceptance, "DE", "Passport", "1.0.0", fullCourse),
		"logic":        rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.0.0", `{"or":[true]}`),
		"no english":   strings.Replace(good, `"lang":"en"`, `"lang":"fr"`, 1),
		"dates":        strings.Replace(good, `"ValidTo":"2030-06-01T00:00:00Z"`, `"ValidTo":"2020-06-01T00:00:00Z"`, 1),
		"not JSON":     `{"Identifier":`,
		"logic absent": strings.Replace(good, `"Logic":`+fullCourse, `"X":1`, 1),
	} {
		if _, err := ParseRule([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseRule([]byte(strings.Replace(good, `"Vaccination"`, `"VACCINATION"`, 1))); err != nil {
		t.Errorf("upper-case certificate type refused: %v", err)
	}
}

func TestSelect(t *testing.T) {
	rules := []*Rule{
		mustRule(t, rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.0.0", fullCourse)),
		mustRule(t, rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.2.0", fullCourse)),
		mustRule(t, rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.10.0", fullCourse)),
		mustRule(t, rule("TR-DE-0001", Acceptance, "DE", "Test", "1.0.0", test48h)),
		mustRule(t, rule("GR-DE-0001", Acceptance, "DE", "General", "1.0.0", `true`)),
		mustRule(t, rule("VR-AT-0001", Acceptance, "AT", "Vaccination", "1.0.0", fullCourse)),
		mustRule(t, rule("IR-AT-0001", Invalidation, "AT", "General", "1.0.0", `true`)),
		mustRule(t, rule("IR-DE-0001", Invalidation, "DE", "General", "1.0.0", `true`)),
	}
	regional := mustRule(t, strings.Replace(rule("VR-DE-0002", Acceptance, "DE", "Vaccination", "1.0.0", `true`), `"Country"`, `"Region":"BW","Country"`, 1))
	rules = append(rules, regional)
	ids := func(s Selection) string {
		var out []string
		for _, r := range Select(rules, s) {
			out = append(out, r.Identifier+"@"+r.Version)
		}
		return strings.Join(out, " ")
	}
	clock := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := ids(Selection{Arrival: "DE", Issuer: "AT", Type: "Vaccination", Clock: clock}); got != "GR-DE-0001@1.0.0 IR-AT-0001@1.0.0 VR-DE-0001@1.10.0" {
		t.Errorf("vaccination from AT in DE: %s", got)
	}
	if got := ids(Selection{Arrival: "DE", Issuer: "DE", Type: "Test", Clock: clock}); got != "GR-DE-0001@1.0.0 IR-DE-0001@1.0.0 TR-DE-0001@1.0.0" {
		t.Errorf("test from DE in DE: %s", got)
	}
	if got := ids(Selection{Arrival: "DE", Issuer: "DE", Type: "Vaccination", Region: "bw", Clock: clock}); !strings.Contains(got, "VR-DE-0002") {
		t.Errorf("region BW: %s", got)
	}
	if got := ids(Selection{Arrival: "DE", Issuer: "FR", Type: "Vaccination", Clock: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}); got != "" {
		t.Errorf("after ValidTo: %s", got)
	}
}

func TestRunFullCourseAnd48Hours(t *testing.T) {
	clock := time.Date(2022, 1, 10, 12, 0, 0, 0, time.UTC)
	ext := External{ValidationClock: clock, CountryCode: "DE", IssuerCountryCode: "AT"}
	vacc := mustRule(t, rule("VR-DE-0001", Acceptance, "DE", "Vaccination", "1.0.0", fullCourse))
	test := mustRule(t, rule("TR-DE-0001", Acceptance, "DE", "Test", "1.0.0", test48h))
	payload := func(s string) any { return mustDecode(t, s) }
	for _, tc := range []struct {
		r       *Rule
		payload string
		want    Result
	}{
		{vacc, `{"v":[{"dn":1,"sd":2}]}`, Failed},
		{vacc, `{"v":[{"dn":2,"sd":2}]}`, Passed},
		{vacc, `{"v":[{"dn":3,"sd":2}]}`, Passed},
		{test, `{"t":[{"sc":"2022-01-07T12:00:00Z"}]}`, Failed}, // 3 days old
		{test, `{"t":[{"sc":"2022-01-08T12:00:00Z"}]}`, Passed}, // exactly 48 h
		{test, `{"t":[{"sc":"2022-01-09T18:00:00+02:00"}]}`, Passed},
		{test, `{"t":[{"sc":"not a date"}]}`, Open},
	} {
		if got, why := Run(tc.r, payload(tc.payload), "1.3.0", ext); got != tc.want {
			t.Errorf("%s on %s: %s (%s), want %s", tc.r.Identifier, tc.payload, got, why, tc.want)
		}
	}
	// Version checks make a rule open, never passed.
	if got, _ := Run(vacc, payload(`{"v":[{"dn":2,"sd":2}]}`), "2.0.0", ext); got != Open {
		t.Errorf("schema 2.0.0 against a 1.x rule: %s", got)
	}
	newer := mustRule(t, strings.Replace(rule("VR-DE-0003", Acceptance, "DE", "Vaccination", "1.0.0", `true`), `"SchemaVersion":"1.0.0"`, `"SchemaVersion":"1.3.1"`, 1))
	if got, _ := Run(newer, payload(`{}`), "1.3.0", ext); got != Open {
		t.Errorf("certificate older than the rule's schema: %s", got)
	}
	other := mustRule(t, strings.Replace(rule("VR-DE-0004", Acceptance, "DE", "Vaccination", "1.0.0", `true`), `"CERTLOGIC"`, `"JSONLOGIC"`, 1))
	if got, _ := Run(other, payload(`{}`), "1.3.0", ext); got != Open {
		t.Errorf("another engine: %s", got)
	}
	// The external parameters reach the rule.
	uses := mustRule(t, rule("VR-DE-0005", Acceptance, "DE", "Vaccination", "1.0.0",
		`{"and":[{"===":[{"var":"external.countryCode"},"DE"]},{"in":["840539006",{"var":"external.valueSets.disease-agent-targeted"}]}]}`))
	ext.ValueSets = map[string][]string{"disease-agent-targeted": {"840539006"}}
	if got, why := Run(uses, payload(`{}`), "1.3.0", ext); got != Passed {
		t.Errorf("external parameters: %s (%s)", got, why)
	}
}
