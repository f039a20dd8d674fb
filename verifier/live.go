package verifier

import (
	"context"
	"time"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Published is what a service publishes now, read afresh for every scan:
// the trusted DSCs, the business rules and value sets (nil when none),
// and the revocation list (nil when none).
type Published interface {
	DSCs() TrustStore
	Rules() RuleSource
	Revocations() RevocationChecker
}

// Live verifies against what is published at the moment of each scan, so
// a new trust list or a new revocation counts from the next scan on. It
// is the checkpoint's verifier.
type Live struct {
	Source Published
	// Country and Region are the checkpoint's: the arrival rules applied
	// when a scan names no country.
	Country, Region         string
	ScanBudget, FrameBudget time.Duration
	Now                     func() time.Time // the validation clock; time.Now when nil
}

// For returns the verifier for one scan, with the rules of country (the
// checkpoint's own when empty).
func (l *Live) For(country string) *Verifier {
	if country == "" {
		country = l.Country
	}
	opts := []Option{WithScanBudget(l.ScanBudget), WithFrameBudget(l.FrameBudget)}
	if l.Now != nil {
		opts = append(opts, WithClock(l.Now))
	}
	if rules := l.Source.Rules(); rules != nil && country != "" {
		opts = append(opts, WithRules(rules, country, l.Region))
	}
	if r := l.Source.Revocations(); r != nil {
		opts = append(opts, WithRevocation(r))
	}
	return New(l.Source.DSCs(), opts...)
}

// VerifyImage verifies the DCC in a photo.
func (l *Live) VerifyImage(ctx context.Context, image []byte, country string) *Result {
	return l.For(country).VerifyImage(ctx, image)
}

// VerifyFrame verifies the DCC in a live camera frame.
func (l *Live) VerifyFrame(ctx context.Context, image []byte, country string) *Result {
	return l.For(country).VerifyFrame(ctx, image)
}

// VerifyText verifies an HC1: text.
func (l *Live) VerifyText(ctx context.Context, text, country string) *Result {
	return l.For(country).VerifyText(ctx, text)
}

// Watched is Published by the service's trust-list and revocation
// watchers (Revoked may be nil).
type Watched struct {
	Lists   *trustlist.Watcher
	Revoked *trustlist.RevocationWatcher
}

// DSCs are the current snapshot's, none before the first one.
func (w Watched) DSCs() TrustStore {
	if v := w.Lists.Current(); v != nil {
		return v.List()
	}
	return trustlist.NewList()
}

// Rules are the current snapshot's.
func (w Watched) Rules() RuleSource {
	if v := w.Lists.Current(); v != nil {
		return v
	}
	return nil
}

// Revocations are the current revocation list.
func (w Watched) Revocations() RevocationChecker {
	if w.Revoked == nil {
		return nil
	}
	if v := w.Revoked.View(); v != nil {
		return v.List()
	}
	return nil
}
