package hcert

import (
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Bounds for everything decoded from outside bytes. A DCC nests four levels
// deep (claims → hcert → payload → group → entry) and has a few dozen keys.
const (
	maxNesting  = 16
	maxElements = 256
)

// decMode is strict where ambiguity could hide a forgery (duplicate map keys,
// invalid UTF-8, trailing bytes) and bounded everywhere. Indefinite lengths
// are accepted: they are well-formed CBOR and some issuers' encoders emit them.
var decMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  maxNesting,
		MaxArrayElements: maxElements,
		MaxMapPairs:      maxElements,
		IndefLength:      cbor.IndefLengthAllowed,
		UTF8:             cbor.UTF8RejectInvalid,
		IntDec:           cbor.IntDecConvertSignedOrFail,
	}.DecMode()
	if err != nil {
		panic(err) // the options above are constant and valid
	}
	return m
}()

// encMode writes canonical (RFC 8949 core deterministic) CBOR for issuance.
var encMode = func() cbor.EncMode {
	m, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic, IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err) // constant options
	}
	return m
}()

// decodeInto decodes data into v and classifies the failure: values of the
// wrong type are ErrPayloadType (the CBOR itself is fine), anything else is
// ErrCBOR.
func decodeInto(data []byte, v any, what string) error {
	err := decMode.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *cbor.UnmarshalTypeError
	if errors.As(err, &te) || errors.Is(err, errValue) {
		return fmt.Errorf("%w: %s: %v", ErrPayloadType, what, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCBOR, what, err)
}

// rawItem is one undecoded CBOR item. Unlike cbor.RawMessage it does not
// copy: it aliases the input, which the functions of this package own and
// never modify (Decompress returns a fresh buffer; ParseSign1's callers pass
// theirs on). That saves an allocation per header, claim and COSE element.
type rawItem []byte

// UnmarshalCBOR keeps a reference to data.
func (r *rawItem) UnmarshalCBOR(data []byte) error {
	*r = data[:len(data):len(data)]
	return nil
}

// majorType returns the CBOR major type of the item starting data (0–7), or -1.
func majorType(data []byte) int {
	if len(data) == 0 {
		return -1
	}
	return int(data[0] >> 5)
}

// CBOR major types used in structure checks.
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)
