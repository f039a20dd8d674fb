package hcert

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/veraison/go-cose"
)

// Algorithms a DCC may be signed with (HCERT §3.3.1). Verifiers must support
// both; everything else is refused.
const (
	AlgES256 = cose.AlgorithmES256 // ECDSA P-256 with SHA-256, primary
	AlgPS256 = cose.AlgorithmPS256 // RSASSA-PSS with SHA-256, secondary
)

// KIDLen is the length of a DCC key identifier: the first 8 bytes of the
// SHA-256 of the DSC's DER encoding (HCERT App. A.1).
const KIDLen = 8

// CBOR tags that may wrap a COSE_Sign1 message.
const (
	tagCOSESign1 = 18
	tagCWT       = 61
)

// Sign1 is a parsed COSE_Sign1 message. The protected header is kept exactly
// as received, because the signature covers those bytes and not a re-encoding.
type Sign1 struct {
	Protected []byte // serialized protected header map (possibly empty)
	Payload   []byte // CWT claims, CBOR-encoded
	Signature []byte
	Tagged    bool // wrapped in tag 18 (optionally inside tag 61)

	// Alg is the signature algorithm, taken from the protected header, else the
	// unprotected one. KID is the key identifier, protected header first.
	Alg cose.Algorithm
	KID []byte
	// KIDProtected reports where KID came from.
	KIDProtected bool
}

// envelope is the COSE_Sign1 array; decoding into it requires exactly four
// elements.
type envelope struct {
	_           struct{} `cbor:",toarray"`
	Protected   rawItem
	Unprotected rawItem
	Payload     rawItem
	Signature   rawItem
}

// byteString returns the content of a definite-length CBOR byte string
// without copying; raw is already known to be one well-formed item.
// Indefinite-length (chunked) strings are decoded the slow way.
func byteString(raw rawItem, what string) ([]byte, error) {
	if majorType(raw) != majorBytes {
		return nil, fmt.Errorf("%w: %s has CBOR major type %d, want a byte string", ErrCOSE, what, majorType(raw))
	}
	n, head := uint64(raw[0]&0x1F), 1
	switch {
	case n < 24:
	case n <= 27:
		head += 1 << (n - 24)
		n = 0
		for _, b := range raw[1:head] {
			n = n<<8 | uint64(b)
		}
	default: // indefinite length
		var b []byte
		if err := decMode.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCOSE, what, err)
		}
		return b, nil
	}
	if uint64(len(raw)-head) != n {
		return nil, fmt.Errorf("%w: %s length mismatch", ErrCOSE, what)
	}
	return raw[head:len(raw):len(raw)], nil
}

// header holds the two header parameters a DCC uses; others are ignored.
type header struct {
	Alg rawItem `cbor:"1,keyasint,omitempty"`
	KID rawItem `cbor:"4,keyasint,omitempty"`
}

// ParseSign1 parses a COSE_Sign1 message: tagged 18(...), CWT-tagged
// 61(18(...)) or untagged; a four-element array of bstr, map, bstr, bstr; no
// trailing bytes. It checks that alg is ES256 or PS256 and that a kid of 8
// bytes is present (protected header wins when both carry one, as HCERT §3.3.3
// requires), so a message it returns is ready for signature verification.
//
// The envelope is parsed here rather than by go-cose's Sign1Message because
// that one rejects headers the EU test vectors require accepted: alg only in
// the unprotected header (TD CO20) and a non-bstr kid in the unprotected header
// when the protected one is valid (TD CO21).
func ParseSign1(data []byte) (*Sign1, error) {
	msg := &Sign1{}
	body := data
	if len(body) >= 2 && body[0] == 0xD8 && body[1] == tagCWT {
		body = body[2:]
	}
	if len(body) >= 1 && body[0] == 0xC0|tagCOSESign1 {
		body = body[1:]
		msg.Tagged = true
	} else if majorType(body) == majorTag {
		return nil, fmt.Errorf("%w: unexpected CBOR tag (only 18 and 61(18) are allowed)", ErrCOSE)
	}
	var env envelope
	if !fastEnvelope(body, &env) {
		slow := new(envelope) // on the heap only here: the common case keeps env on the stack
		if err := decMode.Unmarshal(body, slow); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCOSE, err)
		}
		env = *slow
	}
	var err error
	if msg.Protected, err = byteString(env.Protected, "protected header"); err != nil {
		return nil, err
	}
	if majorType(env.Unprotected) != majorMap {
		return nil, fmt.Errorf("%w: unprotected header is not a map", ErrCOSE)
	}
	if msg.Payload, err = byteString(env.Payload, "payload"); err != nil {
		return nil, err
	}
	if msg.Signature, err = byteString(env.Signature, "signature"); err != nil {
		return nil, err
	}
	var unprotected header
	if err := decodeHeader(env.Unprotected, &unprotected, "unprotected header"); err != nil {
		return nil, err
	}
	var protected header
	if len(msg.Protected) > 0 {
		if majorType(msg.Protected) != majorMap {
			return nil, fmt.Errorf("%w: protected header is not a map", ErrCOSE)
		}
		if err := decodeHeader(msg.Protected, &protected, "protected header"); err != nil {
			return nil, err
		}
	}
	if err := msg.pickAlg(protected.Alg, unprotected.Alg); err != nil {
		return nil, err
	}
	if err := msg.pickKID(protected.KID, unprotected.KID); err != nil {
		return nil, err
	}
	return msg, nil
}

