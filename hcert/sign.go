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
	if len(kid) != KIDLen {
		return nil, fmt.Errorf("%w: kid has %d bytes, want %d", ErrKID, len(kid), KIDLen)
	}
	if claims.IssuedAt.IsZero() || claims.ExpiresAt.IsZero() {
		return nil, fmt.Errorf("%w: iat and exp are required", ErrClaims)
	}
	alg, err := algorithmFor(signer.Public())
	if err != nil {
		return nil, err
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
	cs, err := cose.NewSigner(alg, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyMismatch, err)
	}
	msg := cose.Sign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{
			cose.HeaderLabelAlgorithm: alg,
			cose.HeaderLabelKeyID:     kid,
		}},
		Payload: payload,
	}
	if err := msg.Sign(rand, nil, cs); err != nil {
		return nil, fmt.Errorf("sign COSE_Sign1: %w", err)
	}
	return msg.MarshalCBOR()
}

// EncodeText turns a signed COSE_Sign1 message into the QR text:
// "HC1:" + Base45(zlib(cose)).
func EncodeText(coseMsg []byte) string {
	return Prefix + EncodeBase45(Compress(coseMsg))
}
