package wallet

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/greenpass-dcc/greenpass/hcert"
)

// Key sizes the contract admits: the app makes RSA-3072; the wrapped key of
// a 3072-bit modulus is 512 Base64 characters, and labs may send at most
// 600, so larger keys would break the lab upload.
const (
	MinDeviceKeyBits = 2048
	MaxDeviceKeyBits = 3072
)

// ErrDeviceKey: the device public key is not usable.
var ErrDeviceKey = errors.New("unusable device public key")

// ParseDeviceKey reads an app's public key: Base64 of a DER
// SubjectPublicKeyInfo holding an RSA key of 2048 to 3072 bits.
func ParseDeviceKey(b64 string) (*rsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("%w: not Base64", ErrDeviceKey)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a DER SubjectPublicKeyInfo", ErrDeviceKey)
	}
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: an RSA key is required (labs encrypt with RSA-OAEP)", ErrDeviceKey)
	}
	if bits := rk.N.BitLen(); bits < MinDeviceKeyBits || bits > MaxDeviceKeyBits {
		return nil, fmt.Errorf("%w: RSA key of %d bits, want %d to %d", ErrDeviceKey, bits, MinDeviceKeyBits, MaxDeviceKeyBits)
	}
	return rk, nil
}

// zeroIV is the contract's IV: every data key encrypts exactly one message.
var zeroIV = make([]byte, aes.BlockSize)

// Seal encrypts plaintext for a device: a fresh AES-256 key, AES-CBC with
// PKCS#7 padding and a zero IV; the key wrapped with RSA-OAEP SHA-256.
func Seal(rand io.Reader, device *rsa.PublicKey, plaintext []byte) (wrappedKey, ciphertext []byte, err error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(rand, key); err != nil {
		return nil, nil, err
	}
	block, _ := aes.NewCipher(key)
	padded := pkcs7Pad(plaintext, aes.BlockSize)
	ciphertext = make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, zeroIV).CryptBlocks(ciphertext, padded)
	wrappedKey, err = rsa.EncryptOAEP(sha256.New(), rand, device, key, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("wrap data key: %w", err)
	}
	return wrappedKey, ciphertext, nil
}

// ErrDecrypt: the envelope does not open with this key.
var ErrDecrypt = errors.New("the certificate does not decrypt with this device key")

// Open reverses Seal with the device's private key.
func Open(device *rsa.PrivateKey, wrappedKey, ciphertext []byte) ([]byte, error) {
	key, err := rsa.DecryptOAEP(sha256.New(), nil, device, wrappedKey, nil)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%w: data key", ErrDecrypt)
	}
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext is not whole AES blocks", ErrDecrypt)
	}
	block, _ := aes.NewCipher(key)
	plain := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, zeroIV).CryptBlocks(plain, ciphertext)
	plain, ok := pkcs7Unpad(plain, aes.BlockSize)
	if !ok {
		return nil, fmt.Errorf("%w: padding", ErrDecrypt)
	}
	return plain, nil
}

func pkcs7Pad(b []byte, size int) []byte {
	n := size - len(b)%size
	return append(append([]byte(nil), b...), bytes.Repeat([]byte{byte(n)}, n)...)
}

func pkcs7Unpad(b []byte, size int) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > size || n > len(b) {
		return nil, false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// SealCertificate makes the envelope of a signed certificate for a device:
// the COSE_Sign1 with its payload (the CWT) replaced by the ciphertext,
// and the wrapped data key — what the app's pickup returns as dcc and dek.
func SealCertificate(rand io.Reader, device *rsa.PublicKey, signedCOSE []byte) (dek, dcc []byte, err error) {
	msg, err := hcert.ParseSign1(signedCOSE)
	if err != nil {
		return nil, nil, err
	}
	dek, ct, err := Seal(rand, device, msg.Payload)
	if err != nil {
		return nil, nil, err
	}
	dcc, err = hcert.ReplacePayload(signedCOSE, ct)
	return dek, dcc, err
}

// OpenCertificate is the app's side of a pickup: it decrypts the payload
// of dcc with the device key and returns the QR text ("HC1:…") of the
// signed certificate. It does not verify the signature.
func OpenCertificate(device *rsa.PrivateKey, dek, dcc []byte) (string, error) {
	msg, err := hcert.ParseSign1(dcc)
	if err != nil {
		return "", err
	}
	cwt, err := Open(device, dek, msg.Payload)
	if err != nil {
		return "", err
	}
	signed, err := hcert.ReplacePayload(dcc, cwt)
	if err != nil {
		return "", err
	}
	return hcert.EncodeText(signed), nil
}

// LabUpload is what a lab sends in the CWA contract for a test: the hash it
// wants signed, the encrypted CWT and the wrapped data key, all encoded as
// the request fields expect.
type LabUpload struct {
	DCCHash           string `json:"dccHash"`           // hex SHA-256 of the Sig_structure over {1: -7}
	EncryptedDCC      string `json:"encryptedDcc"`      // Base64 AES-CBC ciphertext of the CWT
	DataEncryptionKey string `json:"dataEncryptionKey"` // Base64 RSA-OAEP-wrapped AES key
}

// SealForLab prepares a lab's upload of an unsigned CWT for a device, the
// way dgc-lib's DgcCryptedPublisher does.
func SealForLab(rand io.Reader, device *rsa.PublicKey, cwt []byte) (LabUpload, error) {
	dek, ct, err := Seal(rand, device, cwt)
	if err != nil {
		return LabUpload{}, err
	}
	return LabUpload{
		DCCHash:           fmt.Sprintf("%x", hcert.SigStructureDigest(hcert.ProtectedES256, cwt)),
		EncryptedDCC:      base64.StdEncoding.EncodeToString(ct),
		DataEncryptionKey: base64.StdEncoding.EncodeToString(dek),
	}, nil
}
