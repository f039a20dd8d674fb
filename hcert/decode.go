package hcert

// Unverified is a DCC decoded as far as its COSE_Sign1 message: the claims
// and the certificate inside are not to be believed until the signature is
// checked. They come out only through Verify, or through Unchecked, which
// names the choice at the call site.
type Unverified struct {
	Sign1 *Sign1
}

// Decode runs the chain up to COSE: the HC1: prefix, Base45, zlib (bounded)
// and the COSE_Sign1 structure. Each step's error is wrapped with its
// sentinel (ErrNoPrefix, ErrBase45, ErrCompression, ErrCOSE, …).
func Decode(text string) (*Unverified, error) {
	b45, err := TrimPrefix(text)
	if err != nil {
		return nil, err
	}
	coseMsg, err := InflateBase45(b45, 0)
	if err != nil {
		return nil, err // names the step itself ("invalid base45: …")
	}
	msg, err := ParseSign1(coseMsg)
	if err != nil {
		return nil, err
	}
	return &Unverified{Sign1: msg}, nil
}

// IsDCCText reports whether text decodes as far as a COSE_Sign1 message: a
// DCC, not some other QR code (a menu link) in the same picture.
func IsDCCText(text string) bool {
	_, err := Decode(text)
	return err == nil
}

// Verify checks the signature with key and only then decodes the claims and
// the certificate (HCERT §6.3).
func (u *Unverified) Verify(key *Key) (*Claims, *Certificate, error) {
	if err := u.Sign1.Verify(key); err != nil {
		return nil, nil, err
	}
	return u.open()
}

// Unchecked decodes the claims and the certificate without checking the
// signature: for a copy whose signature was checked before (a wallet's
// stored certificates), never for a decision.
func (u *Unverified) Unchecked() (*Claims, *Certificate, error) {
	return u.open()
}

func (u *Unverified) open() (*Claims, *Certificate, error) {
	claims, err := ParseClaims(u.Sign1.Payload)
	if err != nil {
		return nil, nil, err
	}
	cert, err := DecodePayload(claims.DCC)
	if err != nil {
		return claims, nil, err
	}
	return claims, cert, nil
}
