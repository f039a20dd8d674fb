package trustlist

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	"github.com/smallstep/pkcs7"

	"github.com/greenpass-dcc/greenpass/hcert"
)

// ErrBadSignature: a list's signature does not verify under the pinned key.
var ErrBadSignature = errors.New("trust-list signature does not verify")

// SignList signs body the way CovPass lists are signed: ECDSA P-256 over
// SHA-256 of the bytes, returned as the raw 64-byte r‖s.
func SignList(signer crypto.Signer, body []byte) ([]byte, error) {
	digest := sha256.Sum256(body)
	sig, err := hcert.SignDigest(rand.Reader, signer, digest[:])
	if err != nil {
		return nil, fmt.Errorf("sign trust list: %w", err)
	}
	return sig, nil
}

// VerifyList checks a raw r‖s signature over body with pub (ECDSA P-256).
func VerifyList(pub crypto.PublicKey, body, sig []byte) error {
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		return errors.New("the trust-list key is not ECDSA P-256")
	}
	if len(sig) != 64 {
		return fmt.Errorf("%w: %d-byte signature, want 64", ErrBadSignature, len(sig))
	}
	digest := sha256.Sum256(body)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(key, digest[:], r, s) {
		return ErrBadSignature
	}
	return nil
}

// Verify checks the document's leading signature over its JSON; a document
// without a signature line fails.
func (d *Document) Verify(pub crypto.PublicKey) error {
	if d.Signature == nil {
		return fmt.Errorf("%w: the list carries no signature line", ErrBadSignature)
	}
	return VerifyList(pub, d.JSON, d.Signature)
}

// SignHeader is the X-SIGNATURE of the DGCA business-rule service: Base64
// of a DER ECDSA signature over the lower-case hex SHA-256 of body.
func SignHeader(signer crypto.Signer, body []byte) (string, error) {
	sum := sha256.Sum256(body)
	msg := sha256.Sum256([]byte(hex.EncodeToString(sum[:])))
	der, err := signer.Sign(rand.Reader, msg[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// VerifyHeader checks an X-SIGNATURE value against body.
func VerifyHeader(pub crypto.PublicKey, body []byte, header string) error {
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return errors.New("the signing key is not ECDSA")
	}
	der, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return fmt.Errorf("%w: X-SIGNATURE is not Base64", ErrBadSignature)
	}
	sum := sha256.Sum256(body)
	msg := sha256.Sum256([]byte(hex.EncodeToString(sum[:])))
	if !ecdsa.VerifyASN1(key, msg[:], der) {
		return ErrBadSignature
	}
	return nil
}

// PublicKeyPEM encodes a public key as a PEM "PUBLIC KEY" block (SPKI).
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads a pinned trust-list key: a PEM "PUBLIC KEY" or
// "CERTIFICATE" block, or Base64 DER SPKI (as /publickey services serve it).
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		switch block.Type {
		case "PUBLIC KEY":
			return x509.ParsePKIXPublicKey(block.Bytes)
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			return cert.PublicKey, nil
		}
		return nil, fmt.Errorf("PEM block %q is neither PUBLIC KEY nor CERTIFICATE", block.Type)
	}
	der, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, errors.New("neither PEM nor Base64 DER")
	}
	return x509.ParsePKIXPublicKey(der)
}

// SignCMS makes a detached CMS SignedData (SHA-256) over data, signed by
// cert's key: how a gateway entry carries its signature (an upload
// certificate signs a country's DSCs, the trust anchor its CSCAs and
// upload certificates).
func SignCMS(data []byte, cert *x509.Certificate, key crypto.Signer) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(data)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(cert, key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	sd.Detach()
	return sd.Finish()
}
