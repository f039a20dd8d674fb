// Package keys keeps the signing keys of a greenpass instance: the document
// signer keys (DSCs) that sign certificates and the key that signs issuer
// tokens, as PEM files in DATA/keys. Private keys can be encrypted at rest
// with a gocloud.dev/secrets keeper (base64key:// for development, awskms://,
// gcpkms://, azurekeyvault:// in production); signing always goes through a
// crypto.Signer, so where the key lives is configuration.
//
// Init makes a development trust chain: a CSCA, and per certificate type a
// DSC restricted to that type by its extended key usage (ES256, or PS256 on
// request); and the instance's place in the trust network as a gateway
// sees a country: an upload certificate signing its DSC entries, and a
// trust anchor signing its CSCA and upload entries.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "gocloud.dev/secrets/localsecrets" // base64key://

	"github.com/greenpass-dcc/greenpass/hcert"
)

// ErrNoKeys: the key directory holds no key set (run Init).
var ErrNoKeys = errors.New("no keys")

// PEM block types. An encrypted private key is the keeper's ciphertext of
// the PKCS #8 DER.
const (
	blockCert         = "CERTIFICATE"
	blockKey          = "PRIVATE KEY"
	blockEncryptedKey = "GREENPASS ENCRYPTED PRIVATE KEY"
)

// File names in the key directory.
const (
	cscaCert   = "csca.pem"
	cscaKey    = "csca.key"
	uploadCert = "upload.pem"
	uploadKey  = "upload.key"
	// AnchorCert is the development trust anchor (PEM), the certificate
	// another instance syncing from this one trusts (greenpass sync
	// --trust-anchor).
	AnchorCert     = "trust-anchor.pem"
	anchorKey      = "trust-anchor.key"
	issuerTokenKey = "issuer-token.key"
	trustListKey   = "trustlist.key"
	// TrustListPublicKey is the trust-list key's public part (PEM), the
	// key verifiers pin (greenpass verify --trust-key).
	TrustListPublicKey = "trustlist.pub.pem"
)

func dscCertFile(t hcert.Type) string { return "dsc-" + string(t) + ".pem" }
func dscKeyFile(t hcert.Type) string  { return "dsc-" + string(t) + ".key" }

// Types are the certificate types a DSC is made for.
var Types = []hcert.Type{hcert.TypeVaccination, hcert.TypeTest, hcert.TypeRecovery}

// ekuFor is the HCERT App. A.4 extended key usage of each type.
var ekuFor = map[hcert.Type]asn1.ObjectIdentifier{
	hcert.TypeTest:        {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1},
	hcert.TypeVaccination: {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2},
	hcert.TypeRecovery:    {1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3},
}

// DSC is a document signer: its certificate, kid and signing key.
type DSC struct {
	Type        hcert.Type
	Certificate *x509.Certificate
	KID         []byte
	Signer      crypto.Signer
}

// Party is a certificate with its signing key.
type Party struct {
	Certificate *x509.Certificate
	Signer      crypto.Signer
}

// Set is the key material of an instance.
type Set struct {
	CSCA *x509.Certificate
	DSCs map[hcert.Type]*DSC
	// Upload signs the DSC entries this instance publishes, Anchor its
	// CSCA and upload entries (CMS, as a country and the gateway do).
	// Nil for a key set made before they existed (Complete adds them).
	Upload, Anchor *Party
	IssuerToken    crypto.Signer // signs issuer JWTs (ES256)
	TrustList      crypto.Signer // signs the published trust lists (ECDSA P-256)
}

// InitOptions configure Init.
type InitOptions struct {
	Country string // C= of the certificates, e.g. "DE"
	// KeeperURL encrypts the private keys at rest when set.
	KeeperURL string
	// Now is the clock for validity periods (time.Now when nil).
	Now func() time.Time
	// Alg is the DSCs' COSE algorithm: AlgES256 (default, ECDSA P-256) or
	// AlgPS256 (RSA-PSS, 3072-bit keys, as several countries sign).
	Alg string
}

// DSC algorithms Init can make.
const (
	AlgES256 = "ES256"
	AlgPS256 = "PS256"
)

// dscKeyBits is the RSA modulus of PS256 document signers (the size
// countries signing with RSA-PSS use; HCERT requires at least 2048).
const dscKeyBits = 3072

