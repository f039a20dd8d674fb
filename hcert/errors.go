package hcert

import "errors"

// Sentinel errors. Every error returned by this package wraps exactly one of
// them, so callers can branch with errors.Is and map them to reasons.
var (
	// ErrNoPrefix: the text does not start with a context identifier.
	ErrNoPrefix = errors.New("no HC1: prefix")
	// ErrUnsupportedPrefix: a context identifier other than HC1: (HC2:, LT1:, …).
	ErrUnsupportedPrefix = errors.New("unsupported context identifier")
	// ErrTooLong: the text is longer than any QR code can hold.
	ErrTooLong = errors.New("input too long")

	// ErrBase45 wraps every Base45 decoding failure.
	ErrBase45 = errors.New("invalid base45")

	// ErrNotCompressed: the data is not zlib (no RFC 1950 header).
	ErrNotCompressed = errors.New("not zlib-compressed")
	// ErrCompression: zlib stream corrupt, truncated, bad checksum or trailing data.
	ErrCompression = errors.New("corrupt zlib stream")
	// ErrInflatedTooLarge: the stream inflates beyond the cap (zip bomb).
	ErrInflatedTooLarge = errors.New("inflated data exceeds limit")

	// ErrCOSE: the bytes are not a well-formed COSE_Sign1 message.
	ErrCOSE = errors.New("malformed COSE_Sign1")
	// ErrAlgorithm: the alg header is missing or not ES256/PS256.
	ErrAlgorithm = errors.New("unsupported or missing algorithm")
	// ErrKID: the kid header is missing, not a byte string or not 8 bytes.
	ErrKID = errors.New("invalid key identifier")

	// ErrCBOR: the CWT or the DCC payload is not well-formed CBOR (or exceeds the bounds).
	ErrCBOR = errors.New("malformed CBOR")
	// ErrClaims: the CWT claims are missing or of the wrong type (exp, iat, hcert).
	ErrClaims = errors.New("invalid CWT claims")
	// ErrPayloadType: well-formed CBOR whose values have the wrong types for a DCC.
	ErrPayloadType = errors.New("DCC payload has wrong value types")

	// ErrSignature: the signature does not verify under the given key.
	ErrSignature = errors.New("signature invalid")
	// ErrKeyMismatch: the key cannot be used with the message's algorithm
	// (e.g. a P-384 key under ES256, an RSA key under 2048 bits).
	ErrKeyMismatch = errors.New("key does not match algorithm")
)
