package hcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"reflect"
	"testing"

	"github.com/veraison/go-cose"
)

// sameAsDecoder holds one fast path to the decoder: what fast takes, slow
// must take and decode alike.
func sameAsDecoder[T any](t *testing.T, in []byte, what string, fast func([]byte, *T) bool, slow func([]byte, *T) error) {
	t.Helper()
	var got T
	if !fast(in, &got) {
		return
	}
	var want T
	if err := slow(in, &want); err != nil {
		t.Fatalf("%s: fast path took %x, the decoder refuses it: %v", what, in, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s of %x: fast %#v, decoder %#v", what, in, got, want)
	}
}

// checkFastPaths decodes in with each fast path and, where one succeeds,
// with the reflective decoder too: a fast path may only take what the
// decoder takes, and must produce what it produces.
func checkFastPaths(t *testing.T, in []byte) {
	t.Helper()
	sameAsDecoder(t, in, "envelope", fastEnvelope, func(b []byte, v *envelope) error { return decMode.Unmarshal(b, v) })
	sameAsDecoder(t, in, "header", fastHeader, func(b []byte, v *header) error { return decodeInto(b, v, "header") })
	sameAsDecoder(t, in, "claims", fastClaims, func(b []byte, v *rawClaims) error { return decodeInto(b, v, "claims") })
	var c Certificate
	if seen, ok := fastPayload(in, &c); ok {
		var w wirePayload
		if err := decodeInto(in, &w, "payload"); err != nil {
			t.Fatalf("payload: fast path took %x, the decoder refuses it: %v", in, err)
		}
		want, wantSeen := w.certificate()
		if seen&(seenVer|seenDob|seenNam) != wantSeen || !reflect.DeepEqual(c, want) {
			t.Fatalf("payload of %x: fast %#v (seen %b), decoder %#v (seen %b)", in, c, seen, want, wantSeen)
		}
	}
}

// fastSeeds are the COSE messages of the EU vectors and the parts each is
// read in: envelope, headers, claims, payload.
func fastSeeds(t testing.TB) (all [][]byte, payloads [][]byte) {
	for _, s := range vectorSeeds(t, "COSE") {
		all = append(all, s)
		body := s
		if len(body) > 2 && body[0] == 0xD8 {
			body = body[2:]
		}
		if len(body) > 1 && body[0] == 0xD2 {
			body = body[1:]
		}
		all = append(all, body)
		var env envelope
		if decMode.Unmarshal(body, &env) == nil {
			all = append(all, env.Unprotected)
			if p, err := byteString(env.Protected, ""); err == nil {
				all = append(all, p)
			}
		}
		if msg, err := ParseSign1(s); err == nil {
			all = append(all, msg.Payload)
			if c, err := ParseClaims(msg.Payload); err == nil {
				all = append(all, c.DCC)
				payloads = append(payloads, c.DCC)
			}
		}
	}
	return all, payloads
}

func TestFastPathsAgreeWithTheDecoder(t *testing.T) {
	seeds, payloads := fastSeeds(t)
	own := mustSign(t, mustECKey(t))
	msg, err := ParseSign1(own)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := ParseClaims(msg.Payload)
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, own, msg.Payload, claims.DCC)
	for _, s := range seeds {
		checkFastPaths(t, s)
	}

	// The fast path must be the one real certificates take, not a dead
	// branch: greenpass's own and nearly all of the EU vectors'.
	var c Certificate
	if _, ok := fastPayload(claims.DCC, &c); !ok {
		t.Fatal("greenpass's own payload takes the slow path")
	}
	if !fastClaims(msg.Payload, new(rawClaims)) {
		t.Fatal("greenpass's own claims take the slow path")
	}
	fast := 0
	for _, p := range payloads {
		if _, ok := fastPayload(p, new(Certificate)); ok {
			fast++
		}
	}
	t.Logf("%d of %d EU vector payloads take the fast path", fast, len(payloads))
	if fast < len(payloads)*8/10 {
		t.Fatalf("only %d of %d EU vector payloads take the fast path", fast, len(payloads))
	}

	// Shapes the fast path leaves to the decoder, and ones both refuse.
	for name, in := range map[string][]byte{
		"indefinite map":      {0xBF, 0x63, 'v', 'e', 'r', 0x61, '1', 0xFF},
		"duplicate key":       {0xA2, 0x63, 'v', 'e', 'r', 0x61, '1', 0x63, 'v', 'e', 'r', 0x61, '2'},
		"unknown key":         {0xA1, 0x63, 'x', 'y', 'z', 0x61, '1'},
		"null group":          {0xA1, 0x61, 't', 0xF6},
		"invalid UTF-8":       {0xA1, 0x63, 'v', 'e', 'r', 0x61, 0xFF},
		"trailing byte":       {0xA1, 0x63, 'v', 'e', 'r', 0x61, '1', 0x00},
		"float dose":          {0xA1, 0x61, 'v', 0x81, 0xA1, 0x62, 'd', 'n', 0xF9, 0x3C, 0x00},
		"tagged text":         {0xA1, 0x63, 'v', 'e', 'r', 0xC0, 0x61, '1'},
		"truncated":           {0xA1, 0x63, 'v', 'e', 'r', 0x65, '1'},
		"case-folded key":     {0xA1, 0x63, 'V', 'E', 'R', 0x61, '1'},
		"claims, unknown key": {0xA1, 0x02, 0x61, 'x'},
		"header, null kid":    {0xA1, 0x04, 0xF6},
		"header, alg twice":   {0xA2, 0x01, 0x26, 0x01, 0x26},
	} {
		var c Certificate
		if _, ok := fastPayload(in, &c); ok {
			t.Errorf("%s: fast path took %x", name, in)
		}
		if fastClaims(in, new(rawClaims)) || fastHeader(in, new(header)) {
			t.Errorf("%s: a fast path took %x", name, in)
		}
		checkFastPaths(t, in)
	}
}

