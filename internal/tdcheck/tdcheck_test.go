package tdcheck

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/greenpass-dcc/greenpass/hcert"
)

// payloadShape is a test payload as NL, SG, GE and VA write theirs: empty
// strings, a key outside the schema, a tag-0 sample time with an offset.
func payloadShape() map[string]any {
	return map[string]any{
		"ver":  "1.3.0",
		"nam":  map[string]any{"fn": "Bakker", "fnt": "BAKKER", "gn": "", "gnt": ""},
		"dob":  "1960-01-01",
		"meta": map[string]any{"source": "registry", "n": 1},
		"t": []any{map[string]any{
			"tg": "840539006", "tt": "LP6464-4", "nm": "", "sc": cbor.Tag{Number: 0, Content: "2021-05-30T10:12:22+02:00"},
			"tr": "", "tc": "", "co": "NL", "is": "Ministry of Health", "ci": "URN:UVCI:01:NL:X",
		}},
	}
}

// buildVector signs payload at iat and writes a vector file in the test
// data's format, with the JSON the payload means and the expectations given.
func buildVector(t *testing.T, payload map[string]any, clock string, eku []asn1.ObjectIdentifier, tamper bool, expected map[string]bool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Date(2021, 5, 30, 9, 0, 0, 0, time.UTC)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "DSC", Country: []string{"NL"}},
		NotBefore: iat.AddDate(0, -1, 0), NotAfter: iat.AddDate(2, 0, 0), UnknownExtKeyUsage: eku}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	em, _ := cbor.EncOptions{Sort: cbor.SortCoreDeterministic}.EncMode()
	cwt, err := em.Marshal(map[int]any{1: "NL", 4: iat.AddDate(0, 0, 2).Unix(), 6: iat.Unix(), -260: map[int]any{1: payload}})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	coseMsg, err := hcert.SignCWT(rand.Reader, key, sum[:8], cwt)
	if err != nil {
		t.Fatal(err)
	}
	if tamper {
		coseMsg[len(coseMsg)-1] ^= 1 // the last signature byte
	}
	text := hcert.EncodeText(coseMsg)
	compressed := hcert.Compress(coseMsg)
	jsonPayload := map[string]any{}
	for k, v := range payload {
		jsonPayload[k] = v
	}
	entry := map[string]any{}
	for k, v := range payload["t"].([]any)[0].(map[string]any) {
		entry[k] = v
	}
	entry["sc"] = "2021-05-30T08:12:22Z" // the same instant, written otherwise
	jsonPayload["t"] = []any{entry}
	vec := map[string]any{
		"JSON":       jsonPayload,
		"COSE":       hex.EncodeToString(coseMsg),
		"COMPRESSED": hex.EncodeToString(compressed),
		"BASE45":     text[len(hcert.Prefix):],
		"PREFIX":     text,
		"TESTCTX": map[string]any{"VERSION": 1, "SCHEMA": "1.3.0", "CERTIFICATE": base64.StdEncoding.EncodeToString(der),
			"VALIDATIONCLOCK": clock, "DESCRIPTION": "built by the test"},
		"EXPECTEDRESULTS": expected,
	}
	b, err := json.Marshal(vec)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "XX", "2DCode", "raw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "1.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVectorsInOtherCountriesShapes(t *testing.T) {
	oidTest := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1}
	oidVacc := asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2}
	all := map[string]bool{"EXPECTEDUNPREFIX": true, "EXPECTEDB45DECODE": true, "EXPECTEDCOMPRESSION": true,
		"EXPECTEDVERIFY": true, "EXPECTEDDECODE": true, "EXPECTEDSCHEMAVALIDATION": true,
		"EXPECTEDEXPIRATIONCHECK": true, "EXPECTEDKEYUSAGE": true}
	with := func(changes map[string]bool) map[string]bool {
		out := map[string]bool{}
		for k, v := range all {
			out[k] = v
		}
		for k, v := range changes {
			out[k] = v
		}
		return out
	}
	schemaInvalid := payloadShape()
	delete(schemaInvalid["t"].([]any)[0].(map[string]any), "tr")
	tests := []struct {
		name     string
		payload  map[string]any
		clock    string
		eku      []asn1.ObjectIdentifier
		tamper   bool
		expected map[string]bool
	}{
		// item 1: NL and GE clocks with microseconds and no offset, VA's without a fraction
		{"clock without offset, microseconds", payloadShape(), "2021-05-30T13:38:49.822623", []asn1.ObjectIdentifier{oidTest}, false, all},
		{"clock without offset", payloadShape(), "2021-10-01T00:15:17", nil, false, with(map[string]bool{"EXPECTEDEXPIRATIONCHECK": false})},
		// items 2-4: empty strings and unknown keys decode as signed and are schema-valid
		{"empty strings and a meta key", payloadShape(), "2021-05-30T12:00:00Z", nil, false, all},
		{"a required key missing", schemaInvalid, "2021-05-30T12:00:00Z", nil, false, with(map[string]bool{"EXPECTEDSCHEMAVALIDATION": false})},
		// item 5: expiry and key usage scored on their own after a failed signature
		{"bad signature, expiry and key usage fine", payloadShape(), "2021-05-30T12:00:00Z", []asn1.ObjectIdentifier{oidTest}, true,
			with(map[string]bool{"EXPECTEDVERIFY": false})},
		{"bad signature, wrong key usage", payloadShape(), "2021-05-30T12:00:00Z", []asn1.ObjectIdentifier{oidVacc}, true,
			with(map[string]bool{"EXPECTEDVERIFY": false, "EXPECTEDKEYUSAGE": false})},
		{"bad signature, expired", payloadShape(), "2021-06-30T12:00:00+02:00", nil, true,
			with(map[string]bool{"EXPECTEDVERIFY": false, "EXPECTEDEXPIRATIONCHECK": false})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vec, err := Load(buildVector(t, tt.payload, tt.clock, tt.eku, tt.tamper, tt.expected))
			if err != nil {
				t.Fatal(err)
			}
			outcomes, res, err := Run(context.Background(), vec)
			if err != nil {
				t.Fatal(err)
			}
			if len(outcomes) != len(tt.expected) {
				t.Fatalf("%d expectations scored, want %d", len(outcomes), len(tt.expected))
			}
			for _, o := range outcomes {
				if !o.Agrees() {
					t.Errorf("%s: got %v, want %v — %s; reasons %v", o.Key, o.Got, o.Want, o.Detail, res.Reasons)
				}
			}
		})
	}
}
