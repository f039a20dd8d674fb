package issuer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/valueset"
)

// Errors callers branch on.
var (
	// ErrConflict: the idempotency key was used with a different request.
	ErrConflict = errors.New("idempotency key already used for a different request")
	// ErrNotFound: no certificate of this issuer has that UVCI.
	ErrNotFound = errors.New("certificate not found")
	// ErrNoSigner: this instance has no usable document signer for the
	// type (none configured, or its certificate has expired).
	ErrNoSigner = errors.New("no usable document signer")
	// ErrBadKey: the idempotency key is empty, too long or not printable.
	ErrBadKey = errors.New("invalid idempotency key")
	// ErrNoTransfer: a transfer was asked for, but this service has none.
	ErrNoTransfer = errors.New("certificate transfer is not available")
	// ErrTransferNotTest: only test certificates go to a wallet app by its
	// test id.
	ErrTransferNotTest = errors.New("only test certificates can be transferred to a test's app")
)

// TransferTarget delivers certificates to wallet apps (wallet.Service).
type TransferTarget interface {
	// Check says whether the issuer may deliver to the test's app now:
	// its lab announced the test, and the app is waiting.
	Check(ctx context.Context, issuerID, testID string) error
	// Deliver stores the signed certificate for the app, encrypted to its
	// key; the same UVCI again is a no-op.
	Deliver(ctx context.Context, issuerID, testID, uvci string, signedCOSE []byte) error
}

// DocumentSigner is a DSC's signing key with what issuance needs of its
// certificate.
type DocumentSigner struct {
	Signer      crypto.Signer
	Certificate *x509.Certificate
	KID         []byte
}

// Issuer is who asks for a certificate: the issuer id, its country and
// the name written into the certificate's "is" field.
type Issuer struct {
	ID      string
	Country string
	Name    string
}

// Config configures a Service.
type Config struct {
	// Signers are the document signers per certificate type.
	Signers map[hcert.Type]DocumentSigner
	// Validity is how long certificates of each type are valid after
	// issuance (exp - iat); DefaultValidity fills missing types.
	Validity map[hcert.Type]time.Duration
	// DefaultIssuerName is the "is" value for issuers without a name.
	DefaultIssuerName string
	// ValueSets check coded fields (valueset.Builtin when nil).
	ValueSets valueset.Sets
	// IdempotencyTTL is how long idempotency keys are kept (24 h when zero).
	IdempotencyTTL time.Duration
	// Transfers receives certificates issued with a transfer; nil refuses
	// such requests.
	Transfers TransferTarget
	// OnRevoke, when set, is called after a revocation was stored (to
	// publish it without waiting for the next refresh).
	OnRevoke func()
	// Now is the clock (time.Now when nil); Rand the randomness for
	// signatures and UVCIs (crypto/rand when nil).
	Now  func() time.Time
	Rand io.Reader
}

// DefaultValidity is the validity per type when not configured: a year
// for vaccinations (the German practice), 180 days for recoveries (capped
// by du), 72 hours for tests.
var DefaultValidity = map[hcert.Type]time.Duration{
	hcert.TypeVaccination: 365 * 24 * time.Hour,
	hcert.TypeRecovery:    180 * 24 * time.Hour,
	hcert.TypeTest:        72 * time.Hour,
}

// Store is the storage the issuer needs: records by ID in the collections
// below, each operation atomic on its record (store.Engine is one). Writes
// return only when durable.
type Store = store.Records

// The issuer's collections.
const (
	CollCertificates = "certificates" // audit records, by UVCI (no personal data)
	CollIdempotency  = "idempotency"  // idempotency keys of issuance requests (expire)
	CollRevocations  = "revocations"  // revoked certificates (expire with the certificate)
)

// Expiring lists the issuer's collections whose records expire, for the
// store's sweeper.
func Expiring() []string { return []string{CollIdempotency, CollRevocations} }

// Service issues certificates and keeps their audit records.
type Service struct {
	cfg         Config
	audit       store.Collection[Audit]
	idem        store.Collection[idempotencyRecord]
	revocations store.Collection[Revocation]
	suspensions store.Collection[Suspension]
	adminLog    store.Collection[AdminAction]
	records     Store // for writes across collections
	suspended   suspended
}

