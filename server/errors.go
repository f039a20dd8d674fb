package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/issuer"
	"github.com/greenpass-dcc/greenpass/qrscan"
	"github.com/greenpass-dcc/greenpass/wallet"
)

// errorRule maps a domain error to its answer: the status, a stable code a
// client can branch on, and the message (the error's own text, with its
// context, when empty).
// log marks failures an operator must see; client mistakes and deliberate
// refusals are counted by the metrics, not logged.
type errorRule struct {
	err     error
	status  int
	code    string
	message string
	log     bool
}

// errorTable is the one place where domain errors become HTTP answers.
// Handlers return the domain's errors as they are; the first rule whose
// error matches (errors.Is) decides. The CWA transfer contract fixes the
// transfer statuses; the reference server answers most of them without a
// body, we say why.
var errorTable = []errorRule{
	// Issuance.
	{err: issuer.ErrConflict, status: http.StatusConflict, code: "IDEMPOTENCY_KEY_REUSED",
		message: "this Idempotency-Key was already used with a different request"},
	{err: issuer.ErrBadKey, status: http.StatusBadRequest, code: "IDEMPOTENCY_KEY_INVALID",
		message: "Idempotency-Key must be 1 to 255 printable ASCII characters"},
	{err: issuer.ErrNoTransfer, status: http.StatusBadRequest, code: "TRANSFER_UNAVAILABLE",
		message: "this server does not transfer certificates to apps"},
	{err: issuer.ErrTransferNotTest, status: http.StatusForbidden, code: "TRANSFER_NOT_A_TEST"},
	{err: issuer.ErrNotFound, status: http.StatusNotFound, code: "CERTIFICATE_NOT_FOUND",
		message: "no certificate of yours has this UVCI"},
	{err: issuer.ErrSuspended, status: http.StatusForbidden, code: "ISSUER_SUSPENDED"},
	{err: issuer.ErrBadWindow, status: http.StatusBadRequest, code: "BAD_WINDOW"},
	{err: issuer.ErrMalformed, status: http.StatusBadRequest, code: "MALFORMED_REQUEST"},
	{err: issuer.ErrNoSigner, status: http.StatusServiceUnavailable, code: "NO_SIGNER",
		message: "this service cannot sign certificates of this type at the moment", log: true},
	// Certificate transfer (CWA DCC-server contract).
	{err: wallet.ErrBadRequest, status: http.StatusBadRequest, code: "BAD_REQUEST"},
	{err: wallet.ErrDeviceKey, status: http.StatusBadRequest, code: "DEVICE_KEY_INVALID"},
	{err: wallet.ErrUnknownToken, status: http.StatusNotFound, code: "TOKEN_UNKNOWN"},
	{err: wallet.ErrNoKey, status: http.StatusNotFound, code: "NO_DEVICE_KEY"},
	{err: wallet.ErrUnknownTest, status: http.StatusNotFound, code: "TEST_UNKNOWN"},
	{err: wallet.ErrKeyConflict, status: http.StatusConflict, code: "DEVICE_KEY_CONFLICT"},
	{err: wallet.ErrAlreadyStored, status: http.StatusConflict, code: "ALREADY_STORED"},
	{err: wallet.ErrNotAllowed, status: http.StatusForbidden, code: "RESULT_NOT_ALLOWED"},
	{err: wallet.ErrLabQuota, status: http.StatusForbidden, code: "LAB_QUOTA"},
	{err: wallet.ErrLabTaken, status: http.StatusForbidden, code: "LAB_TAKEN"},
	{err: wallet.ErrNotYours, status: http.StatusForbidden, code: "TEST_NOT_YOURS"},
	{err: wallet.ErrAlreadyRegistered, status: http.StatusBadRequest, code: "TEST_ALREADY_REGISTERED"},
	{err: wallet.ErrGone, status: http.StatusGone, code: "GONE"},
	// Checkpoint uploads, refused from their header.
	{err: qrscan.ErrImageTooLarge, status: http.StatusRequestEntityTooLarge, code: "IMAGE_TOO_LARGE"},
	{err: qrscan.ErrImageFormat, status: http.StatusUnprocessableEntity, code: "IMAGE_UNREADABLE"},
	// The client went away or its deadline passed.
	{err: context.Canceled, status: http.StatusServiceUnavailable, code: "CANCELLED", message: "request cancelled"},
	{err: context.DeadlineExceeded, status: http.StatusServiceUnavailable, code: "CANCELLED", message: "request cancelled"},
}

// errorAnswer is the body of every error: a message for people, a code for
// programs, and the request ID that finds the log line.
type errorAnswer struct {
	Error     string             `json:"error"`
	Code      string             `json:"code,omitempty"`
	Fields    []hcert.FieldError `json:"fields,omitempty"`
	RequestID string             `json:"request_id"`
}

// answerFor maps err to its status and body. Schema errors are 422 with
// the fields; echo's HTTP errors (malformed requests, auth) keep their
// status and message; anything else is a 500 whose cause is logged only.
func answerFor(err error) (status int, body errorAnswer, log bool) {
	var se hcert.SchemaError
	if errors.As(err, &se) {
		return http.StatusUnprocessableEntity, errorAnswer{Error: "the certificate data is invalid", Code: "INVALID_CERTIFICATE_DATA", Fields: se}, false
	}
	for _, r := range errorTable {
		if errors.Is(err, r.err) {
			msg := r.message
			if msg == "" {
				msg = err.Error() // domain errors carry no personal data
			}
			return r.status, errorAnswer{Error: msg, Code: r.code}, r.log
		}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		return he.Code, errorAnswer{Error: msg}, he.Code == http.StatusInternalServerError
	}
	return http.StatusInternalServerError, errorAnswer{Error: "internal error", Code: "INTERNAL"}, true
}
