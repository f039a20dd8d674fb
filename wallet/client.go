package wallet

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Client is the app side of the transfer: it talks to a greenpass (or CWA
// DCC) server as the Corona-Warn-App does.
type Client struct {
	// Base is the server's base URL, e.g. https://greenpass.example.
	Base string
	HTTP *http.Client
}

// maxAnswer bounds what the client reads of an answer (the trust list is
// the largest).
const maxAnswer = trustlist.MaxDocumentSize

func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Base, "/")+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if len(data) > maxAnswer {
		return nil, nil, fmt.Errorf("%s %s: answer larger than %d bytes", method, path, maxAnswer)
	}
	return resp, data, nil
}

// statusError describes an unexpected answer, with the server's reason
// when it gave one.
func statusError(what string, resp *http.Response, body []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return fmt.Errorf("%s: %s: %s", what, resp.Status, e.Error)
	}
	return fmt.Errorf("%s: %s", what, resp.Status)
}

// RegistrationToken asks for the registration token of a test.
func (c *Client) RegistrationToken(ctx context.Context, testID string) (string, error) {
	resp, body, err := c.do(ctx, http.MethodPost, "/version/v1/registrationToken", map[string]string{"key": testID, "keyType": "GUID"})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", statusError("registration token", resp, body)
	}
	var out struct {
		RegistrationToken string `json:"registrationToken"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.RegistrationToken == "" {
		return "", errors.New("registration token: the answer holds no token")
	}
	return out.RegistrationToken, nil
}

// RegisterKey registers the device's public key for the token; registering
// the same key again is fine.
func (c *Client) RegisterKey(ctx context.Context, token string, pub *rsa.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	resp, body, err := c.do(ctx, http.MethodPost, "/version/v1/publicKey",
		map[string]string{"registrationToken": token, "publicKey": base64.StdEncoding.EncodeToString(der)})
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusOK:
		return nil
	case http.StatusConflict:
		return fmt.Errorf("%w (the server holds another device key for this test)", ErrKeyConflict)
	case http.StatusForbidden:
		return fmt.Errorf("%w", ErrNotAllowed)
	case http.StatusNotFound:
		return ErrUnknownToken
	}
	return statusError("register key", resp, body)
}

// PickupResult is one pickup attempt: the envelope, or how long to wait.
type PickupResult struct {
	DEK, DCC []byte
	// Wait is the server's Retry-After for a pending certificate (202) or
	// a refused poll (429).
	Wait time.Duration
}

// Pickup asks once for the certificate. ErrPending (with Wait) until it is
// there; ErrGone after it was deleted; ErrUnknownToken for an unknown or
// expired registration.
func (c *Client) Pickup(ctx context.Context, token string) (PickupResult, error) {
	resp, body, err := c.do(ctx, http.MethodPost, "/version/v1/dcc", map[string]string{"registrationToken": token})
	if err != nil {
		return PickupResult{}, err
	}
	wait := retryAfter(resp.Header.Get("Retry-After"))
	switch resp.StatusCode {
	case http.StatusOK:
		var out struct{ DEK, DCC string }
		if err := json.Unmarshal(body, &out); err != nil {
			return PickupResult{}, errors.New("pickup: the answer is not {dek, dcc}")
		}
		dek, err1 := base64.StdEncoding.DecodeString(out.DEK)
		dcc, err2 := base64.StdEncoding.DecodeString(out.DCC)
		if err1 != nil || err2 != nil {
			return PickupResult{}, errors.New("pickup: dek or dcc is not Base64")
		}
		return PickupResult{DEK: dek, DCC: dcc}, nil
	case http.StatusAccepted, http.StatusTooManyRequests:
		return PickupResult{Wait: wait}, ErrPending
	case http.StatusGone:
		return PickupResult{}, ErrGone
	case http.StatusNotFound:
		return PickupResult{}, ErrUnknownToken
	}
	return PickupResult{}, statusError("pickup", resp, body)
}

func retryAfter(h string) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return 0
}

// Fetch polls until the certificate is there or ctx ends, waiting as the
// server says (Retry-After), else with a backoff from minWait doubling to
// a minute. It returns the QR text of the decrypted certificate. waiting,
// when set, is told before each wait.
func (c *Client) Fetch(ctx context.Context, token string, device *rsa.PrivateKey, minWait time.Duration, waiting func(time.Duration)) (string, error) {
	backoff := minWait
	if backoff <= 0 {
		backoff = time.Second
	}
	for {
		res, err := c.Pickup(ctx, token)
		if err == nil {
			return OpenCertificate(device, res.DEK, res.DCC)
		}
		if !errors.Is(err, ErrPending) {
			return "", err
		}
		wait := res.Wait
		if wait <= 0 {
			wait = backoff
			backoff = min(2*backoff, time.Minute)
		}
		if waiting != nil {
			waiting(wait)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w: %w", ErrPending, ctx.Err())
		case <-time.After(wait):
		}
	}
}
