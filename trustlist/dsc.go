package trustlist

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"github.com/greenpass-dcc/greenpass/hcert"
)

// DSC is a document signer certificate trusted to sign DCCs.
type DSC struct {
	KID         []byte // first 8 bytes of SHA-256 over the DER encoding
	Country     string // ISO 3166-1 alpha-2 of the issuing state, when known
	Certificate *x509.Certificate
	// Key is the certificate's public key prepared for DCC verification, nil
	// when the key cannot verify DCCs (KeyErr says why: a P-384 or short RSA
	// key). Such a DSC stays in the list so a verifier can say why it failed.
	Key    *hcert.Key
	KeyErr error
}

// KID returns the DCC key identifier of a DER-encoded certificate.
func KID(der []byte) []byte {
	sum := sha256.Sum256(der)
	return sum[:hcert.KIDLen]
}

// NewDSC parses a DER certificate. country may be empty; it then defaults to
// the certificate subject's country (C=).
func NewDSC(der []byte, country string) (*DSC, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse DSC: %w", err)
	}
	if country == "" && len(cert.Subject.Country) > 0 {
		country = cert.Subject.Country[0]
	}
	d := &DSC{KID: KID(der), Country: country, Certificate: cert}
	d.Key, d.KeyErr = hcert.NewKey(cert.PublicKey)
	return d, nil
}

// ParseCertificate reads one certificate as PEM, Base64 DER or raw DER and
// returns its DER bytes.
func ParseCertificate(data []byte) ([]byte, error) {
	trimmed := strings.TrimSpace(string(data))
	if strings.HasPrefix(trimmed, "-----BEGIN") {
		block, _ := pem.Decode([]byte(trimmed))
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("PEM data holds no CERTIFICATE block")
		}
		return block.Bytes, nil
	}
	if len(data) > 0 && data[0] == 0x30 { // DER SEQUENCE
		return data, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(trimmed), ""))
	if err != nil {
		return nil, fmt.Errorf("neither PEM, DER nor Base64 DER: %w", err)
	}
	return der, nil
}
