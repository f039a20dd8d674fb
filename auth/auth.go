// Package auth issues and checks the bearer tokens with which pharmacies,
// test and vaccination centres call the issuing API: JWTs signed ES256 with
// the instance's issuer-token key, carrying the issuer id (sub), audience,
// expiry, the issuer's country and its roles. Checking pins the algorithm,
// the audience and the expiry: "none", HMAC tokens keyed with the public key,
// wrong audiences, expired and not-yet-valid tokens are refused.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the aud of tokens for this service.
const Audience = "greenpass"

// Role is a permission.
type Role string

// Roles: one per certificate type an issuer may issue, verify for
// checkpoints when the checkpoint API is not open, and admin for the
// operator who suspends issuers and revokes what they issued.
const (
	RoleIssueVaccination Role = "issue:v"
	RoleIssueTest        Role = "issue:t"
	RoleIssueRecovery    Role = "issue:r"
	RoleVerify           Role = "verify"
	RoleAdmin            Role = "admin"
)

var knownRoles = []Role{RoleIssueVaccination, RoleIssueTest, RoleIssueRecovery, RoleVerify, RoleAdmin}

// ErrUnauthorized wraps every reason a token is refused.
var ErrUnauthorized = errors.New("unauthorized")

// Identity is who a valid token speaks for.
type Identity struct {
	Subject string // issuer id
	Country string // ISO 3166-1 alpha-2
	// Name is the issuer's name as certificates show it ("is"); optional.
	Name string
	// Class is the kind of issuer (Classes), for metrics by issuer
	// class; optional.
	Class   string
	Roles   []Role
	Expires time.Time // set by Verify; ignored by Sign
}

// Has reports whether the identity holds role.
func (id *Identity) Has(role Role) bool { return slices.Contains(id.Roles, role) }

// Classes are the issuer classes a token may name: where certificates
// come from, for an operator's figures.
var Classes = []string{"pharmacy", "test-centre", "vaccination-centre", "doctor", "hospital", "laboratory", "authority"}

type claims struct {
	Country string   `json:"country"`
	Name    string   `json:"name,omitempty"`
	Class   string   `json:"class,omitempty"`
	Roles   []string `json:"roles"`
	jwt.RegisteredClaims
}

var countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)

// Sign makes a token for the issuer id (subject, country, roles and
// optional name), valid for ttl from now.
func Sign(key crypto.Signer, id Identity, ttl time.Duration, now time.Time) (string, error) {
	sub, country, roles := id.Subject, id.Country, id.Roles
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return "", fmt.Errorf("auth: issuer-token key is %T, want an ECDSA P-256 key", key)
	}
	if err := checkClaims(sub, country, roles); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", errors.New("auth: ttl must be positive")
	}
	rs := make([]string, len(roles))
	for i, r := range roles {
		rs[i] = string(r)
	}
	if len(id.Name) > 80 {
		return "", errors.New("auth: name longer than 80 characters")
	}
	if id.Class != "" && !slices.Contains(Classes, id.Class) {
		return "", fmt.Errorf("auth: class %q is not one of %s", id.Class, strings.Join(Classes, ", "))
	}
	c := claims{
		Country: country,
		Name:    id.Name,
		Class:   id.Class,
		Roles:   rs,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			Audience:  jwt.ClaimStrings{Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodES256, c).SignedString(ec)
}

func checkClaims(sub, country string, roles []Role) error {
	if sub == "" {
		return errors.New("auth: sub (issuer id) is required")
	}
	if !countryPattern.MatchString(country) {
		return fmt.Errorf("auth: country %q is not an ISO 3166-1 alpha-2 code", country)
	}
	if len(roles) == 0 {
		return errors.New("auth: at least one role is required")
	}
	for _, r := range roles {
		if !slices.Contains(knownRoles, r) {
			return fmt.Errorf("auth: unknown role %q (known: issue:v, issue:t, issue:r, verify, admin)", r)
		}
	}
	return nil
}

// leeway is the clock skew tolerated on exp, nbf and iat.
const leeway = 30 * time.Second

// DefaultMaxLifetime is the longest an issuer token may live, exp − iat
// (exp − now without iat): a stolen or forgotten token stops working
// within it, and an operator's suspension is not the only way out.
const DefaultMaxLifetime = 30 * 24 * time.Hour

// ErrTooLong: a token lives longer than the maximum lifetime.
var ErrTooLong = errors.New("token lives longer than allowed")

// Verifier checks tokens against its keys.
type Verifier struct {
	keyfunc jwt.Keyfunc
	parser  *jwt.Parser
	now     func() time.Time
	// MaxLifetime refuses tokens that live longer (DefaultMaxLifetime
	// when zero; negative: no limit).
	MaxLifetime time.Duration
}

// NewVerifier checks tokens against pub, the instance's own issuer-token
// key (ES256 only), at the clock now (time.Now when nil), with 30 s leeway
// for clock skew.
func NewVerifier(pub crypto.PublicKey, now func() time.Time) (*Verifier, error) {
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("auth: issuer-token key is %T, want ECDSA P-256", pub)
	}
	return &Verifier{
		keyfunc: func(*jwt.Token) (any, error) { return ec, nil },
		parser:  newParser([]string{jwt.SigningMethodES256.Alg()}, "", now),
		now:     now,
	}, nil
}

func newParser(algs []string, issuer string, now func() time.Time) *jwt.Parser {
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	return jwt.NewParser(opts...)
}

// Verify checks a token and returns its identity; every refusal wraps
// ErrUnauthorized.
func (v *Verifier) Verify(token string) (*Identity, error) {
	var c claims
	_, err := v.parser.ParseWithClaims(token, &c, v.keyfunc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	roles := make([]Role, len(c.Roles))
	for i, r := range c.Roles {
		roles[i] = Role(r)
	}
	if err := checkClaims(c.Subject, c.Country, roles); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnauthorized, err)
	}
	if err := v.checkLifetime(&c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, err)
	}
	class := c.Class
	if !slices.Contains(Classes, class) {
		class = "" // an identity provider's own words are not a metric label
	}
	return &Identity{Subject: c.Subject, Country: c.Country, Name: c.Name, Class: class, Roles: roles, Expires: c.ExpiresAt.Time}, nil
}

// checkLifetime refuses a token that lives longer than MaxLifetime (with
// the leeway): exp − iat, or exp − now for a token without iat.
func (v *Verifier) checkLifetime(c *claims) error {
	max := v.MaxLifetime
	if max == 0 {
		max = DefaultMaxLifetime
	}
	if max < 0 {
		return nil
	}
	from := time.Now()
	if v.now != nil {
		from = v.now()
	}
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	if life := c.ExpiresAt.Sub(from); life > max+leeway {
		return fmt.Errorf("%w: %s, at most %s", ErrTooLong, life.Round(time.Second), max)
	}
	return nil
}
