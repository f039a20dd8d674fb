package hcert

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

var testKID = []byte{1, 2, 3, 4, 5, 6, 7, 8}

func testCertificate() *Certificate {
	return &Certificate{
		Version:     "1.3.0",
		Name:        Name{Family: "Muster", FamilyStandard: "MUSTER", Given: "Erika", GivenStandard: "ERIKA"},
		DateOfBirth: "1964-08-12",
		Vaccinations: []Vaccination{{
			Target: "840539006", Vaccine: "1119349007", Product: "EU/1/20/1528", Manufacturer: "ORG-100030215",
			DoseNumber: 2, TotalDoses: 2, Date: "2021-05-29", Country: "DE", Issuer: "Robert Koch-Institut",
			ID: "URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W",
		}},
	}
}

func testClaims() Claims {
	iat := time.Date(2021, 6, 1, 10, 0, 0, 0, time.UTC)
	return Claims{Issuer: "DE", IssuedAt: iat, ExpiresAt: iat.AddDate(1, 0, 0)}
}

func mustSign(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	msg, err := Sign(rand.Reader, key, testKID, testClaims(), testCertificate())
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestSignVerifyRoundTrip(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tt := range []struct {
		name string
		key  crypto.Signer
		alg  cose.Algorithm
	}{{"ES256", ecKey, AlgES256}, {"PS256", rsaKey, AlgPS256}} {
		t.Run(tt.name, func(t *testing.T) {
			raw := mustSign(t, tt.key)
			text := EncodeText(raw)
			b45, err := TrimPrefix(text)
			if err != nil {
				t.Fatal(err)
			}
			compressed, err := DecodeBase45(b45)
			if err != nil {
				t.Fatal(err)
			}
			coseMsg, err := Decompress(compressed, 0)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := ParseSign1(coseMsg)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Alg != tt.alg || !bytes.Equal(msg.KID, testKID) || !msg.KIDProtected || !msg.Tagged {
				t.Fatalf("parsed alg=%v kid=%x protected=%v tagged=%v", msg.Alg, msg.KID, msg.KIDProtected, msg.Tagged)
			}
			key, err := NewKey(tt.key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if err := msg.Verify(key); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			claims, err := ParseClaims(msg.Payload)
			if err != nil {
				t.Fatal(err)
			}
			want := testClaims()
			if claims.Issuer != want.Issuer || !claims.IssuedAt.Equal(want.IssuedAt) || !claims.ExpiresAt.Equal(want.ExpiresAt) || claims.FloatTimes {
				t.Fatalf("claims = %+v, want %+v", claims, want)
			}
			cert, err := DecodePayload(claims.DCC)
			if err != nil {
				t.Fatal(err)
			}
			if err := cert.Validate(); err != nil {
				t.Fatal(err)
			}
			if got, want := cert, testCertificate(); !equalJSON(t, got, want) {
				t.Fatalf("payload = %+v, want %+v", got, want)
			}

			// go-cose itself accepts and verifies what we sign.
			var gm cose.Sign1Message
			if err := gm.UnmarshalCBOR(raw); err != nil {
				t.Fatalf("go-cose cannot parse our message: %v", err)
			}
			v, _ := cose.NewVerifier(tt.alg, tt.key.Public())
			if err := gm.Verify(nil, v); err != nil {
				t.Fatalf("go-cose does not verify our message: %v", err)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	raw := mustSign(t, ecKey)
	msg, err := ParseSign1(raw)
	if err != nil {
		t.Fatal(err)
	}
	key := func(pub crypto.PublicKey) *Key {
		k, err := NewKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tamper := func(f func(m *Sign1)) *Sign1 {
		c := *msg
		c.Payload, c.Signature, c.Protected = bytes.Clone(msg.Payload), bytes.Clone(msg.Signature), bytes.Clone(msg.Protected)
		f(&c)
		return &c
	}
	tests := []struct {
		name string
		msg  *Sign1
		key  *Key
		err  error
	}{
		{"other key", msg, key(otherKey.Public()), ErrSignature},
		{"payload changed", tamper(func(m *Sign1) { m.Payload[len(m.Payload)-1] ^= 1 }), key(ecKey.Public()), ErrSignature},
		{"protected header changed", tamper(func(m *Sign1) { m.Protected[len(m.Protected)-1] ^= 1 }), key(ecKey.Public()), ErrSignature},
		{"signature truncated (TD CO5)", tamper(func(m *Sign1) { m.Signature = m.Signature[:3] }), key(ecKey.Public()), ErrSignature},
		{"DER-length signature (TD list CO24)", tamper(func(m *Sign1) { m.Signature = append(m.Signature, make([]byte, 8)...) }), key(ecKey.Public()), ErrSignature},
		{"RSA key for an ES256 message (TD CO27)", msg, key(rsaKey.Public()), ErrKeyMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.msg.Verify(tt.key); !errors.Is(err, tt.err) {
				t.Fatalf("Verify error = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestNewKeyRefusesKeysThatCannotSignDCCs(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, pub := range map[string]crypto.PublicKey{"P-384 (TD ES 401-403)": p384.Public(), "RSA-1024": rsa1024.Public(), "nil": nil} {
		if _, err := NewKey(pub); !errors.Is(err, ErrKeyMismatch) {
			t.Errorf("%s: NewKey error = %v, want ErrKeyMismatch", name, err)
		}
	}
}

// coseBytes builds a COSE_Sign1 from parts, for malformed-input tests.
func coseBytes(t *testing.T, tag []uint64, protected map[any]any, unprotected map[any]any, payload, sig []byte) []byte {
	t.Helper()
	prot := []byte{} // empty protected header: zero-length bstr
	if protected != nil {
		var err error
		if prot, err = cbor.Marshal(protected); err != nil {
			t.Fatal(err)
		}
	}
	if unprotected == nil {
		unprotected = map[any]any{}
	}
	var v any = []any{prot, unprotected, payload, sig}
	for i := len(tag) - 1; i >= 0; i-- {
		v = cbor.Tag{Number: tag[i], Content: v}
	}
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSign1HeaderVariants(t *testing.T) {
	other := []byte{9, 9, 9, 9, 9, 9, 9, 9}
	payload, sig := []byte{0xA0}, make([]byte, 64)
	tests := []struct {
		name         string
		data         []byte
		err          error
		kid          []byte
		kidProtected bool
	}{
		{"tagged, kid protected", coseBytes(t, []uint64{18}, map[any]any{1: -7, 4: testKID}, nil, payload, sig), nil, testKID, true},
		{"untagged", coseBytes(t, nil, map[any]any{1: -7, 4: testKID}, nil, payload, sig), nil, testKID, true},
		{"CWT tag 61 around 18 (TD CO28)", coseBytes(t, []uint64{61, 18}, map[any]any{1: -7, 4: testKID}, nil, payload, sig), nil, testKID, true},
		{"kid only unprotected (TD CO19)", coseBytes(t, []uint64{18}, map[any]any{1: -7}, map[any]any{4: testKID}, payload, sig), nil, testKID, false},
		{"empty protected, alg+kid unprotected (TD CO20)", coseBytes(t, []uint64{18}, nil, map[any]any{1: -7, 4: testKID}, payload, sig), nil, testKID, false},
		{"protected kid wins over unprotected", coseBytes(t, []uint64{18}, map[any]any{1: -37, 4: testKID}, map[any]any{4: other}, payload, sig), nil, testKID, true},
		{"unprotected kid is text (TD CO21)", coseBytes(t, []uint64{18}, map[any]any{1: -7, 4: testKID}, map[any]any{4: "foo"}, payload, sig), nil, testKID, true},
		{"protected kid is text (TD CO22)", coseBytes(t, []uint64{18}, map[any]any{1: -7, 4: "foo"}, map[any]any{4: testKID}, payload, sig), ErrKID, nil, false},
		{"kid 7 bytes (TD list CO25)", coseBytes(t, []uint64{18}, map[any]any{1: -7, 4: testKID[:7]}, nil, payload, sig), ErrKID, nil, false},
		{"kid 9 bytes (TD list CO26)", coseBytes(t, []uint64{18}, map[any]any{1: -7, 4: append(testKID, 0)}, nil, payload, sig), ErrKID, nil, false},
		{"no kid", coseBytes(t, []uint64{18}, map[any]any{1: -7}, nil, payload, sig), ErrKID, nil, false},
		{"ES384 (TD list CO4)", coseBytes(t, []uint64{18}, map[any]any{1: -35, 4: testKID}, nil, payload, sig), ErrAlgorithm, nil, false},
		{"no alg", coseBytes(t, []uint64{18}, map[any]any{4: testKID}, nil, payload, sig), ErrAlgorithm, nil, false},
		{"alg as text", coseBytes(t, []uint64{18}, map[any]any{1: "ES256", 4: testKID}, nil, payload, sig), ErrAlgorithm, nil, false},
		{"other tag", coseBytes(t, []uint64{98}, map[any]any{1: -7, 4: testKID}, nil, payload, sig), ErrCOSE, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := ParseSign1(tt.data)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if err == nil && (!bytes.Equal(msg.KID, tt.kid) || msg.KIDProtected != tt.kidProtected) {
				t.Fatalf("kid = %x (protected %v), want %x (protected %v)", msg.KID, msg.KIDProtected, tt.kid, tt.kidProtected)
			}
		})
	}
}

func TestParseSign1RejectsMalformed(t *testing.T) {
	good := coseBytes(t, []uint64{18}, map[any]any{1: -7, 4: testKID}, nil, []byte{0xA0}, make([]byte, 64))
	dupProtected, _ := hexBytes("a3012604480102030405060708" + "0126") // {1:-7, 4:kid, 1:-7}
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"trailing bytes", append(bytes.Clone(good), 0x00)},
		{"truncated", good[:len(good)-5]},
		{"three elements", mustCBOR(t, cbor.Tag{Number: 18, Content: []any{[]byte{}, map[any]any{}, []byte{}}})},
		{"payload is text", mustCBOR(t, []any{[]byte{}, map[any]any{}, "payload", []byte{1}})},
		{"payload is an array of bytes", mustCBOR(t, []any{[]byte{}, map[any]any{}, []int{1, 2}, []byte{1}})},
		{"unprotected is an array", mustCBOR(t, []any{[]byte{}, []any{}, []byte{}, []byte{1}})},
		{"protected not a map", mustCBOR(t, []any{mustCBOR(t, []int{1}), map[any]any{}, []byte{}, []byte{1}})},
		{"duplicate key in protected header", mustCBOR(t, []any{dupProtected, map[any]any{}, []byte{0xA0}, make([]byte, 64)})},
		{"not CBOR", []byte("HC1:NCF")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseSign1(tt.data); !errors.Is(err, ErrCOSE) {
				t.Fatalf("error = %v, want ErrCOSE", err)
			}
		})
	}
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A signature kept apart re-assembles into the very message that was
// signed, for both key types; a different payload does not verify.
func TestAssembleSign1(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, key := range []crypto.Signer{ecKey, rsaKey} {
		payload, err := EncodeCWT(testClaims(), testCertificate())
		if err != nil {
			t.Fatal(err)
		}
		signed, err := SignCWT(rand.Reader, key, testKID, payload)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := ParseSign1(signed)
		if err != nil {
			t.Fatal(err)
		}
		again, err := EncodeCWT(testClaims(), testCertificate())
		if err != nil {
			t.Fatal(err)
		}
		rebuilt, err := AssembleSign1(key.Public(), testKID, again, msg.Signature)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rebuilt, signed) {
			t.Errorf("%T: reassembled message differs from the signed one", key)
		}
		other := testClaims()
		other.ExpiresAt = other.ExpiresAt.Add(time.Second)
		changed, _ := EncodeCWT(other, testCertificate())
		forged, err := AssembleSign1(key.Public(), testKID, changed, msg.Signature)
		if err != nil {
			t.Fatal(err)
		}
		k, _ := NewKey(key.Public())
		fm, err := ParseSign1(forged)
		if err != nil {
			t.Fatal(err)
		}
		if fm.Verify(k) == nil {
			t.Errorf("%T: signature verifies over a changed payload", key)
		}
	}
	if _, err := AssembleSign1(ecKey.Public(), []byte{1}, nil, nil); !errors.Is(err, ErrKID) {
		t.Errorf("short kid: %v, want ErrKID", err)
	}
}