// decodeHeader reads a header map, the common shape without reflection.
func decodeHeader(data []byte, h *header, what string) error {
	if fastHeader(data, h) {
		return nil
	}
	slow := new(header)
	if err := decodeInto(data, slow, what); err != nil {
		return fmt.Errorf("%w: %v", ErrCOSE, err)
	}
	*h = *slow
	return nil
}

func (m *Sign1) pickAlg(protected, unprotected rawItem) error {
	raw := protected
	if raw == nil {
		raw = unprotected
	}
	if raw == nil {
		return fmt.Errorf("%w: no alg header", ErrAlgorithm)
	}
	r := fastReader{b: raw}
	alg, ok := r.intKey()
	if !ok || !r.done() {
		slow := new(int64)
		if t := majorType(raw); t != majorUint && t != majorNegInt || decMode.Unmarshal(raw, slow) != nil {
			return fmt.Errorf("%w: alg header is not an integer", ErrAlgorithm)
		}
		alg = *slow
	}
	switch cose.Algorithm(alg) {
	case AlgES256, AlgPS256:
		m.Alg = cose.Algorithm(alg)
		return nil
	}
	return fmt.Errorf("%w: alg %d (only ES256 = -7 and PS256 = -37 are allowed)", ErrAlgorithm, alg)
}

func (m *Sign1) pickKID(protected, unprotected rawItem) error {
	raw, fromProtected := protected, true
	if raw == nil {
		raw, fromProtected = unprotected, false
	}
	if raw == nil {
		return fmt.Errorf("%w: no kid header", ErrKID)
	}
	kid, err := byteString(raw, "kid")
	if err != nil {
		return fmt.Errorf("%w: kid is not a byte string", ErrKID)
	}
	if len(kid) != KIDLen {
		return fmt.Errorf("%w: kid has %d bytes, want %d", ErrKID, len(kid), KIDLen)
	}
	m.KID, m.KIDProtected = kid, fromProtected
	return nil
}

// SigStructure returns the bytes the signature covers (RFC 9052 §4.4):
// ["Signature1", protected (as received), external_aad = h”, payload].
func (m *Sign1) SigStructure() []byte {
	var head [24]byte
	out := m.sigStructureHead(head[:0])
	out = append(out, m.Protected...)
	out = append(out, 0x40) // external_aad: empty bstr
	out = cborHead(out, majorBytes, uint64(len(m.Payload)))
	return append(out, m.Payload...)
}

// digest returns SHA-256 over the Sig_structure without materialising it.
func (m *Sign1) digest() []byte {
	var buf [24]byte
	h := sha256.New()
	h.Write(m.sigStructureHead(buf[:0]))
	h.Write(m.Protected)
	h.Write(cborHead(append(buf[:0], 0x40), majorBytes, uint64(len(m.Payload))))
	h.Write(m.Payload)
	return h.Sum(nil)
}

// sigStructureHead appends everything of the Sig_structure before the
// protected header's bytes: array(4), "Signature1", the protected bstr head.
func (m *Sign1) sigStructureHead(dst []byte) []byte {
	dst = append(dst, 0x84, 0x6A) // array(4), text(10)
	dst = append(dst, "Signature1"...)
	return cborHead(dst, majorBytes, uint64(len(m.Protected)))
}

// cborHead appends the CBOR head of an item of the given major type and length.
func cborHead(dst []byte, major int, n uint64) []byte {
	mt := byte(major << 5)
	switch {
	case n < 24:
		return append(dst, mt|byte(n))
	case n <= 0xFF:
		return append(dst, mt|24, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, mt|25), uint16(n))
	case n <= 0xFFFFFFFF:
		return binary.BigEndian.AppendUint32(append(dst, mt|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(dst, mt|27), n)
}
