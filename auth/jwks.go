package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
)

// JWKSOptions configure tokens from an external identity provider.
type JWKSOptions struct {
	// Algorithms are the signature algorithms accepted (RS256, PS256,
	// ES256 when empty). HMAC and "none" are never accepted.
	Algorithms []string
	// Issuer, when set, must equal the tokens' iss.
	Issuer string
	// RefreshInterval is how often the key set is fetched again (1 h when
	// zero); an unknown kid triggers a fetch at most every 5 minutes.
	RefreshInterval time.Duration
	Client          *http.Client
	Log             *slog.Logger
	Now             func() time.Time
	// MaxLifetime is Verifier.MaxLifetime for the provider's tokens.
	MaxLifetime time.Duration
}

var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// NewJWKSVerifier checks tokens signed by the keys an identity provider
// publishes at url (a JWK Set). The tokens carry the same claims as ours
// (sub, aud "greenpass", exp, country, roles, optionally name). The set
// is fetched in the background until ctx ends; while the provider is
// unreachable its tokens are refused and the instance's own still work.
func NewJWKSVerifier(ctx context.Context, url string, opts JWKSOptions) (*Verifier, error) {
	if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
		return nil, fmt.Errorf("auth: JWKS URL %q must be http(s)", url)
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = []string{"RS256", "PS256", "ES256"}
	}
	for _, a := range algs {
		if !slices.Contains(asymmetric, a) {
			return nil, fmt.Errorf("auth: algorithm %q not accepted for JWKS tokens (asymmetric only: %s)", a, strings.Join(asymmetric, ", "))
		}
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:          opts.Client,
		HTTPTimeout:     10 * time.Second,
		RefreshInterval: opts.RefreshInterval,
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				log.Warn("identity provider key set not refreshed", "error", err)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	return &Verifier{keyfunc: kf.Keyfunc, parser: newParser(algs, opts.Issuer, opts.Now), now: opts.Now, MaxLifetime: opts.MaxLifetime}, nil
}

// Chain tries verifiers in order and returns the first identity; if all
// refuse, the first refusal.
type Chain []TokenVerifier

// Verify implements TokenVerifier.
func (c Chain) Verify(token string) (*Identity, error) {
	var first error
	for _, v := range c {
		id, err := v.Verify(token)
		if err == nil {
			return id, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		first = fmt.Errorf("%w: no verifier configured", ErrUnauthorized)
	}
	if !errors.Is(first, ErrUnauthorized) {
		first = fmt.Errorf("%w: %v", ErrUnauthorized, first)
	}
	return nil, first
}
