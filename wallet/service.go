package wallet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/internal/lazyre"
	"github.com/greenpass-dcc/greenpass/store"
)

// Errors the service returns; the HTTP layer maps them to the contract's
// status codes.
var (
	ErrBadRequest    = errors.New("malformed request")                                 // 400
	ErrUnknownToken  = errors.New("unknown registration token")                        // 404
	ErrNoKey         = errors.New("no device key registered for this test")            // 404
	ErrUnknownTest   = errors.New("no registration for this test")                     // 404
	ErrKeyConflict   = errors.New("another device key is registered for this test")    // 409
	ErrNotAllowed    = errors.New("the test result does not allow a certificate")      // 403
	ErrPending       = errors.New("the certificate is not available yet")              // 202
	ErrGone          = errors.New("the certificate was picked up or has expired")      // 410
	ErrAlreadyStored = errors.New("a certificate was already stored for this test")    // 409
	ErrLabTaken      = errors.New("the lab id belongs to another partner")             // 409 on claim, 403 elsewhere
	ErrLabQuota      = errors.New("this partner has claimed the most lab ids allowed") // 403
	// ErrNotYours: the test was not announced by this issuer's lab (or
	// not at all: a stranger learns nothing about unknown tests).
	ErrNotYours = errors.New("this test was not announced by your lab") // 403
	// ErrAlreadyRegistered: the test has its registration token; it is
	// given once, to the app that asked first.
	ErrAlreadyRegistered = errors.New("this test is already registered") // 400
)

// Test results a lab may announce (the CWA test-result server's codes).
// A certificate is only issued for a negative result.
const (
	ResultPending         = 0
	ResultNegative        = 1
	ResultQuickPending    = 5
	ResultQuickNegative   = 6
	resultHighestKnownCWA = 9
)

// Partner is an authenticated lab or issuer (from its JWT).
type Partner struct {
	ID      string
	Country string
}

// HashSigner signs a lab's Sig_structure digest for a test certificate
// that carries dcci, keeps the audit record, and returns the partial
// COSE_Sign1 (protected {1: -7}, kid unprotected, placeholder payload).
// issuer.Service implements it.
type HashSigner interface {
	SignTestHash(ctx context.Context, partnerID, country, dcci string, digest []byte) ([]byte, error)
}

// Config configures a Service; zero values get the contract's defaults.
type Config struct {
	// TokenTTL is how long a registration lives after its creation (21 d).
	TokenTTL time.Duration
	// DataTTL is the longest a stored certificate stays after storage (4 d);
	// PickupGrace is how long it stays after the first pickup (1 h), so
	// that an app that lost the answer can ask again.
	DataTTL     time.Duration
	PickupGrace time.Duration
	// LabQuota is how many lab ids one partner may claim (100); a claim
	// lapses LabClaimTTL after its last use (30 d).
	LabQuota    int
	LabClaimTTL time.Duration
	// Signer signs lab uploads; NewDCCI makes the certificate identifier a
	// lab is given for a test.
	Signer  HashSigner
	NewDCCI func(p Partner, now time.Time) (string, error)
	Now     func() time.Time
	Rand    io.Reader
}

// Store is the storage the transfer needs: records by ID in the
// collections below, each operation atomic on its record (store.Engine is
// one). Writes return only when durable.
type Store = store.Records

// The transfer's collections; every record in them expires.
const (
	CollTransfers      = "transfers"       // registrations, by test id
	CollTransferTokens = "transfer_tokens" // registration tokens (hashed) to test ids
	CollEnvelopes      = "envelopes"       // certificates for pickup, encrypted to the device key
	CollLabPending     = "lab_pending"     // lab id/test id of tests waiting for their certificate
	CollLabClaims      = "lab_claims"      // lab ids claimed by partners, and each partner's index
)

// Expiring lists the transfer's collections, all of whose records expire,
// for the store's sweeper.
func Expiring() []string {
	return []string{CollTransfers, CollTransferTokens, CollEnvelopes, CollLabPending, CollLabClaims}
}

// Service is the server side of the transfer.
type Service struct {
	cfg     Config
	regs    store.Collection[registration]
	tokens  store.Collection[tokenIndex]
	data    store.Collection[envelope]
	pending store.Collection[struct{}]
	claims  store.Collection[labClaim]
}

