package hcert

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

func TestParseClaims(t *testing.T) {
	dcc := map[string]any{"ver": "1.3.0"}
	tests := []struct {
		name      string
		claims    map[int]any
		err       error
		iat, exp  int64
		floatTime bool
	}{
		{"integers", map[int]any{1: "DE", 4: 1700000000, 6: 1600000000, -260: map[int]any{1: dcc}}, nil, 1600000000, 1700000000, false},
		{"float exp and iat (ES, HU vectors)", map[int]any{4: 1700000000.0, 6: 1600000000.5, -260: map[int]any{1: dcc}}, nil, 1600000000, 1700000000, true},
		{"missing exp", map[int]any{6: 1600000000, -260: map[int]any{1: dcc}}, ErrClaims, 0, 0, false},
		{"exp as text", map[int]any{4: "tomorrow", 6: 1600000000, -260: map[int]any{1: dcc}}, ErrClaims, 0, 0, false},
		{"missing hcert", map[int]any{4: 1700000000, 6: 1600000000}, ErrClaims, 0, 0, false},
		{"hcert with two keys", map[int]any{4: 1700000000, 6: 1600000000, -260: map[int]any{1: dcc, 2: dcc}}, ErrClaims, 0, 0, false},
		{"hcert key 2 only (old eu_dgc_v2)", map[int]any{4: 1700000000, 6: 1600000000, -260: map[int]any{2: dcc}}, ErrClaims, 0, 0, false},
		{"payload not a map", map[int]any{4: 1700000000, 6: 1600000000, -260: map[int]any{1: "x"}}, ErrClaims, 0, 0, false},
		{"iss not text", map[int]any{1: 276, 4: 1700000000, 6: 1600000000, -260: map[int]any{1: dcc}}, ErrClaims, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, _ := cbor.Marshal(tt.claims)
			c, err := ParseClaims(raw)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if !c.IssuedAt.Equal(time.Unix(tt.iat, 0)) || !c.ExpiresAt.Equal(time.Unix(tt.exp, 0)) || c.FloatTimes != tt.floatTime {
				t.Fatalf("iat=%v exp=%v float=%v", c.IssuedAt, c.ExpiresAt, c.FloatTimes)
			}
		})
	}
	if _, err := ParseClaims([]byte{0xA1, 0x04}); !errors.Is(err, ErrCBOR) {
		t.Errorf("truncated claims: error = %v, want ErrCBOR", err)
	}
}

func TestDecodePayloadTolerance(t *testing.T) {
	entry := map[string]any{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1528", "ma": "ORG-100030215",
		"dn": 1, "sd": 2, "dt": "2021-05-29", "co": "DE", "is": "RKI", "ci": "URN:UVCI:01:DE:X"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for kk, vv := range entry {
			m[kk] = vv
		}
		m[k] = v
		return m
	}
	base := func(v any, extra ...any) map[string]any {
		m := map[string]any{"ver": "1.3.0", "nam": map[string]any{"fnt": "X"}, "dob": "", "v": []any{v}}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}
	tests := []struct {
		name      string
		payload   map[string]any
		err       error
		schemaErr bool
		dn        Count
	}{
		{"plain", base(entry), nil, false, 1},
		{"null groups (BG)", base(entry, "t", nil, "r", nil), nil, false, 1},
		{"integral float dose (IE)", base(with("dn", 1.0)), nil, false, 1},
		{"unknown top-level key (SG meta)", base(entry, "meta", map[string]any{"x": 1}), nil, false, 1},
		{"tag-0 date-time", base(with("dt", cbor.Tag{Number: 0, Content: "2021-05-29T00:00:00Z"})), nil, false, 1},
		{"fractional dose", base(with("dn", 1.5)), ErrPayloadType, false, 0},
		{"dose as text", base(with("dn", "1")), ErrPayloadType, false, 0},
		{"name is text", map[string]any{"ver": "1.3.0", "nam": "X", "dob": "", "v": []any{entry}}, ErrPayloadType, false, 0},
		{"group is a map", map[string]any{"ver": "1.3.0", "nam": map[string]any{"fnt": "X"}, "dob": "", "v": entry}, ErrPayloadType, false, 0},
		{"missing dob", map[string]any{"ver": "1.3.0", "nam": map[string]any{"fnt": "X"}, "v": []any{entry}}, nil, true, 1},
		{"two groups (TD DGC2)", base(entry, "r", []any{map[string]any{}}), nil, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := cbor.Marshal(tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			c, err := DecodePayload(raw)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if got := c.Validate() != nil; got != tt.schemaErr {
				t.Fatalf("schema error = %v, want %v", c.Validate(), tt.schemaErr)
			}
			if c.Vaccinations[0].DoseNumber != tt.dn {
				t.Fatalf("dn = %d, want %d", c.Vaccinations[0].DoseNumber, tt.dn)
			}
		})
	}
}

func TestDecodePayloadRejectsDuplicateKeys(t *testing.T) {
	// {"ver": "1.3.0", "ver": "1.0.0"}: two readings of one certificate.
	raw := []byte{0xA2, 0x63, 'v', 'e', 'r', 0x65, '1', '.', '3', '.', '0', 0x63, 'v', 'e', 'r', 0x65, '1', '.', '0', '.', '0'}
	if _, err := DecodePayload(raw); !errors.Is(err, ErrCBOR) {
		t.Fatalf("error = %v, want ErrCBOR", err)
	}
}

func TestDecodePayloadBoundsNesting(t *testing.T) {
	// 100 nested arrays inside the ver key.
	raw := append([]byte{0xA1, 0x63, 'v', 'e', 'r'}, make([]byte, 0, 101)...)
	for range 100 {
		raw = append(raw, 0x81)
	}
	raw = append(raw, 0x00)
	if _, err := DecodePayload(raw); !errors.Is(err, ErrCBOR) {
		t.Fatalf("error = %v, want ErrCBOR", err)
	}
}

// A -260 map in a non-canonical encoding takes the slow path and must still
// be read: {1: {"ver": "1.3.0"}} as an indefinite-length map.
func TestParseClaimsNonCanonicalHCertMap(t *testing.T) {
	dcc, _ := cbor.Marshal(map[string]any{"ver": "1.3.0"})
	hc := append([]byte{0xBF, 0x01}, dcc...)
	hc = append(hc, 0xFF)
	claims := []byte{0xA3, 0x04, 0x1A, 0x65, 0x53, 0xF1, 0x00, 0x06, 0x1A, 0x5F, 0xEE, 0x66, 0x00, 0x39, 0x01, 0x03}
	claims = append(claims, hc...)
	c, err := ParseClaims(claims)
	if err != nil {
		t.Fatalf("ParseClaims: %v", err)
	}
	if !bytes.Equal(c.DCC, dcc) {
		t.Fatalf("DCC = %x, want %x", c.DCC, dcc)
	}
}