func FuzzFastPaths(f *testing.F) {
	seeds, _ := fastSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(checkFastPaths)
}

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// es256Agree checks that verifyES256 and go-cose's ES256 verifier give the
// same verdict on sig.
func es256Agree(t *testing.T, pub *ecdsa.PublicKey, digest, sig []byte) bool {
	t.Helper()
	v, err := cose.NewVerifier(cose.AlgorithmES256, pub)
	if err != nil {
		t.Fatal(err)
	}
	want := v.(cose.DigestVerifier).VerifyDigest(digest, sig) == nil
	if got := verifyES256(pub, digest, sig); got != want {
		t.Fatalf("signature %x: verifyES256 says %v, go-cose %v", sig, got, want)
	}
	return want
}

func TestVerifyES256MatchesGoCOSE(t *testing.T) {
	key := mustECKey(t)
	digest := sha256.Sum256([]byte("Sig_structure"))
	signer, err := cose.NewSigner(cose.AlgorithmES256, key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.(cose.DigestSigner).SignDigest(rand.Reader, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if !es256Agree(t, &key.PublicKey, digest[:], sig) {
		t.Fatal("a genuine signature does not verify")
	}
	order := elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	set := func(r, s []byte) []byte { return append(append([]byte{}, r...), s...) }
	flipped := bytes.Clone(sig)
	flipped[40] ^= 1
	zero := make([]byte, 32)
	high := bytes.Repeat([]byte{0xFF}, 32)
	lead := append([]byte{0, 0, 0}, sig[3:32]...)
	for name, bad := range map[string][]byte{
		"bit flipped":        flipped,
		"r zero":             set(zero, sig[32:]),
		"s zero":             set(sig[:32], zero),
		"r is the order":     set(order, sig[32:]),
		"s all ones":         set(sig[:32], high),
		"r leading zeros":    set(lead, sig[32:]),
		"63 bytes":           sig[:63],
		"65 bytes":           append(bytes.Clone(sig), 0),
		"DER instead of raw": mustDER(t, key, digest[:]),
		"empty":              nil,
	} {
		if es256Agree(t, &key.PublicKey, digest[:], bad) {
			t.Errorf("%s: verified", name)
		}
	}
	other := mustECKey(t)
	if es256Agree(t, &other.PublicKey, digest[:], sig) {
		t.Error("verified under another key")
	}
}

func mustDER(t *testing.T, key *ecdsa.PrivateKey, digest []byte) []byte {
	der, err := ecdsa.SignASN1(rand.Reader, key, digest)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func FuzzVerifyES256(f *testing.F) {
	key := mustECKey(f)
	digest := sha256.Sum256([]byte("Sig_structure"))
	signer, _ := cose.NewSigner(cose.AlgorithmES256, key)
	sig, err := signer.(cose.DigestSigner).SignDigest(rand.Reader, digest[:])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig)
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, sig []byte) {
		es256Agree(t, &key.PublicKey, digest[:], sig)
	})
}