// AlgOf names the COSE algorithm a document signer key signs with.
func AlgOf(pub crypto.PublicKey) string {
	if _, ok := pub.(*rsa.PublicKey); ok {
		return AlgPS256
	}
	return AlgES256
}

// newDSCKey makes a document signer key for alg.
func newDSCKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "", AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgPS256:
		return rsa.GenerateKey(rand.Reader, dscKeyBits)
	}
	return nil, fmt.Errorf("keys: algorithm %q is not ES256 or PS256", alg)
}

// Exists reports whether dir holds a key set.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, issuerTokenKey))
	return err == nil
}

// Init creates a development key set in dir. It refuses to overwrite one.
func Init(ctx context.Context, dir string, opts InitOptions) (*Set, error) {
	if Exists(dir) {
		return nil, fmt.Errorf("keys: %s already holds keys", dir)
	}
	if opts.Alg != "" && opts.Alg != AlgES256 && opts.Alg != AlgPS256 {
		return nil, fmt.Errorf("keys: algorithm %q is not ES256 or PS256", opts.Alg)
	}
	if opts.Country == "" {
		opts.Country = "DE"
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	w, err := newWriter(ctx, dir, opts.KeeperURL)
	if err != nil {
		return nil, err
	}
	defer w.close()

	start := now().UTC().Add(-time.Hour)
	cscaPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cscaTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "greenpass development CSCA", Country: []string{opts.Country}},
		NotBefore:             start,
		NotAfter:              start.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	cscaDER, err := x509.CreateCertificate(rand.Reader, cscaTmpl, cscaTmpl, cscaPriv.Public(), cscaPriv)
	if err != nil {
		return nil, fmt.Errorf("keys: CSCA: %w", err)
	}
	csca, _ := x509.ParseCertificate(cscaDER)
	if err := w.cert(cscaCert, cscaDER); err != nil {
		return nil, err
	}
	if err := w.key(cscaKey, cscaPriv); err != nil {
		return nil, err
	}

	set := &Set{CSCA: csca, DSCs: map[hcert.Type]*DSC{}}
	for _, t := range Types {
		priv, err := newDSCKey(opts.Alg)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:       serial(),
			Subject:            pkix.Name{CommonName: "greenpass development DSC " + t.String(), Country: []string{opts.Country}},
			NotBefore:          start,
			NotAfter:           start.AddDate(2, 0, 0),
			KeyUsage:           x509.KeyUsageDigitalSignature,
			UnknownExtKeyUsage: []asn1.ObjectIdentifier{ekuFor[t]},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, csca, priv.Public(), cscaPriv)
		if err != nil {
			return nil, fmt.Errorf("keys: DSC %s: %w", t, err)
		}
		if err := w.cert(dscCertFile(t), der); err != nil {
			return nil, err
		}
		if err := w.key(dscKeyFile(t), priv); err != nil {
			return nil, err
		}
		cert, _ := x509.ParseCertificate(der)
		set.DSCs[t] = &DSC{Type: t, Certificate: cert, KID: kidOf(der), Signer: priv}
	}

	if set.Upload, set.Anchor, err = newNetwork(w, opts.Country, start); err != nil {
		return nil, err
	}

	listPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := w.key(trustListKey, listPriv); err != nil {
		return nil, err
	}
	if err := w.publicKey(TrustListPublicKey, listPriv.Public()); err != nil {
		return nil, err
	}
	set.TrustList = listPriv

	tokenPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	// Written last: its presence marks a complete key set (Exists).
	if err := w.key(issuerTokenKey, tokenPriv); err != nil {
		return nil, err
	}
	set.IssuerToken = tokenPriv
	return set, nil
}

