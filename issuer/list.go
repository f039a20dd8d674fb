package issuer

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Page is one page of an issuer's certificates, oldest first. Next, when
// set, continues the listing (as the cursor of the next call).
type Page struct {
	Certificates []Audit `json:"certificates"`
	Next         string  `json:"next,omitempty"`
}

// Listing bounds.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
	// scanLimit bounds the records one call reads (other issuers' that
	// share the UVCI issuer part are read and skipped).
	scanLimit = 5000
)

// Issued lists the audit records of the certificates issuerID issued from
// from to to (both inclusive, to the millisecond), with country's UVCIs,
// oldest first, up to limit (DefaultPageSize when 0, at most MaxPageSize);
// cursor is a page's Next. The UVCI carries its issuing time in sortable
// form after the issuer part (NewUVCI), so a listing is one range read of
// the audit records, no index beside them.
func (s *Service) Issued(ctx context.Context, issuerID, country string, from, to time.Time, cursor string, limit int) (Page, error) {
	out := Page{Certificates: []Audit{}}
	if err := checkIssuerID(issuerID); err != nil {
		return out, err
	}
	if len(country) != 2 || strings.Trim(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return out, fmt.Errorf("%w: country must be two upper-case letters", ErrMalformed)
	}
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return out, ErrBadWindow
	}
	switch {
	case limit == 0:
		limit = DefaultPageSize
	case limit < 0 || limit > MaxPageSize:
		return out, fmt.Errorf("%w: limit must be 1 to %d", ErrMalformed, MaxPageSize)
	}
	prefix := "URN:UVCI:01:" + country + ":" + uvciIssuerPart(issuerID) + "/"
	after, toKey := timeRange(prefix, from, to)
	if cursor != "" {
		if !strings.HasPrefix(cursor, prefix) {
			return out, fmt.Errorf("%w: the cursor is not one of this listing's", ErrMalformed)
		}
		after = cursor
	}
	scanned := 0
	for scanned < scanLimit {
		items, err := s.audit.ListAfter(ctx, prefix, after, min(limit+1, scanLimit-scanned))
		if err != nil {
			return out, fmt.Errorf("read audit records: %w", err)
		}
		for _, it := range items {
			scanned++
			if it.ID > toKey {
				return out, nil
			}
			if len(out.Certificates) == limit {
				out.Next = after
				return out, nil
			}
			after = it.ID
			a := it.Value
			if a.Issuer != issuerID {
				continue // another issuer whose id has the same letters and digits
			}
			if rev, _, err := s.revocations.Get(ctx, a.UVCI); err == nil {
				a.RevokedAt = &rev.RevokedAt
			}
			out.Certificates = append(out.Certificates, a)
		}
		if len(items) == 0 {
			return out, nil
		}
	}
	out.Next = after // the scan bound reached: the caller goes on from here
	return out, nil
}

// timeRange gives the keys that bound the UVCIs under prefix issued from
// from to to, both inclusive to the millisecond: every such ID sorts after
// after and before toKey. ("}" sorts after the base-36 digits and "#".)
func timeRange(prefix string, from, to time.Time) (after, toKey string) {
	after = prefix + base36(big.NewInt(max(from.UnixMilli()-1, 0)), 9) + "}"
	toKey = prefix + base36(big.NewInt(max(to.UnixMilli(), 0)), 9) + "}"
	return after, toKey
}