// NewService stores in e.
func NewService(cfg Config, e Store) *Service {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 21 * 24 * time.Hour
	}
	if cfg.DataTTL <= 0 {
		cfg.DataTTL = 4 * 24 * time.Hour
	}
	if cfg.PickupGrace <= 0 {
		cfg.PickupGrace = time.Hour
	}
	if cfg.LabQuota <= 0 {
		cfg.LabQuota = 100
	}
	if cfg.LabClaimTTL <= 0 {
		cfg.LabClaimTTL = 30 * 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Service{
		cfg:     cfg,
		regs:    store.NewCollection[registration](e, CollTransfers),
		tokens:  store.NewCollection[tokenIndex](e, CollTransferTokens),
		data:    store.NewCollection[envelope](e, CollEnvelopes),
		pending: store.NewCollection[struct{}](e, CollLabPending),
		claims:  store.NewCollection[labClaim](e, CollLabClaims),
	}
}

// registration is one test's transfer record, keyed by the test id. The app
// (token, key) and the lab (lab id, result) may fill it in either order.
type registration struct {
	Token     string    `json:"token,omitempty"`
	PublicKey string    `json:"publicKey,omitempty"` // Base64 DER SPKI
	LabID     string    `json:"labId,omitempty"`
	Partner   string    `json:"partner,omitempty"`
	Result    int       `json:"result,omitempty"`
	DCCI      string    `json:"dcci,omitempty"`
	Stored    bool      `json:"stored,omitempty"` // a certificate was stored (it may be gone since)
	CreatedAt time.Time `json:"createdAt"`
}

type tokenIndex struct {
	TestID string `json:"testId"`
}

// envelope is a stored certificate, encrypted to the device key.
type envelope struct {
	DEK        []byte    `json:"dek"`
	DCC        []byte    `json:"dcc"`
	UVCI       string    `json:"uvci"`
	StoredAt   time.Time `json:"storedAt"`
	PickedUpAt time.Time `json:"pickedUpAt,omitzero"`
}

type labClaim struct {
	Partner  string    `json:"partner"`
	LabID    string    `json:"labId"`
	LastUsed time.Time `json:"lastUsed"`
}

var (
	testIDPattern = lazyre.New(`^[XxA-Fa-f0-9][A-Fa-f0-9]{63}$`)
	labIDPattern  = lazyre.New(`^[A-Za-z0-9]{1,64}$`)
	tokenPattern  = lazyre.New(`^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$`)
)

// TestID normalises a test id (64 hex characters, the first may be x for
// tests keyed by birth date); ErrBadRequest otherwise.
func TestID(s string) (string, error) {
	if !testIDPattern().MatchString(s) {
		return "", fmt.Errorf("%w: test id must be 64 hexadecimal characters", ErrBadRequest)
	}
	return strings.ToLower(s), nil
}

