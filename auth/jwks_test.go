package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// An identity provider in the test: an RSA key published as a JWK Set.
func TestJWKSVerifier(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "idp-1", "use": "sig", "alg": "RS256",
		"n": b64(rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(rsaKey.E)).Bytes()),
	}}})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	defer idp.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := NewJWKSVerifier(ctx, idp.URL, JWKSOptions{Issuer: "https://idp.example", Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "impfzentrum-7", "aud": "greenpass", "iss": "https://idp.example", "country": "DE",
			"roles": []string{"issue:v"}, "name": "Impfzentrum Messe", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	sign := func(method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(nil))
	id, err := v.Verify(good)
	if err != nil || id.Subject != "impfzentrum-7" || id.Name != "Impfzentrum Messe" || !id.Has(RoleIssueVaccination) {
		t.Fatalf("Verify = %+v, %v", id, err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	refused := map[string]string{
		"none":           sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "idp-1", claims(nil)),
		"HS256 with pub": sign(jwt.SigningMethodHS256, pubDER, "idp-1", claims(nil)),
		"other key":      sign(jwt.SigningMethodRS256, other, "idp-1", claims(nil)),
		"unknown kid":    sign(jwt.SigningMethodRS256, rsaKey, "idp-9", claims(nil)),
		"alg mismatch":   sign(jwt.SigningMethodES256, ecKey, "idp-1", claims(nil)),
		"wrong audience": sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { c["aud"] = "other" })),
		"wrong issuer":   sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil" })),
		"expired":        sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })),
		"not yet valid":  sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })),
		"no exp":         sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { delete(c, "exp") })),
		"no country":     sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { delete(c, "country") })),
		"unknown role":   sign(jwt.SigningMethodRS256, rsaKey, "idp-1", claims(func(c jwt.MapClaims) { c["roles"] = []string{"superuser"} })),
	}
	for name, tok := range refused {
		if _, err := v.Verify(tok); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: %v, want ErrUnauthorized", name, err)
		}
	}
	if _, err := NewJWKSVerifier(ctx, idp.URL, JWKSOptions{Algorithms: []string{"HS256"}}); err == nil {
		t.Error("HS256 accepted as a JWKS algorithm")
	}
	if _, err := NewJWKSVerifier(ctx, "file:///etc/passwd", JWKSOptions{}); err == nil {
		t.Error("non-HTTP JWKS URL accepted")
	}

	// Chained after the instance's own key, both kinds of token pass.
	own, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ownV, _ := NewVerifier(own.Public(), func() time.Time { return now })
	chain := Chain{ownV, v}
	ownTok, _ := Sign(own, Identity{Subject: "apotheke-1", Country: "DE", Roles: []Role{RoleIssueTest}}, time.Hour, now)
	for _, tok := range []string{ownTok, good} {
		if _, err := chain.Verify(tok); err != nil {
			t.Errorf("chain refused a good token: %v", err)
		}
	}
	if _, err := chain.Verify(refused["none"]); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("chain: %v", err)
	}
	if _, err := (Chain{}).Verify(good); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("empty chain: %v", err)
	}
}