// New returns a Service storing in e.
func New(cfg Config, e Store) *Service {
	if cfg.ValueSets == nil {
		cfg.ValueSets = valueset.Builtin()
	}
	v := map[hcert.Type]time.Duration{}
	for t, d := range DefaultValidity {
		v[t] = d
	}
	for t, d := range cfg.Validity {
		if d > 0 {
			v[t] = d
		}
	}
	cfg.Validity = v
	if cfg.DefaultIssuerName == "" {
		cfg.DefaultIssuerName = "greenpass"
	}
	if cfg.IdempotencyTTL <= 0 {
		cfg.IdempotencyTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Service{
		cfg:         cfg,
		audit:       store.NewCollection[Audit](e, CollCertificates),
		revocations: store.NewCollection[Revocation](e, CollRevocations),
		idem:        store.NewCollection[idempotencyRecord](e, CollIdempotency),
		suspensions: store.NewCollection[Suspension](e, CollSuspensions),
		adminLog:    store.NewCollection[AdminAction](e, CollAdminLog),
		records:     e,
	}
}

// Audit is the record kept of every issued certificate: enough to answer
// the issuer, to revoke it later and to prove what was signed, and no
// personal data.
type Audit struct {
	UVCI      string    `json:"uvci"`
	Issuer    string    `json:"issuer"`
	Country   string    `json:"country"`
	Type      string    `json:"type"`
	KID       string    `json:"kid"` // base64
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// SignatureSHA256 is the SHA-256 of the whole COSE signature, hex.
	SignatureSHA256 string `json:"signatureSha256"`
	// CountryUVCISHA256 is the SHA-256 of co+UVCI, hex (the revocation
	// list's COUNTRYCODEUCI hash before truncation).
	CountryUVCISHA256 string `json:"countryUvciSha256"`
	// UVCISHA256 is the SHA-256 of the UVCI, hex (revocation hash UCI).
	UVCISHA256 string `json:"uvciSha256"`
	// RevocationSignatureSHA256 is the revocation list's SIGNATURE hash
	// before truncation: SHA-256 of r for ES256, of the whole signature
	// for PS256.
	RevocationSignatureSHA256 string `json:"revocationSignatureSha256"`
	// RevokedAt is set (by Lookup) when the issuer revoked the certificate.
	RevokedAt *time.Time `json:"revokedAt,omitempty"`
}

// idempotencyRecord remembers what a keyed request produced. It holds no
// personal data: the certificate is rebuilt from the retried request
// (which must hash the same) and the kept signature.
type idempotencyRecord struct {
	Issuer      string    `json:"issuer"`
	RequestHash string    `json:"requestHash"`
	UVCI        string    `json:"uvci"`
	Country     string    `json:"country"`
	IssuerName  string    `json:"issuerName"`
	KID         []byte    `json:"kid"`
	IssuedAt    time.Time `json:"issuedAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	Signature   []byte    `json:"signature"`
}

// Issued is an issued certificate.
type Issued struct {
	UVCI      string
	HC1       string // the QR text, "HC1:…"
	COSE      []byte // the signed COSE_Sign1
	KID       []byte
	Type      hcert.Type
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Certificate is the payload, for rendering.
	Certificate *hcert.Certificate
	// Replayed reports that an earlier request with the same idempotency
	// key made this certificate.
	Replayed bool
}

// CheckIdempotencyKey says whether key can be used as an idempotency key:
// 1 to 255 printable ASCII characters.
func CheckIdempotencyKey(key string) error {
	if len(key) == 0 || len(key) > 255 {
		return fmt.Errorf("%w: 1 to 255 characters", ErrBadKey)
	}
	for i := range len(key) {
		if key[i] < 0x21 || key[i] > 0x7e {
			return fmt.Errorf("%w: printable ASCII only", ErrBadKey)
		}
	}
	return nil
}

// Issue validates req, signs the certificate and stores its audit record
// before returning. With a non-empty idempotencyKey, a retry of the same
// request by the same issuer returns the identical certificate, and the
// key with a different request is ErrConflict. Validation problems are an
// hcert.SchemaError; nothing is stored for a refused request.
func (s *Service) Issue(ctx context.Context, who Issuer, req *Request, idempotencyKey string) (*Issued, error) {
	if s.Suspended(who.ID) {
		return nil, ErrSuspended
	}
	now := s.cfg.Now()
	if err := req.Validate(s.cfg.ValueSets, now); err != nil {
		return nil, err
	}
	typ := req.Type()
	ds, ok := s.cfg.Signers[typ]
	if !ok || ds.Signer == nil {
		return nil, fmt.Errorf("%w for %s certificates", ErrNoSigner, typ)
	}
	if req.Transfer != nil && s.cfg.Transfers == nil {
		return nil, ErrNoTransfer
	}
	if now.After(ds.Certificate.NotAfter) || now.Before(ds.Certificate.NotBefore) {
		return nil, fmt.Errorf("%w: the %s document signer certificate is outside its validity", ErrNoSigner, typ)
	}
	var idemID, reqHash string
	if idempotencyKey != "" {
		if err := CheckIdempotencyKey(idempotencyKey); err != nil {
			return nil, err
		}
		idemID = idempotencyID(who.ID, idempotencyKey)
		reqHash = requestHash(req)
		rec, _, err := s.idem.Get(ctx, idemID)
		switch {
		case err == nil:
			return s.replay(ctx, rec, reqHash, req)
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("read idempotency key: %w", err)
		}
	}

	if req.Transfer != nil {
		// Refused before anything is signed or stored: not a test
		// certificate, not this issuer's test, no app, or it has its
		// certificate already.
		if req.Type() != hcert.TypeTest {
			return nil, fmt.Errorf("transfer.testId: %w", ErrTransferNotTest)
		}
		if err := s.cfg.Transfers.Check(ctx, who.ID, req.Transfer.TestID); err != nil {
			return nil, fmt.Errorf("transfer.testId: %w", err)
		}
	}
	name := who.Name
	if name == "" {
		name = s.cfg.DefaultIssuerName
	}
	uvci, err := NewUVCI(who.Country, who.ID, now)
	if err != nil {
		return nil, err
	}
	iat := now.Truncate(time.Second)
	exp := s.expiry(typ, req, iat, ds.Certificate.NotAfter)
	cert := req.certificate(who.Country, name, uvci)
	payload, err := hcert.EncodeCWT(hcert.Claims{Issuer: who.Country, IssuedAt: iat, ExpiresAt: exp}, cert)
	if err != nil {
		return nil, err
	}
	signed, err := hcert.SignCWT(s.cfg.Rand, ds.Signer, ds.KID, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	msg, err := hcert.ParseSign1(signed)
	if err != nil {
		return nil, fmt.Errorf("re-read signed message: %w", err)
	}
	out := &Issued{UVCI: uvci, HC1: hcert.EncodeText(signed), COSE: signed, KID: ds.KID, Type: typ,
		IssuedAt: iat, ExpiresAt: exp, Certificate: cert}

	// The records, durable before the answer: the idempotency key's (when
	// keyed) and the audit record, in one write where the store has one
	// (one fsync on the embedded store). A certificate for an app goes to
	// it between the two, so that a failed hand-over leaves no audit
	// record and a retry with the key hands it over again.
	var records []store.Insertion
	if idemID != "" {
		rec := idempotencyRecord{Issuer: who.ID, RequestHash: reqHash, UVCI: uvci, Country: who.Country,
			IssuerName: name, KID: ds.KID, IssuedAt: iat, ExpiresAt: exp, Signature: msg.Signature}
		ins, err := s.idem.Insertion(idemID, now.Add(s.cfg.IdempotencyTTL), rec)
		if err != nil {
			return nil, err
		}
		records = append(records, ins)
	}
	audit := auditRecord(who.ID, who.Country, typ, ds.KID, iat, exp, uvci, msg)
	auditAt := -1
	if req.Transfer == nil {
		ins, err := s.audit.Insertion(uvci, time.Time{}, audit)
		if err != nil {
			return nil, err
		}
		auditAt = len(records)
		records = append(records, ins)
	}
	if err := store.InsertAll(ctx, s.records, records...); err != nil {
		var ie *store.InsertError
		taken := errors.As(err, &ie) && errors.Is(err, store.ErrExists)
		switch {
		case taken && idemID != "" && ie.Index == 0:
			// A concurrent request with the same key won: answer as it
			// did. Ours was never acknowledged and leaves no record.
			rec, _, err := s.idem.Get(ctx, idemID)
			if err != nil {
				return nil, fmt.Errorf("read idempotency key: %w", err)
			}
			return s.replay(ctx, rec, reqHash, req)
		case taken && ie.Index == auditAt && idemID != "":
			// Our new UVCI's record is there: a retry with our key,
			// replaying between our two writes (a store that writes one
			// record after the other), wrote it first.
		default:
			return nil, fmt.Errorf("store the certificate's records: %w", err)
		}
	}
	if req.Transfer != nil {
		if err := s.deliver(ctx, who.ID, req, uvci, signed); err != nil {
			return nil, err
		}
		if err := s.storeAudit(ctx, audit); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// deliver hands a certificate issued with a transfer to the wallet side.
func (s *Service) deliver(ctx context.Context, issuerID string, req *Request, uvci string, signed []byte) error {
	if req.Transfer == nil {
		return nil
	}
	if err := s.cfg.Transfers.Deliver(ctx, issuerID, req.Transfer.TestID, uvci, signed); err != nil {
		return fmt.Errorf("transfer.testId: %w", err)
	}
	return nil
}

// expiry is iat plus the type's validity, never after the DSC's notAfter
// (verifiers refuse certificates that outlive their signer) nor, for a
// recovery, after the end of its du day.
func (s *Service) expiry(typ hcert.Type, req *Request, iat, dscNotAfter time.Time) time.Time {
	exp := iat.Add(s.cfg.Validity[typ])
	if typ == hcert.TypeRecovery {
		if du, err := time.Parse(time.DateOnly, req.Recoveries[0].ValidUntil); err == nil {
			if end := du.Add(24*time.Hour - time.Second); end.Before(exp) {
				exp = end
			}
		}
	}
	if dscNotAfter.Before(exp) {
		exp = dscNotAfter.Truncate(time.Second)
	}
	return exp
}

// replay answers a retried request from its idempotency record: the same
// request gets the certificate rebuilt byte for byte and checked against
// the kept signature; another request gets ErrConflict. The audit record
// is written again in case the first attempt stopped before it.
func (s *Service) replay(ctx context.Context, rec idempotencyRecord, reqHash string, req *Request) (*Issued, error) {
	if rec.RequestHash != reqHash {
		return nil, ErrConflict
	}
	typ := req.Type()
	ds, ok := s.signerByKID(rec.KID)
	if !ok {
		return nil, fmt.Errorf("%w: the signer (kid %s) of the original certificate is no longer configured",
			ErrNoSigner, base64.StdEncoding.EncodeToString(rec.KID))
	}
	cert := req.certificate(rec.Country, rec.IssuerName, rec.UVCI)
	payload, err := hcert.EncodeCWT(hcert.Claims{Issuer: rec.Country, IssuedAt: rec.IssuedAt, ExpiresAt: rec.ExpiresAt}, cert)
	if err != nil {
		return nil, err
	}
	signed, err := hcert.AssembleSign1(ds.Signer.Public(), rec.KID, payload, rec.Signature)
	if err != nil {
		return nil, err
	}
	msg, err := hcert.ParseSign1(signed)
	if err != nil {
		return nil, fmt.Errorf("re-read rebuilt message: %w", err)
	}
	key, err := hcert.NewKey(ds.Signer.Public())
	if err != nil {
		return nil, err
	}
	if err := msg.Verify(key); err != nil {
		return nil, fmt.Errorf("rebuilt certificate %s does not match its signature: %w", rec.UVCI, err)
	}
	if req.Transfer != nil && s.cfg.Transfers == nil {
		return nil, ErrNoTransfer
	}
	if err := s.deliver(ctx, rec.Issuer, req, rec.UVCI, signed); err != nil {
		return nil, err
	}
	if err := s.storeAudit(ctx, auditRecord(rec.Issuer, rec.Country, typ, rec.KID, rec.IssuedAt, rec.ExpiresAt, rec.UVCI, msg)); err != nil {
		return nil, err
	}
	return &Issued{UVCI: rec.UVCI, HC1: hcert.EncodeText(signed), COSE: signed, KID: rec.KID, Type: typ,
		IssuedAt: rec.IssuedAt, ExpiresAt: rec.ExpiresAt, Certificate: cert, Replayed: true}, nil
}

func (s *Service) signerByKID(kid []byte) (DocumentSigner, bool) {
	for _, ds := range s.cfg.Signers {
		if bytes.Equal(ds.KID, kid) {
			return ds, true
		}
	}
	return DocumentSigner{}, false
}

// auditRecord is what the register keeps of a certificate.
func auditRecord(issuerID, country string, typ hcert.Type, kid []byte, iat, exp time.Time, uvci string, msg *hcert.Sign1) Audit {
	sig := msg.Signature
	revSig := sig
	if msg.Alg == hcert.AlgES256 && len(sig) == 64 {
		revSig = sig[:32]
	}
	return Audit{
		UVCI: uvci, Issuer: issuerID, Country: country, Type: string(typ),
		KID: base64.StdEncoding.EncodeToString(kid), IssuedAt: iat.UTC(), ExpiresAt: exp.UTC(),
		SignatureSHA256:           sha256Hex(sig),
		CountryUVCISHA256:         sha256Hex([]byte(country + uvci)),
		UVCISHA256:                sha256Hex([]byte(uvci)),
		RevocationSignatureSHA256: sha256Hex(revSig),
	}
}

// storeAudit writes the audit record durably; an existing record (a
// replay) is fine. It never expires: it is the register of what was
// issued.
func (s *Service) storeAudit(ctx context.Context, a Audit) error {
	if _, err := s.audit.Insert(ctx, a.UVCI, time.Time{}, a); err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("store audit record: %w", err)
	}
	return nil
}

// SignTestHash signs a lab's Sig_structure digest with the test DSC for a
// test certificate carrying dcci (the CWA contract's hash signing: the
// lab, authenticated, vouches for what it hashed) and keeps the audit
// record. It returns the partial COSE_Sign1: protected {1: -7}, the kid
// unprotected, an empty placeholder payload.
func (s *Service) SignTestHash(ctx context.Context, partnerID, country, dcci string, digest []byte) ([]byte, error) {
	ds, ok := s.cfg.Signers[hcert.TypeTest]
	if !ok || ds.Signer == nil {
		return nil, fmt.Errorf("%w for test certificates", ErrNoSigner)
	}
	now := s.cfg.Now()
	if now.After(ds.Certificate.NotAfter) || now.Before(ds.Certificate.NotBefore) {
		return nil, fmt.Errorf("%w: the test document signer certificate is outside its validity", ErrNoSigner)
	}
	if alg, err := hcert.NewKey(ds.Signer.Public()); err != nil || alg.Alg() != hcert.AlgES256 {
		// The labs hash a Sig_structure with the protected header {1: -7}.
		return nil, fmt.Errorf("%w: hash signing is ES256 by contract, and the test document signer is not an ECDSA P-256 key", ErrNoSigner)
	}
	sig, err := hcert.SignDigest(s.cfg.Rand, ds.Signer, digest)
	if err != nil {
		return nil, err
	}
	partial, err := hcert.PartialSign1(ds.KID, []byte{}, sig)
	if err != nil {
		return nil, err
	}
	msg, err := hcert.ParseSign1(partial)
	if err != nil {
		return nil, fmt.Errorf("re-read partial message: %w", err)
	}
	// The lab sets iat and exp; the audit records the signing time and
	// the longest a test certificate of ours may live.
	iat := now.Truncate(time.Second)
	exp := s.expiry(hcert.TypeTest, nil, iat, ds.Certificate.NotAfter)
	if err := s.storeAudit(ctx, auditRecord(partnerID, country, hcert.TypeTest, ds.KID, iat, exp, dcci, msg)); err != nil {
		return nil, err
	}
	return partial, nil
}

// Lookup returns the audit record of a certificate the issuer made;
// ErrNotFound for unknown UVCIs and for other issuers' certificates alike.
func (s *Service) Lookup(ctx context.Context, issuerID, uvci string) (*Audit, error) {
	a, _, err := s.audit.Get(ctx, uvci)
	if errors.Is(err, store.ErrNotFound) || err == nil && a.Issuer != issuerID {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read audit record: %w", err)
	}
	s.markRevoked(ctx, &a)
	return &a, nil
}

// markRevoked sets the audit record's RevokedAt when the issuer revoked
// the certificate.
func (s *Service) markRevoked(ctx context.Context, a *Audit) {
	if rev, _, err := s.revocations.Get(ctx, a.UVCI); err == nil {
		a.RevokedAt = &rev.RevokedAt
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// idempotencyID is the record ID of an issuer's key: hashed, so that
// neither length nor characters of the key matter to the store.
func idempotencyID(issuerID, key string) string {
	h := sha256.New()
	h.Write([]byte(issuerID))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}

// requestHash identifies a request's content independent of JSON
// formatting: the SHA-256 of its canonical re-encoding.
func requestHash(req *Request) string {
	b, _ := json.Marshal(req) // plain structs of strings and ints: cannot fail
	return sha256Hex(b)
}
