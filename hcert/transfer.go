package hcert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
)

// The certificate-transfer contract of the Corona-Warn-App (CWA DCC server)
// moves COSE_Sign1 messages whose payload slot holds something else than
// the signed CWT — ciphertext for the app, a placeholder for the lab — and
// signs hashes computed by a lab. These helpers build and take apart such
// messages byte-exactly.

// ProtectedES256 is the protected header a lab's Sig_structure uses in the
// CWA contract: exactly the map {1: -7}.
var ProtectedES256 = []byte{0xA1, 0x01, 0x26}

// ReplacePayload returns the COSE_Sign1 message with its payload slot set
// to payload. The protected header, unprotected header and signature are
// kept byte for byte, as is the tag.
func ReplacePayload(coseMsg, payload []byte) ([]byte, error) {
	prefix, body := splitTags(coseMsg)
	var env envelope
	if err := decMode.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCOSE, err)
	}
	if _, err := byteString(env.Payload, "payload"); err != nil {
		return nil, err
	}
	encPayload, err := encMode.Marshal(payload)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(prefix)
	out.WriteByte(0x84) // array of 4
	out.Write(env.Protected)
	out.Write(env.Unprotected)
	out.Write(encPayload)
	out.Write(env.Signature)
	return out.Bytes(), nil
}

// splitTags separates the tags 61 and 18 in front of a message.
func splitTags(data []byte) (tags, body []byte) {
	n := 0
	if len(data) >= 2 && data[0] == 0xD8 && data[1] == tagCWT {
		n = 2
	}
	if len(data) > n && data[n] == 0xC0|tagCOSESign1 {
		n++
	}
	return data[:n], data[n:]
}

// SigStructureDigest is the SHA-256 of the Sig_structure a signer signs for
// a COSE_Sign1 with the protected header and payload given (external AAD
// empty): what a lab sends as dccHash.
func SigStructureDigest(protected, payload []byte) []byte {
	m := &Sign1{Protected: protected, Payload: payload}
	return m.digest()
}

// SignDigest signs a Sig_structure digest with an ECDSA P-256 key and
// returns the COSE (raw r‖s) signature. It signs what it is given: the
// caller vouches for the digest.
func SignDigest(rand io.Reader, signer crypto.Signer, digest []byte) ([]byte, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: hash signing needs an ECDSA P-256 document signer (ES256)", ErrKeyMismatch)
	}
	if len(digest) != 32 {
		return nil, fmt.Errorf("sign digest: %d bytes, want a SHA-256 digest", len(digest))
	}
	der, err := signer.Sign(rand, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign digest: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("sign digest: the signer returned no ASN.1 ECDSA signature")
	}
	raw := make([]byte, 64)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return raw, nil
}

// PartialSign1 is the signing service's answer in the CWA contract: a
// tagged COSE_Sign1 with the protected header {1: -7}, the kid in the
// unprotected header, payload as given (a placeholder, or ciphertext) and
// the signature.
func PartialSign1(kid, payload, signature []byte) ([]byte, error) {
	if len(kid) != KIDLen {
		return nil, fmt.Errorf("%w: kid has %d bytes, want %d", ErrKID, len(kid), KIDLen)
	}
	msg := []any{ProtectedES256, map[int]any{4: kid}, payload, signature} // 4: kid
	body, err := encMode.Marshal(msg)
	if err != nil {
		return nil, err
	}
	return append([]byte{0xC0 | tagCOSESign1}, body...), nil
}
