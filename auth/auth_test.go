package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var now = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestSignAndVerify(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, err := NewVerifier(key.Public(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	good, err := Sign(key, Identity{Subject: "pharmacy-4711", Country: "DE", Roles: []Role{RoleIssueVaccination, RoleIssueTest}}, 12*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(good)
	if err != nil || id.Subject != "pharmacy-4711" || id.Country != "DE" || !id.Has(RoleIssueTest) || id.Has(RoleIssueRecovery) {
		t.Fatalf("Verify = %+v, %v", id, err)
	}

	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
	forge := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "p", "aud": Audience, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(),
			"country": "DE", "roles": []string{"issue:v"}}
	}
	with := func(k string, val any) jwt.MapClaims { c := base(); c[k] = val; return c }
	without := func(k string) jwt.MapClaims { c := base(); delete(c, k); return c }
	expired, _ := Sign(key, Identity{Subject: "p", Country: "DE", Roles: []Role{RoleIssueVaccination}}, time.Hour, now.Add(-2*time.Hour))
	future, _ := Sign(key, Identity{Subject: "p", Country: "DE", Roles: []Role{RoleIssueVaccination}}, time.Hour, now.Add(time.Hour))

	tests := []struct{ name, token string }{
		{"alg none", forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, base())},
		{"HS256 keyed with the public key", forge(jwt.SigningMethodHS256, pubDER, base())},
		{"another key", forge(jwt.SigningMethodES256, other, base())},
		{"wrong audience", forge(jwt.SigningMethodES256, key, with("aud", "someone-else"))},
		{"no audience", forge(jwt.SigningMethodES256, key, without("aud"))},
		{"no expiry", forge(jwt.SigningMethodES256, key, without("exp"))},
		{"expired", expired},
		{"not yet valid", future},
		{"no subject", forge(jwt.SigningMethodES256, key, without("sub"))},
		{"bad country", forge(jwt.SigningMethodES256, key, with("country", "Germany"))},
		{"unknown role", forge(jwt.SigningMethodES256, key, with("roles", []string{"superuser"}))},
		{"a hundred years", forge(jwt.SigningMethodES256, key, with("exp", now.AddDate(100, 0, 0).Unix()))},
		{"31 days without iat", func() string {
			c := without("iat")
			c["exp"] = now.Add(31 * 24 * time.Hour).Unix()
			return forge(jwt.SigningMethodES256, key, c)
		}()},
		{"no roles", forge(jwt.SigningMethodES256, key, without("roles"))},
		{"garbage", "not.a.token"},
		{"empty", ""},
		{"tampered payload", tamper(good)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if id, err := v.Verify(tt.token); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Verify = %+v, %v; want ErrUnauthorized", id, err)
			}
		})
	}
}

// Tokens may live up to the maximum lifetime, measured from iat (from now
// without one); a verifier may set its own maximum or none.
func TestMaxLifetime(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	id := Identity{Subject: "p", Country: "DE", Roles: []Role{RoleIssueVaccination}}
	month, _ := Sign(key, id, DefaultMaxLifetime, now)
	long, _ := Sign(key, id, 48*time.Hour, now)
	for _, tc := range []struct {
		name  string
		max   time.Duration
		token string
		ok    bool
	}{
		{"30 days, default", 0, month, true},
		{"48 h under a 1-day maximum", 24 * time.Hour, long, false},
		{"48 h under a 2-day maximum", 48 * time.Hour, long, true},
		{"no maximum", -1, month, true},
	} {
		v, _ := NewVerifier(key.Public(), func() time.Time { return now })
		v.MaxLifetime = tc.max
		_, err := v.Verify(tc.token)
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, ErrTooLong) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// tamper swaps the payload for one claiming more roles, keeping the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	payload = []byte(strings.Replace(string(payload), `"issue:v","issue:t"`, `"issue:v","issue:t","issue:r"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestSignRefusesBadInput(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, f := range map[string]func() error{
		"no sub": func() error {
			_, err := Sign(key, Identity{Subject: "", Country: "DE", Roles: []Role{RoleIssueTest}}, time.Hour, now)
			return err
		},
		"bad country": func() error {
			_, err := Sign(key, Identity{Subject: "p", Country: "de", Roles: []Role{RoleIssueTest}}, time.Hour, now)
			return err
		},
		"no roles": func() error {
			_, err := Sign(key, Identity{Subject: "p", Country: "DE", Roles: nil}, time.Hour, now)
			return err
		},
		"bad role": func() error {
			_, err := Sign(key, Identity{Subject: "p", Country: "DE", Roles: []Role{"issue:x"}}, time.Hour, now)
			return err
		},
		"zero ttl": func() error {
			_, err := Sign(key, Identity{Subject: "p", Country: "DE", Roles: []Role{RoleIssueTest}}, 0, now)
			return err
		},
	} {
		if f() == nil {
			t.Errorf("%s: Sign accepted it", name)
		}
	}
}

// FuzzVerify: arbitrary bearer strings never panic and are never accepted
// (only tokens signed with the key are).
func FuzzVerify(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	v, _ := NewVerifier(key.Public(), func() time.Time { return now })
	good, _ := Sign(key, Identity{Subject: "p", Country: "DE", Roles: []Role{RoleIssueTest}}, time.Hour, now)
	f.Add(good)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJwIn0.")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(token)
		if err == nil && token != good {
			t.Fatalf("accepted %q as %+v", token, id)
		}
	})
}

type countingVerifier struct {
	next  TokenVerifier
	calls int
}

func (c *countingVerifier) Verify(token string) (*Identity, error) {
	c.calls++
	return c.next.Verify(token)
}

func TestCache(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	clock := now
	v, _ := NewVerifier(key.Public(), func() time.Time { return clock })
	counting := &countingVerifier{next: v}
	c := NewCache(counting, 2, func() time.Time { return clock })
	tok, _ := Sign(key, Identity{Subject: "p", Country: "DE", Name: "Apotheke", Roles: []Role{RoleIssueTest}}, time.Hour, now)
	for range 3 {
		id, err := c.Verify(tok)
		if err != nil || id.Subject != "p" || id.Name != "Apotheke" {
			t.Fatalf("Verify = %+v, %v", id, err)
		}
		id.Roles = nil // callers cannot change the cached identity
	}
	if counting.calls != 1 {
		t.Errorf("%d verifications for three uses of one token, want 1", counting.calls)
	}
	if id, _ := c.Verify(tok); len(id.Roles) != 1 {
		t.Error("a caller's change reached the cache")
	}
	// Refusals are not cached.
	for range 2 {
		if _, err := c.Verify("garbage"); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("garbage: %v", err)
		}
	}
	if counting.calls != 3 {
		t.Errorf("refusals cached: %d calls", counting.calls)
	}
	// After expiry (plus leeway) the cached token is refused.
	clock = now.Add(time.Hour + leeway + time.Second)
	if _, err := c.Verify(tok); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("expired cached token: %v", err)
	}
	// Bounded.
	clock = now
	for i := range 5 {
		tk, _ := Sign(key, Identity{Subject: "p" + string(rune('a'+i)), Country: "DE", Roles: []Role{RoleIssueTest}}, time.Hour, now)
		if _, err := c.Verify(tk); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() > 2 {
		t.Errorf("%d tokens cached, bound is 2", c.Len())
	}
}