// Load reads the key set in dir; ErrNoKeys if there is none. keeperURL
// must be the one Init encrypted with (empty for plain keys).
func Load(ctx context.Context, dir, keeperURL string) (*Set, error) {
	if !Exists(dir) {
		return nil, fmt.Errorf("%w in %s", ErrNoKeys, dir)
	}
	r, err := newReader(ctx, keeperURL)
	if err != nil {
		return nil, err
	}
	defer r.close()
	cscaDER, err := readCert(filepath.Join(dir, cscaCert))
	if err != nil {
		return nil, err
	}
	csca, err := x509.ParseCertificate(cscaDER)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", cscaCert, err)
	}
	set := &Set{CSCA: csca, DSCs: map[hcert.Type]*DSC{}}
	for _, t := range Types {
		p, err := readParty(ctx, r, dir, dscCertFile(t), dscKeyFile(t))
		if err != nil {
			return nil, err
		}
		set.DSCs[t] = &DSC{Type: t, Certificate: p.Certificate, KID: kidOf(p.Certificate.Raw), Signer: p.Signer}
	}
	if set.IssuerToken, err = r.key(ctx, filepath.Join(dir, issuerTokenKey)); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		cert, key string
		to        **Party
	}{{uploadCert, uploadKey, &set.Upload}, {AnchorCert, anchorKey, &set.Anchor}} {
		if _, err := os.Stat(filepath.Join(dir, p.cert)); errors.Is(err, fs.ErrNotExist) {
			continue // a key set from before: Complete adds them
		}
		if *p.to, err = readParty(ctx, r, dir, p.cert, p.key); err != nil {
			return nil, err
		}
	}
	if set.TrustList, err = r.key(ctx, filepath.Join(dir, trustListKey)); err != nil {
		return nil, err
	}
	if pub, ok := set.TrustList.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("keys: %s is not an ECDSA P-256 key", trustListKey)
	}
	return set, nil
}

// newNetwork makes the upload certificate (self-signed, C=country) and
// the development trust anchor that signs the CSCA and upload entries,
// and writes them.
func newNetwork(w *writer, country string, start time.Time) (upload, anchor *Party, err error) {
	mk := func(name string, ca bool, certFile, keyFile string) (*Party, error) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: name, Country: []string{country}},
			NotBefore:    start,
			NotAfter:     start.AddDate(5, 0, 0),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		if ca {
			tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
			tmpl.KeyUsage |= x509.KeyUsageCertSign
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", name, err)
		}
		if err := w.cert(certFile, der); err != nil {
			return nil, err
		}
		if err := w.key(keyFile, priv); err != nil {
			return nil, err
		}
		cert, _ := x509.ParseCertificate(der)
		return &Party{Certificate: cert, Signer: priv}, nil
	}
	if upload, err = mk("greenpass development upload "+country, false, uploadCert, uploadKey); err != nil {
		return nil, nil, err
	}
	if anchor, err = mk("greenpass development trust anchor", true, AnchorCert, anchorKey); err != nil {
		return nil, nil, err
	}
	return upload, anchor, nil
}

// Complete adds the upload certificate and the trust anchor to a set
// loaded from dir that was made before they existed, writing them beside
// the others (encrypted with keeperURL's keeper as Init does). A set that
// has them stays as it is.
func (set *Set) Complete(ctx context.Context, dir, keeperURL string) error {
	if set.Upload != nil && set.Anchor != nil {
		return nil
	}
	w, err := newWriter(ctx, dir, keeperURL)
	if err != nil {
		return err
	}
	defer w.close()
	country := "DE"
	if c := set.CSCA.Subject.Country; len(c) > 0 {
		country = c[0]
	}
	set.Upload, set.Anchor, err = newNetwork(w, country, time.Now().UTC().Add(-time.Hour))
	return err
}

// readParty reads a certificate and its private key, which must match.
func readParty(ctx context.Context, r *reader, dir, certFile, keyFile string) (*Party, error) {
	der, err := readCert(filepath.Join(dir, certFile))
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", certFile, err)
	}
	signer, err := r.key(ctx, filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(signer.Public(), cert.PublicKey) {
		return nil, fmt.Errorf("keys: %s does not belong to %s", keyFile, certFile)
	}
	return &Party{Certificate: cert, Signer: signer}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func kidOf(der []byte) []byte {
	h := crypto.SHA256.New()
	h.Write(der)
	return h.Sum(nil)[:hcert.KIDLen]
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

// CheckpointKey returns the checkpoint API's shared key kept in dir
// (checkpoint.key, mode 0600), making one on first use; created says it
// was made now.
func CheckpointKey(dir string) (key string, created bool, err error) {
	path := filepath.Join(dir, "checkpoint.key")
	if b, err := os.ReadFile(path); err == nil {
		if k := strings.TrimSpace(string(b)); len(k) >= 16 {
			return k, false, nil
		}
		return "", false, fmt.Errorf("%s: shorter than 16 characters", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	var r [24]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", false, err
	}
	key = base64.RawURLEncoding.EncodeToString(r[:])
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("checkpoint key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, err
	}
	return key, true, f.Close()
}
