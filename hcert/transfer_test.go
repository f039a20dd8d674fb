package hcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

// A payload swapped out and back gives the signed message byte for byte,
// and the swapped message still parses with everything else unchanged.
func TestReplacePayloadKeepsTheRest(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kid := []byte("12345678")
	payload, err := EncodeCWT(testClaims(), testCertificate())
	if err != nil {
		t.Fatal(err)
	}
	signed, err := SignCWT(rand.Reader, key, kid, payload)
	if err != nil {
		t.Fatal(err)
	}
	swapped, err := ReplacePayload(signed, []byte("ciphertext"))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ParseSign1(signed)
	b, err := ParseSign1(swapped)
	if err != nil || string(b.Payload) != "ciphertext" || !bytes.Equal(a.Protected, b.Protected) ||
		!bytes.Equal(a.Signature, b.Signature) || !b.Tagged {
		t.Fatalf("swapped message: %+v, %v", b, err)
	}
	back, err := ReplacePayload(swapped, payload)
	if err != nil || !bytes.Equal(back, signed) {
		t.Fatalf("swapping back did not restore the signed bytes: %v", err)
	}
	for _, bad := range [][]byte{nil, {0x84}, []byte("not cbor"), {0xD2, 0x83, 0x40, 0xA0, 0x40}} {
		if _, err := ReplacePayload(bad, []byte("x")); !errors.Is(err, ErrCOSE) {
			t.Errorf("ReplacePayload(%x) = %v, want ErrCOSE", bad, err)
		}
	}
}

// The lab flow of the CWA contract: the lab hashes the Sig_structure over
// {1: -7} and its CWT, the signer signs the hash blind, and the message
// assembled from the partial answer verifies with the kid from the
// unprotected header.
func TestHashSigningLikeTheCWAContract(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kid := []byte("abcdefgh")
	payload, _ := EncodeCWT(testClaims(), testCertificate())
	digest := SigStructureDigest(ProtectedES256, payload)
	sig, err := SignDigest(rand.Reader, key, digest)
	if err != nil || len(sig) != 64 {
		t.Fatalf("SignDigest: %d bytes, %v", len(sig), err)
	}
	partial, err := PartialSign1(kid, []byte{}, sig)
	if err != nil {
		t.Fatal(err)
	}
	full, err := ReplacePayload(partial, payload)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := ParseSign1(full)
	if err != nil {
		t.Fatal(err)
	}
	if msg.KIDProtected || !bytes.Equal(msg.KID, kid) || msg.Alg != AlgES256 || !bytes.Equal(msg.Protected, ProtectedES256) {
		t.Fatalf("assembled message: kid %x (protected %v), alg %v", msg.KID, msg.KIDProtected, msg.Alg)
	}
	k, _ := NewKey(key.Public())
	if err := msg.Verify(k); err != nil {
		t.Fatalf("verify: %v", err)
	}
	// A digest of other bytes does not verify.
	wrong, _ := ReplacePayload(partial, append(payload[:len(payload):len(payload)], 0))
	if m, _ := ParseSign1(wrong); m.Verify(k) == nil {
		t.Fatal("a message with another payload verified")
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := SignDigest(rand.Reader, rsaKey, digest); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("RSA signer: %v", err)
	}
	if _, err := SignDigest(rand.Reader, key, digest[:20]); err == nil {
		t.Fatal("a 20-byte digest was signed")
	}
}

func FuzzReplacePayload(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload, _ := EncodeCWT(testClaims(), testCertificate())
	signed, _ := SignCWT(rand.Reader, key, []byte("12345678"), payload)
	f.Add(signed, []byte("x"))
	f.Add([]byte{0x84, 0x40, 0xA0, 0x40, 0x40}, []byte{})
	f.Fuzz(func(t *testing.T, msg, payload []byte) {
		out, err := ReplacePayload(msg, payload)
		if err != nil {
			return
		}
		// A message that parsed still parses, with the new payload and
		// everything else as it was.
		if m, perr := ParseSign1(msg); perr == nil {
			n, err := ParseSign1(out)
			if err != nil || !bytes.Equal(n.Payload, payload) || !bytes.Equal(n.Protected, m.Protected) ||
				!bytes.Equal(n.Signature, m.Signature) || !bytes.Equal(n.KID, m.KID) || n.Alg != m.Alg {
				t.Fatalf("swapped message differs beyond its payload: %v", err)
			}
		}
	})
}
