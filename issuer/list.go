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
	scanned, last := 0, after
	err := s.eachInRange(ctx, prefix, after, toKey, limit+1, func(id string, a Audit) (bool, error) {
		if len(out.Certificates) == limit || scanned == scanLimit {
			out.Next = last // more in the range, or the scan bound reached: go on from here
			return false, nil
		}
		scanned, last = scanned+1, id
		if a.Issuer != issuerID {
			return true, nil // another issuer whose id has the same letters and digits
		}
		s.markRevoked(ctx, &a)
		out.Certificates = append(out.Certificates, a)
		return true, nil
	})
	return out, err
}

// eachInRange calls fn with the audit records under prefix whose IDs sort
// after after and up to toKey, in ID order, reading page records at a
// time, until the range ends or fn says to stop.
func (s *Service) eachInRange(ctx context.Context, prefix, after, toKey string, page int, fn func(id string, a Audit) (bool, error)) error {
	for {
		items, err := s.audit.ListAfter(ctx, prefix, after, page)
		if err != nil {
			return fmt.Errorf("read audit records: %w", err)
		}
		for _, it := range items {
			if it.ID > toKey {
				return nil
			}
			if more, err := fn(it.ID, it.Value); err != nil || !more {
				return err
			}
			after = it.ID
		}
		if len(items) < page {
			return nil
		}
	}
}

// timeRange gives the keys that bound the UVCIs under prefix issued from
// from to to, both inclusive to the millisecond: every such ID sorts after
// after and before toKey. ("}" sorts after the base-36 digits and "#".)
func timeRange(prefix string, from, to time.Time) (after, toKey string) {
	after = prefix + base36(big.NewInt(max(from.UnixMilli()-1, 0)), 9) + "}"
	toKey = prefix + base36(big.NewInt(max(to.UnixMilli(), 0)), 9) + "}"
	return after, toKey
}
