package wallet

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DeviceKeyBits is the size of the key a wallet makes, as the CWA app.
const DeviceKeyBits = 3072

// Dir is a wallet's directory: the device key (device.key) and the
// wallet's state (wallet.json), both readable by the owner only. Writes
// are atomic and durable; one process uses a Dir at a time.
type Dir struct{ path string }

// Registration is a test the wallet registered for, pending until its
// certificate is fetched.
type Registration struct {
	Server string `json:"server"`
	TestID string `json:"testId"`
	Token  string `json:"token"`
	// TrustKey is the server's trust-list key (PEM), pinned at
	// registration: the certificate must verify against the list it signs.
	TrustKey     string    `json:"trustKey"`
	RegisteredAt time.Time `json:"registeredAt"`
}

// Stored is a certificate in the wallet.
type Stored struct {
	HC1     string    `json:"hc1"`
	Server  string    `json:"server,omitempty"`
	AddedAt time.Time `json:"addedAt"`
}

// State is what a wallet holds.
type State struct {
	Registrations []Registration `json:"registrations"`
	Certificates  []Stored       `json:"certificates"`
}

// OpenDir opens (creating it, mode 0700) the wallet directory.
func OpenDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("wallet directory: %w", err)
	}
	return &Dir{path: path}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

// DeviceKey returns the wallet's RSA key, made on first use. The key
// outlives every registration: the app that lost its key pair could never
// pick up its certificate (CWA issue 3638).
func (d *Dir) DeviceKey() (*rsa.PrivateKey, error) {
	path := filepath.Join(d.path, "device.key")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, DeviceKeyBits)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("device key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("device key %s: no PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("device key %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("device key %s is not RSA", path)
	}
	return rk, nil
}

// Load reads the wallet's state (empty for a new wallet).
func (d *Dir) Load() (*State, error) {
	data, err := os.ReadFile(filepath.Join(d.path, "wallet.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("wallet.json: %w", err)
	}
	return &s, nil
}

// Save writes the wallet's state.
func (d *Dir) Save(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(d.path, "wallet.json"), data)
}

// writeFile replaces path with data, mode 0600: temporary file, fsync,
// rename.
func writeFile(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
