package hcert

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// wirePayloadMap is a schema-valid test payload as a generic map, so that
// cases can drop keys, which a Certificate built in code cannot express.
func wirePayloadMap() map[string]any {
	return map[string]any{
		"ver": "1.3.0",
		"nam": map[string]any{"fn": "Muster", "fnt": "MUSTER", "gn": "Erika", "gnt": "ERIKA"},
		"dob": "1964-08-12",
		"t": []any{map[string]any{
			"tg": "840539006", "tt": "LP217198-3", "ma": "1232", "sc": cbor.Tag{Number: 0, Content: "2021-05-29T10:00:00+02:00"},
			"tr": "260415000", "tc": "Testzentrum", "co": "DE", "is": "Robert Koch-Institut", "ci": "URN:UVCI:01DE/X/Y#Z",
		}},
	}
}

func entry(m map[string]any) map[string]any { return m["t"].([]any)[0].(map[string]any) }

func TestValidateFollowsTheSchemaOnTheWire(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m map[string]any)
		field  string // "" = valid
	}{
		{"valid", func(map[string]any) {}, ""},
		{"empty tr is a present string", func(m map[string]any) { entry(m)["tr"] = "" }, ""},
		{"empty tg and tt", func(m map[string]any) { entry(m)["tg"], entry(m)["tt"] = "", "" }, ""},
		{"empty tc", func(m map[string]any) { entry(m)["tc"] = "" }, ""},
		{"empty is and ci", func(m map[string]any) { entry(m)["is"], entry(m)["ci"] = "", "" }, ""},
		{"empty gn and gnt", func(m map[string]any) { m["nam"].(map[string]any)["gn"], m["nam"].(map[string]any)["gnt"] = "", "" }, ""},
		{"only an empty fnt", func(m map[string]any) { m["nam"] = map[string]any{"fnt": ""} }, ""},
		{"a key outside the schema", func(m map[string]any) { m["meta"] = map[string]any{"reference": "x"} }, ""},
		{"tc missing (optional since 1.3)", func(m map[string]any) { delete(entry(m), "tc") }, ""},
		{"sc without offset", func(m map[string]any) { entry(m)["sc"] = "2021-05-29T10:00:00" }, ""},
		{"tr missing", func(m map[string]any) { delete(entry(m), "tr") }, "t[0].tr"},
		{"tr null", func(m map[string]any) { entry(m)["tr"] = nil }, "t[0].tr"},
		{"ci missing", func(m map[string]any) { delete(entry(m), "ci") }, "t[0].ci"},
		{"co empty", func(m map[string]any) { entry(m)["co"] = "" }, "t[0].co"},
		{"co lower case", func(m map[string]any) { entry(m)["co"] = "de" }, "t[0].co"},
		{"co missing", func(m map[string]any) { delete(entry(m), "co") }, "t[0].co"},
		{"sc empty", func(m map[string]any) { entry(m)["sc"] = "" }, "t[0].sc"},
		{"no transliterated name", func(m map[string]any) { m["nam"] = map[string]any{"fn": "Muster"} }, "nam"},
		{"nam missing", func(m map[string]any) { delete(m, "nam") }, "nam"},
		{"dob missing", func(m map[string]any) { delete(m, "dob") }, "dob"},
		{"ver missing", func(m map[string]any) { delete(m, "ver") }, "ver"},
		{"vaccination vp empty", func(m map[string]any) {
			delete(m, "t")
			m["v"] = []any{map[string]any{"tg": "840539006", "vp": "", "mp": "EU/1/20/1528", "ma": "", "dn": 1, "sd": 2,
				"dt": "2021-05-29", "co": "DE", "is": "X", "ci": "Y"}}
		}, ""},
		{"vaccination dn missing", func(m map[string]any) {
			delete(m, "t")
			m["v"] = []any{map[string]any{"tg": "840539006", "vp": "x", "mp": "x", "ma": "x", "sd": 2,
				"dt": "2021-05-29", "co": "DE", "is": "X", "ci": "Y"}}
		}, "v[0].dn"},
		{"recovery du missing", func(m map[string]any) {
			delete(m, "t")
			m["r"] = []any{map[string]any{"tg": "840539006", "fr": "2021-01-01", "co": "DE", "is": "X", "df": "2021-01-12", "ci": "Y"}}
		}, "r[0].du"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := wirePayloadMap()
			tt.modify(m)
			wantFieldError(t, decodeMap(t, m).Validate(), tt.field)
		})
	}
}

// decodeMap encodes a payload map as CBOR and decodes it as a DCC payload.
func decodeMap(t *testing.T, m map[string]any) *Certificate {
	t.Helper()
	raw, err := encMode.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c, err := DecodePayload(raw)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The JSON of a decoded certificate is the signed payload: empty strings,
// nulls and unknown keys stay; tag 0 is dropped around its string.
func TestDecodedPayloadJSONKeepsWhatWasSigned(t *testing.T) {
	m := wirePayloadMap()
	entry(m)["tc"] = ""
	m["nam"].(map[string]any)["gn"] = ""
	m["meta"] = map[string]any{"ref": []any{1, "a<b", nil}}
	m["r"] = nil
	c := decodeMap(t, m)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // as verify --json writes
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	entry(m)["sc"] = "2021-05-29T10:00:00+02:00"
	wantJSON, _ := json.Marshal(m)
	var w any
	json.Unmarshal(wantJSON, &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("payload JSON\n%s\nwant\n%s", got, wantJSON)
	}
	if !strings.Contains(string(got), `"a<b"`) {
		t.Errorf("< is escaped: %s", got)
	}
	// A certificate built in code marshals its fields, empty optional ones left out.
	built, err := json.Marshal(testCertificate())
	if err != nil || !strings.Contains(string(built), `"fnt":"MUSTER"`) || strings.Contains(string(built), `"t":`) {
		t.Fatalf("built certificate JSON %s, %v", built, err)
	}
}
