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
	return &Key{alg: alg, verifier: dv}, nil
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
	if err := k.verifier.VerifyDigest(m.digest(), m.Signature); err != nil {
		return fmt.Errorf("%w: %v signature of %d bytes", ErrSignature, m.Alg, len(m.Signature))
	}
	return nil
}
