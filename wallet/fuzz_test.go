package wallet

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

func FuzzParseDeviceKey(f *testing.F) {
	f.Add(deviceKeyB64)
	f.Add("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseDeviceKey(in)
		if err == nil && (k.N.BitLen() < MinDeviceKeyBits || k.N.BitLen() > MaxDeviceKeyBits) {
			t.Fatalf("accepted a %d-bit key", k.N.BitLen())
		}
	})
}

// An envelope from anywhere (a server the app talks to) never panics the
// app: it opens, or it is an error.
func FuzzOpenCertificate(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	dek, ct, _ := Seal(rand.Reader, &key.PublicKey, []byte("cwt"))
	f.Add(dek, append([]byte{0xD2, 0x84, 0x43, 0xA1, 0x01, 0x26, 0xA0, 0x50}, ct...))
	f.Add([]byte{}, []byte{0x84})
	f.Fuzz(func(t *testing.T, dek, dcc []byte) {
		OpenCertificate(key, dek, dcc)
	})
}
