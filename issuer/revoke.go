package issuer

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/greenpass-dcc/greenpass/store"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Revocation is the record of a certificate its issuer revoked: the
// revocation list's three hashes, no personal data.
type Revocation struct {
	UVCI      string    `json:"uvci"`
	Issuer    string    `json:"issuer"`
	KID       string    `json:"kid"` // Base64
	RevokedAt time.Time `json:"revokedAt"`
	// ExpiresAt is the certificate's expiry: after it the entry is no
	// longer needed on the list.
	ExpiresAt time.Time `json:"expiresAt"`
	// Hashes are the hex SHA-256 digests the list carries truncated to 16
	// bytes, by hash type.
	Hashes map[trustlist.HashType]string `json:"hashes"`
}

// revocationKeep is how long a revocation stays listed after the
// certificate expired: verifiers with a slow clock still see it.
const revocationKeep = 7 * 24 * time.Hour

// Revoke revokes a certificate the issuer made. created is false when it
// was revoked before (the earlier record is returned); ErrNotFound for
// unknown UVCIs and other issuers' certificates.
func (s *Service) Revoke(ctx context.Context, issuerID, uvci string) (rev *Revocation, created bool, err error) {
	a, err := s.Lookup(ctx, issuerID, uvci)
	if err != nil {
		return nil, false, err
	}
	rev, created, err = s.revoke(ctx, a)
	if created && s.cfg.OnRevoke != nil {
		s.cfg.OnRevoke()
	}
	return rev, created, err
}

// revoke stores the revocation of the certificate a audits; created is
// false when it was revoked before.
func (s *Service) revoke(ctx context.Context, a *Audit) (rev *Revocation, created bool, err error) {
	uvci := a.UVCI
	r := Revocation{UVCI: a.UVCI, Issuer: a.Issuer, KID: a.KID, RevokedAt: s.cfg.Now().UTC(), ExpiresAt: a.ExpiresAt,
		Hashes: map[trustlist.HashType]string{
			trustlist.HashSignature:  a.RevocationSignatureSHA256,
			trustlist.HashUCI:        a.UVCISHA256,
			trustlist.HashCountryUCI: a.CountryUVCISHA256,
		}}
	_, err = s.revocations.Insert(ctx, uvci, a.ExpiresAt.Add(revocationKeep), r)
	if errors.Is(err, store.ErrExists) {
		prev, _, gerr := s.revocations.Get(ctx, uvci)
		if gerr != nil {
			return nil, false, fmt.Errorf("read revocation: %w", gerr)
		}
		return &prev, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store revocation: %w", err)
	}
	return &r, true, nil
}

// Revoked returns the revocation of a certificate, ErrNotFound if it is
// not revoked.
func (s *Service) Revoked(ctx context.Context, uvci string) (*Revocation, error) {
	r, _, err := s.revocations.Get(ctx, uvci)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// maxRevocations bounds one read of the revocations for publication.
const maxRevocations = 5_000_000

// Revocations returns the entries of every live revocation by this
// service's issuers, for the published lists.
func (s *Service) Revocations(ctx context.Context) ([]trustlist.Revocation, error) {
	items, err := s.revocations.List(ctx, "", maxRevocations)
	if err != nil {
		return nil, err
	}
	out := make([]trustlist.Revocation, 0, 3*len(items))
	for _, it := range items {
		for _, t := range trustlist.HashTypes {
			full, err := hex.DecodeString(it.Value.Hashes[t])
			if err != nil || len(full) < 16 {
				continue
			}
			e := trustlist.Revocation{KID: it.Value.KID, Type: t, Expires: it.Value.ExpiresAt.Add(revocationKeep)}
			copy(e.Hash[:], full[:16])
			out = append(out, e)
		}
	}
	return out, nil
}
