package hcert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/fxamacker/cbor/v2"
)

// MarshalJSON writes a decoded certificate as the payload it was signed
// with, converted item by item: empty strings, nulls and keys outside the
// schema stay (they are signed data), tags are dropped around their content,
// byte strings become Base64. A certificate built in code marshals its
// fields. Non-text map keys, which no schema-valid payload has, fall back to
// the fields too.
func (c Certificate) MarshalJSON() ([]byte, error) {
	var v any = plainCertificate(c)
	if c.raw != nil {
		if tree, err := cborToJSON(c.raw, 0); err == nil {
			v = tree
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" in transliterated names stays readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// plainCertificate has Certificate's fields without its MarshalJSON.
type plainCertificate Certificate

// cborToJSON converts one well-formed CBOR item (DecodePayload has already
// decoded it with the bounded decMode) into a value encoding/json writes.
func cborToJSON(data []byte, depth int) (any, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrCBOR, maxNesting)
	}
	switch majorType(data) {
	case majorMap:
		var m map[string]cbor.RawMessage
		if err := decMode.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m))
		for k, item := range m {
			v, err := cborToJSON(item, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case majorArray:
		var items []cbor.RawMessage
		if err := decMode.Unmarshal(data, &items); err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i, item := range items {
			v, err := cborToJSON(item, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case majorTag:
		var t cbor.RawTag
		if err := decMode.Unmarshal(data, &t); err != nil {
			return nil, err
		}
		return cborToJSON(t.Content, depth+1)
	}
	var v any
	if err := decMode.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil, nil // JSON has no NaN or infinity
	}
	return v, nil
}
