package hcert

import (
	"crypto"
	"fmt"
	"io"

	"github.com/veraison/go-cose"
)

// Sign builds the CWT for cert and claims (iss, iat, exp; claims.DCC is
// ignored) and signs it as a tagged COSE_Sign1 with the kid in the protected
// header, as HCERT §3.3 prescribes. The algorithm follows the key: ES256 for
// ECDSA P-256, PS256 for RSA ≥ 2048 bits. The payload is canonical CBOR.
func Sign(rand io.Reader, signer crypto.Signer, kid []byte, claims Claims, cert *Certificate) ([]byte, error) {
	payload, err := EncodeCWT(claims, cert)
	if err != nil {
		return nil, err
	}
	return SignCWT(rand, signer, kid, payload)
}

// EncodeCWT returns the CWT claims map for cert and claims as canonical
// CBOR: the same inputs always give the same bytes, so a signature over
// them can be re-attached later (AssembleSign1).
func EncodeCWT(claims Claims, cert *Certificate) ([]byte, error) {
	if claims.IssuedAt.IsZero() || claims.ExpiresAt.IsZero() {
		return nil, fmt.Errorf("%w: iat and exp are required", ErrClaims)
	}
	cwt := map[int]any{
		claimExp:   claims.ExpiresAt.Unix(),
		claimIat:   claims.IssuedAt.Unix(),
		claimHCert: map[int]any{hcertEUDCC: cert},
	}
	if claims.Issuer != "" {
		cwt[claimIss] = claims.Issuer
	}
	payload, err := encMode.Marshal(cwt)
	if err != nil {
		return nil, fmt.Errorf("encode CWT: %w", err)
	}
	return payload, nil
}

// SignCWT signs an encoded CWT as a tagged COSE_Sign1 (see Sign).
func SignCWT(rand io.Reader, signer crypto.Signer, kid []byte, payload []byte) ([]byte, error) {
	alg, err := signingAlg(signer.Public(), kid)
	if err != nil {
		return nil, err
	}
	cs, err := cose.NewSigner(alg, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	msg := sign1(alg, kid, payload, nil)
	if err := msg.Sign(rand, nil, cs); err != nil {
		return nil, fmt.Errorf("sign COSE_Sign1: %w", err)
	}
	return msg.MarshalCBOR()
}

// AssembleSign1 rebuilds the tagged COSE_Sign1 that SignCWT made for a key
// of type pub, kid and payload from its signature, byte for byte. It does
// not check the signature.
func AssembleSign1(pub crypto.PublicKey, kid, payload, signature []byte) ([]byte, error) {
	alg, err := signingAlg(pub, kid)
	if err != nil {
		return nil, err
	}
	return sign1(alg, kid, payload, signature).MarshalCBOR()
}

func signingAlg(pub crypto.PublicKey, kid []byte) (cose.Algorithm, error) {
	if len(kid) != KIDLen {
		return 0, fmt.Errorf("%w: kid has %d bytes, want %d", ErrKID, len(kid), KIDLen)
	}
	return algorithmFor(pub)
}

func sign1(alg cose.Algorithm, kid, payload, signature []byte) *cose.Sign1Message {
	return &cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: alg,
			cose.HeaderLabelKeyID:     kid,
		}},
		Payload:   payload,
		Signature: signature,
	}
}

// EncodeText turns a signed COSE_Sign1 message into the QR text:
// "HC1:" + Base45(zlib(cose)).
func EncodeText(coseMsg []byte) string {
	return Prefix + EncodeBase45(Compress(coseMsg))
}
