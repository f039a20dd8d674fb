package hcert

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// CWT claim keys (RFC 8392) and the hcert claim (HCERT §2.6.4).
const (
	claimIss   = 1
	claimExp   = 4
	claimIat   = 6
	claimHCert = -260
	hcertEUDCC = 1 // eu_dcc_v1
)

// Claims are the CWT claims of a DCC.
type Claims struct {
	Issuer    string    // iss: ISO 3166-1 alpha-2 of the issuing country (optional)
	IssuedAt  time.Time // iat
	ExpiresAt time.Time // exp
	// FloatTimes reports that iat or exp was encoded as a CBOR float (seen in
	// ES and HU vectors); the value was truncated to whole seconds.
	FloatTimes bool
	// DCC is the raw CBOR of claim -260 key 1, the DCC payload.
	DCC []byte
}

type rawClaims struct {
	Iss   rawItem     `cbor:"1,keyasint,omitempty"`
	Exp   rawItem     `cbor:"4,keyasint,omitempty"`
	Iat   rawItem     `cbor:"6,keyasint,omitempty"`
	HCert *hcertClaim `cbor:"-260,keyasint,omitempty"`
}

// hcertClaim is claim -260. It must be a map holding exactly key 1
// (eu_dcc_v1); EUDCC is its value, undecoded.
type hcertClaim struct {
	EUDCC []byte
	err   error
}

// UnmarshalCBOR takes the canonical shape {1: payload} by looking at two
// bytes, without another pass over the payload; other shapes take the slow
// path. Shape errors are kept for ParseClaims to report as ErrClaims.
func (h *hcertClaim) UnmarshalCBOR(data []byte) error {
	if len(data) > 2 && data[0] == 0xA1 && data[1] == hcertEUDCC {
		h.EUDCC = data[2:len(data):len(data)]
		return nil
	}
	if majorType(data) != majorMap {
		h.err = fmt.Errorf("%w: hcert claim (-260) is not a map", ErrClaims)
		return nil
	}
	var m map[any]cbor.RawMessage
	if err := decMode.Unmarshal(data, &m); err != nil {
		return err
	}
	dcc, ok := m[int64(hcertEUDCC)] // IntDecConvertSignedOrFail: integer keys are int64
	if !ok || len(m) != 1 {
		h.err = fmt.Errorf("%w: hcert claim (-260) must hold exactly key 1 (eu_dcc_v1), has %d keys", ErrClaims, len(m))
		return nil
	}
	h.EUDCC = dcc
	return nil
}

// ParseClaims decodes the CWT claims map of a COSE payload. exp and iat are
// required numeric dates (integers; integral or fractional floats are
// truncated and flagged); iss is optional text; -260 must be a map holding
// exactly key 1, whose value must be a map (the DCC payload, returned raw).
func ParseClaims(payload []byte) (*Claims, error) {
	if majorType(payload) != majorMap {
		return nil, fmt.Errorf("%w: CWT payload is not a CBOR map", ErrClaims)
	}
	var raw rawClaims
	if !fastClaims(payload, &raw) {
		slow := new(rawClaims) // on the heap only here: the common case keeps raw on the stack
		if err := decodeInto(payload, slow, "CWT claims"); err != nil {
			return nil, err
		}
		raw = *slow
	}
	c := &Claims{}
	if raw.Iss != nil {
		if majorType(raw.Iss) != majorText {
			return nil, fmt.Errorf("%w: iss is not a text string", ErrClaims)
		}
		r := fastReader{b: raw.Iss}
		if iss, ok := r.text(); ok && r.done() {
			c.Issuer = iss
		} else if err := decodeInto(raw.Iss, &c.Issuer, "iss"); err != nil {
			return nil, err
		}
	}
	var err error
	var fl bool
	if c.ExpiresAt, fl, err = numericDate(raw.Exp, "exp"); err != nil {
		return nil, err
	}
	c.FloatTimes = fl
	if c.IssuedAt, fl, err = numericDate(raw.Iat, "iat"); err != nil {
		return nil, err
	}
	c.FloatTimes = c.FloatTimes || fl
	if raw.HCert == nil {
		return nil, fmt.Errorf("%w: no hcert claim (-260)", ErrClaims)
	}
	if raw.HCert.err != nil {
		return nil, raw.HCert.err
	}
	dcc := raw.HCert.EUDCC
	if majorType(dcc) != majorMap {
		return nil, fmt.Errorf("%w: eu_dcc_v1 is not a map", ErrClaims)
	}
	c.DCC = dcc
	return c, nil
}

// numericDate decodes an RFC 8392 NumericDate.
func numericDate(raw rawItem, name string) (time.Time, bool, error) {
	if raw == nil {
		return time.Time{}, false, fmt.Errorf("%w: %s missing", ErrClaims, name)
	}
	switch majorType(raw) {
	case majorUint, majorNegInt:
		if len(raw) == 5 && raw[0] == 0x1A { // uint32: every date until 2106
			return time.Unix(int64(binary.BigEndian.Uint32(raw[1:])), 0).UTC(), false, nil
		}
		var n int64
		if err := decMode.Unmarshal(raw, &n); err != nil {
			return time.Time{}, false, fmt.Errorf("%w: %s: %v", ErrClaims, name, err)
		}
		return time.Unix(n, 0).UTC(), false, nil
	case majorSimple:
		var f float64
		if err := decMode.Unmarshal(raw, &f); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1<<53 {
			return time.Unix(int64(f), 0).UTC(), true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%w: %s is not a numeric date", ErrClaims, name)
}
