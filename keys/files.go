package keys

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"gocloud.dev/secrets"
)

// writer writes PEM files with owner-only permissions, encrypting private
// keys when a keeper is configured.
type writer struct {
	dir    string
	keeper *secrets.Keeper
}

func newWriter(ctx context.Context, dir, keeperURL string) (*writer, error) {
	k, err := openKeeper(ctx, keeperURL)
	if err != nil {
		return nil, err
	}
	return &writer{dir: dir, keeper: k}, nil
}

// openKeeper opens the secrets keeper at url, or returns nil for plain keys.
func openKeeper(ctx context.Context, url string) (*secrets.Keeper, error) {
	if url == "" {
		return nil, nil
	}
	k, err := secrets.OpenKeeper(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("keys: secrets keeper: %w", err)
	}
	return k, nil
}

func (w *writer) close() {
	if w.keeper != nil {
		w.keeper.Close()
	}
}

func (w *writer) cert(name string, der []byte) error {
	return writeFile(filepath.Join(w.dir, name), pem.EncodeToMemory(&pem.Block{Type: blockCert, Bytes: der}))
}

func (w *writer) publicKey(name string, pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("keys: %s: %w", name, err)
	}
	return writeFile(filepath.Join(w.dir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (w *writer) key(name string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keys: %s: %w", name, err)
	}
	block := &pem.Block{Type: blockKey, Bytes: der}
	if w.keeper != nil {
		ct, err := w.keeper.Encrypt(context.Background(), der)
		if err != nil {
			return fmt.Errorf("keys: encrypt %s: %w", name, err)
		}
		block = &pem.Block{Type: blockEncryptedKey, Bytes: ct}
	}
	return writeFile(filepath.Join(w.dir, name), pem.EncodeToMemory(block))
}

// writeFile writes data durably: a temporary file, fsync, rename.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keys: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return os.Rename(tmp, path)
}

// reader reads PEM files, decrypting private keys with the keeper.
type reader struct{ keeper *secrets.Keeper }

func newReader(ctx context.Context, keeperURL string) (*reader, error) {
	k, err := openKeeper(ctx, keeperURL)
	if err != nil {
		return nil, err
	}
	return &reader{keeper: k}, nil
}

func (r *reader) close() {
	if r.keeper != nil {
		r.keeper.Close()
	}
}

func readBlock(path string) (*pem.Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("keys: %s holds no PEM block", path)
	}
	return block, nil
}

func readCert(path string) ([]byte, error) {
	b, err := readBlock(path)
	if err != nil {
		return nil, err
	}
	if b.Type != blockCert {
		return nil, fmt.Errorf("keys: %s holds a %s, want a CERTIFICATE", path, b.Type)
	}
	return b.Bytes, nil
}

func (r *reader) key(ctx context.Context, path string) (crypto.Signer, error) {
	b, err := readBlock(path)
	if err != nil {
		return nil, err
	}
	der := b.Bytes
	switch b.Type {
	case blockKey:
	case blockEncryptedKey:
		if r.keeper == nil {
			return nil, fmt.Errorf("keys: %s is encrypted; configure the secrets keeper it was encrypted with", path)
		}
		if der, err = r.keeper.Decrypt(ctx, b.Bytes); err != nil {
			return nil, fmt.Errorf("keys: decrypt %s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("keys: %s holds a %s, want a private key", path, b.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: %s: %T cannot sign", path, k)
	}
	return s, nil
}
