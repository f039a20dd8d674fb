package issuer

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// uvciAlphabet is the code-point alphabet of the eHN UVCI checksum (Luhn
// mod N, N = 38): a character's value is its index.
const uvciAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/:"

// UVCIChecksum returns the Luhn mod N check character over uvci (the whole
// identifier, "URN:UVCI:" prefix included, without "#" and check).
func UVCIChecksum(uvci string) (byte, error) {
	const n = len(uvciAlphabet)
	factor, sum := 2, 0
	for i := len(uvci) - 1; i >= 0; i-- {
		cp := strings.IndexByte(uvciAlphabet, uvci[i])
		if cp < 0 {
			return 0, fmt.Errorf("uvci: character %q is outside A-Z, 0-9, slash and colon", uvci[i])
		}
		p := factor * cp
		sum += p/n + p%n
		factor = 3 - factor // 2, 1, 2, …
	}
	return uvciAlphabet[(n-sum%n)%n], nil
}

// ValidUVCIChecksum reports whether a "…#C" identifier carries the right
// check character. The spec warns never to reject a foreign certificate on
// it (many issuers use other schemes); it is for our own identifiers.
func ValidUVCIChecksum(uvci string) bool {
	body, check, ok := strings.Cut(uvci, "#")
	if !ok || len(check) != 1 {
		return false
	}
	c, err := UVCIChecksum(body)
	return err == nil && c == check[0]
}

// NewUVCI makes a unique certificate identifier
// URN:UVCI:01:<country>:<issuer>/<time><random>#<check>: version 01 of the
// eHN format, the issuing country, the issuer's id (upper-cased;
// characters outside A-Z 0-9 dropped), the issue time in milliseconds
// (9 base-36 digits) and 80 random bits (16 base-36 digits), with the Luhn
// mod N check character. Never longer than 80 characters (the schema's
// limit). The time prefix makes an issuer's identifiers ascend, so the
// store appends audit records instead of writing all over its tree; the
// time it reveals is in the certificate's iat anyway.
func NewUVCI(country, issuerID string, now time.Time) (string, error) {
	if len(country) != 2 || strings.Trim(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return "", fmt.Errorf("uvci: country %q is not ISO 3166-1 alpha-2", country)
	}
	issuer := uvciIssuerPart(issuerID)
	if issuer == "" {
		return "", errors.New("uvci: issuer id has no letters or digits")
	}
	random, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 80))
	if err != nil {
		return "", err
	}
	ms := max(now.UnixMilli(), 0)
	body := "URN:UVCI:01:" + country + ":" + issuer + "/" + base36(big.NewInt(ms), 9) + base36(random, 16)
	check, err := UVCIChecksum(body)
	if err != nil {
		return "", err
	}
	return body + "#" + string(check), nil
}

// uvciIssuerPart is the issuer's part of its UVCIs: the letters and digits
// of its id, upper case, cut to what leaves room for the rest (80
// characters in all).
func uvciIssuerPart(issuerID string) string {
	var part strings.Builder
	for _, r := range strings.ToUpper(issuerID) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			part.WriteRune(r)
		}
	}
	const maxIssuer = 80 - len("URN:UVCI:01:XX:") - 1 - 9 - 16 - 2 // "/", time, random, "#C"
	p := part.String()
	return p[:min(len(p), maxIssuer)]
}

// base36 writes n in upper-case base 36, zero-padded to width digits.
func base36(n *big.Int, width int) string {
	s := strings.ToUpper(n.Text(36))
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}