// CheckLabID says whether s is a lab id: 1 to 64 letters and digits.
func CheckLabID(s string) error {
	if !labIDPattern().MatchString(s) {
		return fmt.Errorf("%w: lab id must be 1 to 64 letters and digits", ErrBadRequest)
	}
	return nil
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// regExpiry is when a registration and its token are deleted.
func (s *Service) regExpiry(r registration) time.Time { return r.CreatedAt.Add(s.cfg.TokenTTL) }

func (s *Service) newToken() string {
	var b [16]byte
	io.ReadFull(s.cfg.Rand, b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// update reads a record, applies change and writes it back, with the
// expiry expires gives, if nobody changed it meanwhile, retrying on
// conflicts. change returns false to write nothing.
func update[T any](ctx context.Context, c store.Collection[T], id string, expires func(T) time.Time, change func(*T) (bool, error)) (T, error) {
	for {
		v, ver, err := c.Get(ctx, id)
		if err != nil {
			return v, err
		}
		write, err := change(&v)
		if err != nil || !write {
			return v, err
		}
		_, err = c.Update(ctx, id, ver, expires(v), v)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return v, err
	}
}

// RegistrationToken gives the app the token for a test, as the
// verification server's POST /version/v1/registrationToken: the same test
// id again gives the same token. created is false for a repeat.
func (s *Service) RegistrationToken(ctx context.Context, testID string) (token string, created bool, err error) {
	id, err := TestID(testID)
	if err != nil {
		return "", false, err
	}
	now := s.cfg.Now()
	for {
		reg := registration{Token: s.newToken(), CreatedAt: now}
		_, err := s.regs.Insert(ctx, id, now.Add(s.cfg.TokenTTL), reg)
		if err == nil {
			return reg.Token, true, s.indexToken(ctx, reg.Token, id, now.Add(s.cfg.TokenTTL))
		}
		if !errors.Is(err, store.ErrExists) {
			return "", false, err
		}
		// Known test: its token, or one for a registration a lab began.
		var fresh string
		cur, err := update(ctx, s.regs, id, s.regExpiry, func(r *registration) (bool, error) {
			if r.Token != "" {
				return false, nil
			}
			fresh = s.newToken()
			r.Token = fresh
			return true, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return "", false, err
		}
		if fresh != "" {
			return fresh, true, s.indexToken(ctx, fresh, id, cur.CreatedAt.Add(s.cfg.TokenTTL))
		}
		// The token is given once: whoever else knows the test id (a lab
		// sees it in its search) must not get it, or it could start the
		// pickup grace or spend the app's poll allowance. The CWA
		// verification server answers a repeat with 400 as well.
		return "", false, ErrAlreadyRegistered
	}
}

func (s *Service) indexToken(ctx context.Context, token, testID string, expiresAt time.Time) error {
	_, err := s.tokens.Insert(ctx, hashHex(token), expiresAt, tokenIndex{TestID: testID})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}

// testOf finds the test of a registration token.
func (s *Service) testOf(ctx context.Context, token string) (string, error) {
	if !tokenPattern().MatchString(token) {
		return "", fmt.Errorf("%w: registration token must be a lower-case UUIDv4", ErrBadRequest)
	}
	idx, _, err := s.tokens.Get(ctx, hashHex(token))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnknownToken
	}
	return idx.TestID, err
}

// RegisterKey stores the app's public key for its test
// (POST /version/v1/publicKey). The same key again is accepted (created
// false): an app that lost the first answer must not be locked out.
func (s *Service) RegisterKey(ctx context.Context, token, publicKey string) (created bool, err error) {
	if _, err := ParseDeviceKey(publicKey); err != nil {
		return false, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	testID, err := s.testOf(ctx, token)
	if err != nil {
		return false, err
	}
	reg, err := update(ctx, s.regs, testID, s.regExpiry, func(r *registration) (bool, error) {
		switch {
		case r.Token != token:
			return false, ErrUnknownToken
		case r.PublicKey == publicKey:
			created = false
			return false, nil
		case r.PublicKey != "":
			return false, ErrKeyConflict
		case r.LabID != "" && !negative(r.Result):
			return false, ErrNotAllowed
		}
		r.PublicKey, created = publicKey, true
		return true, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, ErrUnknownToken
	}
	if err != nil {
		return false, err
	}
	if created && reg.LabID != "" {
		return true, s.markPending(ctx, reg, testID)
	}
	return created, nil
}

func negative(result int) bool { return result == ResultNegative || result == ResultQuickNegative }

// markPending lists the test in its lab's search results.
func (s *Service) markPending(ctx context.Context, reg registration, testID string) error {
	_, err := s.pending.Insert(ctx, reg.LabID+"/"+testID, reg.CreatedAt.Add(s.cfg.TokenTTL), struct{}{})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}

// Pickup is the app's POST /version/v1/dcc: the envelope when it is there,
// ErrPending before (202), ErrGone after it was deleted (410),
// ErrUnknownToken / ErrNoKey (404). admit (may be nil) is asked once the
// token is known to exist and may refuse the poll with its error: a poll
// limit that counted unknown tokens could be flushed by a flood of
// random ones.
func (s *Service) Pickup(ctx context.Context, token string, admit func() error) (dek, dcc []byte, err error) {
	testID, err := s.testOf(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	reg, _, err := s.regs.Get(ctx, testID)
	if errors.Is(err, store.ErrNotFound) || err == nil && reg.Token != token {
		return nil, nil, ErrUnknownToken
	}
	if err != nil {
		return nil, nil, err
	}
	if admit != nil {
		if err := admit(); err != nil {
			return nil, nil, err
		}
	}
	if reg.PublicKey == "" {
		return nil, nil, ErrNoKey
	}
	now := s.cfg.Now()
	env, ver, err := s.data.Get(ctx, testID)
	switch {
	case errors.Is(err, store.ErrNotFound) && reg.Stored:
		return nil, nil, ErrGone
	case errors.Is(err, store.ErrNotFound):
		return nil, nil, ErrPending
	case err != nil:
		return nil, nil, err
	}
	if env.PickedUpAt.IsZero() {
		// The first pickup starts the grace period; a lost race with a
		// parallel pickup changes nothing.
		env.PickedUpAt = now
		expires := env.StoredAt.Add(s.cfg.DataTTL)
		if grace := now.Add(s.cfg.PickupGrace); grace.Before(expires) {
			expires = grace
		}
		if _, err := s.data.Update(ctx, testID, ver, expires, env); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
	}
	return env.DEK, env.DCC, nil
}

// Check says whether a certificate can be delivered to the test's app: a
// key is registered and nothing was stored yet. The issuer asks before it
// signs, so a refused transfer leaves nothing behind.
func (s *Service) Check(ctx context.Context, issuerID, testID string) error {
	_, reg, err := s.owned(ctx, issuerID, testID)
	switch {
	case err != nil:
		return err
	case reg.PublicKey == "":
		return ErrNoKey
	case reg.Stored:
		return ErrAlreadyStored
	}
	return nil
}

// owned reads the test's registration for the issuer whose lab announced
// it (AnnounceResults); ErrNotYours for anyone else, and for a test no lab
// announced, so that a stranger cannot tell one from the other.
func (s *Service) owned(ctx context.Context, issuerID, testID string) (string, registration, error) {
	id, err := TestID(testID)
	if err != nil {
		return "", registration{}, err
	}
	reg, _, err := s.regs.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (reg.Partner == "" || reg.Partner != issuerID):
		return "", registration{}, ErrNotYours
	case err != nil:
		return "", registration{}, err
	}
	return id, reg, nil
}

// Deliver stores a signed certificate for the test's app, encrypted to its
// key (our own issuers' direct path). Only the issuer whose lab announced
// the test may deliver (ErrNotYours otherwise). Delivering the same UVCI again is a
// no-op, so an idempotent retry of the issuance succeeds.
func (s *Service) Deliver(ctx context.Context, issuerID, testID, uvci string, signedCOSE []byte) error {
	id, reg, err := s.owned(ctx, issuerID, testID)
	if err != nil {
		return err
	}
	if reg.PublicKey == "" {
		return ErrNoKey
	}
	device, err := ParseDeviceKey(reg.PublicKey)
	if err != nil {
		return err
	}
	dek, dcc, err := SealCertificate(s.cfg.Rand, device, signedCOSE)
	if err != nil {
		return err
	}
	return s.store(ctx, id, reg, envelope{DEK: dek, DCC: dcc, UVCI: uvci})
}

// store keeps the envelope and marks the registration stored. The same
// certificate again (a retried delivery) is a no-op while its envelope is
// there; any other is ErrAlreadyStored.
func (s *Service) store(ctx context.Context, testID string, reg registration, env envelope) error {
	sameAgain := func() error {
		if cur, _, err := s.data.Get(ctx, testID); err == nil && cur.UVCI == env.UVCI {
			return nil
		}
		return ErrAlreadyStored
	}
	if reg.Stored {
		return sameAgain()
	}
	now := s.cfg.Now()
	env.StoredAt = now
	if _, err := s.data.Insert(ctx, testID, now.Add(s.cfg.DataTTL), env); errors.Is(err, store.ErrExists) {
		return sameAgain()
	} else if err != nil {
		return err
	}
	if _, err := update(ctx, s.regs, testID, s.regExpiry, func(r *registration) (bool, error) {
		r.Stored = true
		return true, nil
	}); err != nil {
		return err
	}
	if reg.LabID != "" {
		if err := s.pending.Delete(ctx, reg.LabID+"/"+testID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// ClaimLab claims a lab id for a partner (POST /version/v1/labId) or
// refreshes its claim, and says how many more it may claim.
func (s *Service) ClaimLab(ctx context.Context, p Partner, labID string) (remaining int, err error) {
	if err := CheckLabID(labID); err != nil {
		return 0, err
	}
	now := s.cfg.Now()
	expires := now.Add(s.cfg.LabClaimTTL)
	claimID, indexID := "lab/"+labID, "partner/"+hashHex(p.ID)+"/"+labID
	for {
		c, ver, err := s.claims.Get(ctx, claimID)
		switch {
		case err == nil && c.Partner != p.ID:
			return 0, ErrLabTaken
		case err == nil:
			c.LastUsed = now
			if _, err := s.claims.Update(ctx, claimID, ver, expires, c); errors.Is(err, store.ErrConflict) {
				continue
			} else if err != nil {
				return 0, err
			}
			s.refreshIndex(ctx, indexID, expires, c)
			return s.remaining(ctx, p)
		case !errors.Is(err, store.ErrNotFound):
			return 0, err
		}
		left, err := s.remaining(ctx, p)
		if err != nil {
			return 0, err
		}
		if left <= 0 {
			return 0, ErrLabQuota
		}
		c = labClaim{Partner: p.ID, LabID: labID, LastUsed: now}
		if _, err := s.claims.Insert(ctx, claimID, expires, c); errors.Is(err, store.ErrExists) {
			continue
		} else if err != nil {
			return 0, err
		}
		s.refreshIndex(ctx, indexID, expires, c)
		return left - 1, nil
	}
}

// refreshIndex keeps the partner's index entry of a claim alive as long
// as the claim.
func (s *Service) refreshIndex(ctx context.Context, indexID string, expires time.Time, c labClaim) {
	if _, err := s.claims.Insert(ctx, indexID, expires, c); errors.Is(err, store.ErrExists) {
		update(ctx, s.claims, indexID, func(labClaim) time.Time { return expires }, func(*labClaim) (bool, error) { return true, nil })
	}
}

// remaining is the partner's quota left: its live claims counted from the
// index (at most quota+1 read).
func (s *Service) remaining(ctx context.Context, p Partner) (int, error) {
	items, err := s.claims.List(ctx, "partner/"+hashHex(p.ID)+"/", s.cfg.LabQuota+1)
	if err != nil {
		return 0, err
	}
	return max(0, s.cfg.LabQuota-len(items)), nil
}

// TestResult is one result a lab announces.
type TestResult struct {
	ID     string // the test-result id (hash) the lab gave the app; testId = SHA-256 hex of it
	Result int
}

// AnnounceResults records a lab's test results (the CWA test-result
// server's POST /api/v1/quicktest/results): it ties each test to the lab,
// so that the lab finds the app's key in its search, and keeps the result,
// since a certificate is only issued for a negative test.
func (s *Service) AnnounceResults(ctx context.Context, p Partner, labID string, results []TestResult) error {
	if _, err := s.ClaimLab(ctx, p, labID); err != nil {
		return err
	}
	for _, tr := range results {
		if tr.ID == "" || len(tr.ID) > 128 || tr.Result < 0 || tr.Result > resultHighestKnownCWA {
			return fmt.Errorf("%w: each result needs an id and a result code 0–9", ErrBadRequest)
		}
	}
	now := s.cfg.Now()
	for _, tr := range results {
		testID := hashHex(tr.ID)
		reg := registration{LabID: labID, Partner: p.ID, Result: tr.Result, CreatedAt: now}
		if _, err := s.regs.Insert(ctx, testID, now.Add(s.cfg.TokenTTL), reg); err == nil {
			continue
		} else if !errors.Is(err, store.ErrExists) {
			return err
		}
		cur, err := update(ctx, s.regs, testID, s.regExpiry, func(r *registration) (bool, error) {
			if r.LabID != "" && r.LabID != labID {
				return false, nil // another lab's test: not ours to change
			}
			r.LabID, r.Partner, r.Result = labID, p.ID, tr.Result
			return true, nil
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && cur.LabID == labID && cur.PublicKey != "" && !cur.Stored && negative(cur.Result) {
			if err := s.markPending(ctx, cur, testID); err != nil {
				return err
			}
		}
	}
	return nil
}

// PendingKey is a test of the lab waiting for its certificate.
type PendingKey struct {
	TestID    string `json:"testId"`
	DCCI      string `json:"dcci"`
	PublicKey string `json:"publicKey"`
}

// maxSearch bounds one search answer.
const maxSearch = 1000

// SearchLab lists the lab's tests whose app registered a key and that have
// no certificate yet (GET /version/v1/publicKey/search/{labId}), giving
// each a DCCI on first sight.
func (s *Service) SearchLab(ctx context.Context, p Partner, labID string) ([]PendingKey, error) {
	if _, err := s.ClaimLab(ctx, p, labID); err != nil {
		return nil, err
	}
	items, err := s.pending.List(ctx, labID+"/", maxSearch)
	if err != nil {
		return nil, err
	}
	out := []PendingKey{}
	for _, it := range items {
		testID := strings.TrimPrefix(it.ID, labID+"/")
		reg, err := update(ctx, s.regs, testID, s.regExpiry, func(r *registration) (bool, error) {
			if r.DCCI != "" || s.cfg.NewDCCI == nil {
				return false, nil
			}
			dcci, err := s.cfg.NewDCCI(p, s.cfg.Now())
			r.DCCI = dcci
			return err == nil, err
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if reg.Stored || reg.PublicKey == "" || reg.LabID != labID {
			continue
		}
		out = append(out, PendingKey{TestID: testID, DCCI: reg.DCCI, PublicKey: reg.PublicKey})
	}
	return out, nil
}

// Limits of a lab upload, as in the contract.
const (
	maxEncryptedDCC = 1000
	maxDEK          = 600
)

// UploadFromLab takes a lab's certificate for a test (POST
// /version/v1/test/{testId}/dcc): it has the hash signed, stores the
// ciphertext with the signature for the app and returns the partial
// COSE_Sign1 (Base64) the lab can complete for its own printout.
func (s *Service) UploadFromLab(ctx context.Context, p Partner, testID string, up LabUpload) (string, error) {
	id, err := TestID(testID)
	if err != nil {
		return "", err
	}
	digest, err := hex.DecodeString(up.DCCHash)
	if err != nil || len(digest) != 32 {
		return "", fmt.Errorf("%w: dccHash must be 64 hexadecimal characters", ErrBadRequest)
	}
	ct, err1 := base64.StdEncoding.DecodeString(up.EncryptedDCC)
	dek, err2 := base64.StdEncoding.DecodeString(up.DataEncryptionKey)
	switch {
	case err1 != nil || len(ct) == 0 || len(up.EncryptedDCC) > maxEncryptedDCC:
		return "", fmt.Errorf("%w: encryptedDcc must be Base64, 1 to %d characters", ErrBadRequest, maxEncryptedDCC)
	case err2 != nil || len(dek) == 0 || len(up.DataEncryptionKey) > maxDEK:
		return "", fmt.Errorf("%w: dataEncryptionKey must be Base64, 1 to %d characters", ErrBadRequest, maxDEK)
	}
	reg, _, err := s.regs.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && reg.PublicKey == "" {
		return "", ErrUnknownTest
	}
	if err != nil {
		return "", err
	}
	if reg.LabID == "" {
		return "", ErrUnknownTest // no lab announced this test
	}
	if _, err := s.ClaimLab(ctx, p, reg.LabID); err != nil {
		return "", err
	}
	if reg.Stored {
		return "", ErrAlreadyStored
	}
	if reg.DCCI == "" {
		return "", fmt.Errorf("%w: search the lab's keys first: the DCCI for the test is handed out there", ErrUnknownTest)
	}
	partial, err := s.cfg.Signer.SignTestHash(ctx, p.ID, p.Country, reg.DCCI, digest)
	if err != nil {
		return "", err
	}
	dcc, err := hcert.ReplacePayload(partial, ct)
	if err != nil {
		return "", err
	}
	if err := s.store(ctx, id, reg, envelope{DEK: dek, DCC: dcc, UVCI: reg.DCCI}); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(partial), nil
}

// Counter counts the records of a collection that have not expired
// (store.Engine does).
type Counter interface {
	Count(ctx context.Context, coll string) (int, error)
}

// Pending counts the transfer records held: certificates encrypted for an
// app (until picked up, and the pickup grace after), and registered tests
// whose lab has not delivered yet. For a gauge read on a schedule: each is a
// count over the store.
func Pending(ctx context.Context, c Counter) (certificates, tests int, err error) {
	if certificates, err = c.Count(ctx, CollEnvelopes); err != nil {
		return 0, 0, fmt.Errorf("count pending certificates: %w", err)
	}
	if tests, err = c.Count(ctx, CollLabPending); err != nil {
		return 0, 0, fmt.Errorf("count pending tests: %w", err)
	}
	return certificates, tests, nil
}
