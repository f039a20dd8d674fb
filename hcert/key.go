package hcert

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/veraison/go-cose"
)

// Key is a document signer's public key prepared for verifying DCC
// signatures. Preparing it once (curve and modulus checks, go-cose verifier)
// keeps that work out of every verification.
type Key struct {
	alg      cose.Algorithm
	verifier cose.DigestVerifier
	es256    *ecdsa.PublicKey // set for ES256: verified without go-cose's big.Int round trip
}

// NewKey prepares pub for verification: an ECDSA P-256 key verifies ES256, an
// RSA key of at least 2048 bits verifies PS256. Any other key (P-384, short
// RSA, Ed25519) is refused with ErrKeyMismatch: a DCC may only be signed with
// those two algorithms.
func NewKey(pub crypto.PublicKey) (*Key, error) {
	alg, err := algorithmFor(pub)
	if err != nil {
		return nil, err
	}
	v, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	dv, ok := v.(cose.DigestVerifier)
	if !ok {
		return nil, fmt.Errorf("%w: no digest verifier for %v", ErrKeyMismatch, alg)
	}
	k := &Key{alg: alg, verifier: dv}
	if alg == AlgES256 {
		k.es256 = pub.(*ecdsa.PublicKey)
	}
	return k, nil
}

// Alg is the only algorithm the key verifies.
func (k *Key) Alg() cose.Algorithm { return k.alg }

// algorithmFor returns the DCC algorithm that goes with a key.
func algorithmFor(pub crypto.PublicKey) (cose.Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return 0, fmt.Errorf("%w: ECDSA key on %s, ES256 needs P-256", ErrKeyMismatch, k.Curve.Params().Name)
		}
		return AlgES256, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, fmt.Errorf("%w: RSA key of %d bits, PS256 needs at least 2048", ErrKeyMismatch, k.N.BitLen())
		}
		return AlgPS256, nil
	}
	return 0, fmt.Errorf("%w: %T keys cannot sign a DCC", ErrKeyMismatch, pub)
}

// Verify checks the message's signature with k. It returns ErrKeyMismatch when
// the message's alg is not the key's (TD CO27: alg/key mismatch is invalid)
// and ErrSignature when the signature does not verify; an ES256 signature must
// be the raw 64-byte r‖s, a PS256 one as long as the modulus.
func (m *Sign1) Verify(k *Key) error {
	if k == nil {
		return errors.New("hcert: Verify with nil key")
	}
	if m.Alg != k.alg {
		return fmt.Errorf("%w: message is %v, key verifies %v", ErrKeyMismatch, m.Alg, k.alg)
	}
	ok := false
	if k.es256 != nil {
		ok = verifyES256(k.es256, m.digest(), m.Signature)
	} else {
		ok = k.verifier.VerifyDigest(m.digest(), m.Signature) == nil
	}
	if !ok {
		return fmt.Errorf("%w: %v signature of %d bytes", ErrSignature, m.Alg, len(m.Signature))
	}
	return nil
}

// verifyES256 checks a raw r‖s signature (RFC 9053 §2.1) as go-cose's ES256
// verifier does (exactly 64 bytes, then ecdsa.Verify of the two halves),
// but hands crypto/ecdsa the DER it would otherwise build from two big.Ints:
// the same check, a few allocations less per verification.
// TestVerifyES256MatchesGoCOSE and FuzzVerifyES256 hold the two alike.
func verifyES256(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	var buf [72]byte // SEQUENCE { INTEGER r, INTEGER s }, each at most 33 bytes
	der := append(buf[:0], 0x30, 0)
	der = appendASN1Uint(der, sig[:32])
	der = appendASN1Uint(der, sig[32:])
	der[1] = byte(len(der) - 2)
	return ecdsa.VerifyASN1(pub, digest, der)
}

// appendASN1Uint appends the DER INTEGER of the unsigned big-endian b:
// leading zeros dropped, a zero byte added where the top bit is set.
func appendASN1Uint(dst, b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	n := len(b)
	if b[0]&0x80 != 0 {
		dst = append(dst, 0x02, byte(n+1), 0)
	} else {
		dst = append(dst, 0x02, byte(n))
	}
	return append(dst, b...)
}
