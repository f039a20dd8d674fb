package verifier

import (
	"errors"

	"github.com/greenpass-dcc/greenpass/hcert"
	"github.com/greenpass-dcc/greenpass/pdfimage"
	"github.com/greenpass-dcc/greenpass/qrscan"
)

// Code identifies a failure reason; stable, for programs and translations.
type Code string

// Reason codes, grouped by stage.
const (
	CodeImageUnreadable   Code = "IMAGE_UNREADABLE"    // not a supported image, or corrupt
	CodeImageTooLarge     Code = "IMAGE_TOO_LARGE"     // over the pixel or byte limit
	CodeQRNotFound        Code = "QR_NOT_FOUND"        // no QR code could be read
	CodeMultipleDCCs      Code = "MULTIPLE_DCCS"       // two certificates in one picture
	CodeInputTooLong      Code = "INPUT_TOO_LONG"      // longer than a QR code holds
	CodePrefixMissing     Code = "PREFIX_MISSING"      // no HC1: prefix
	CodePrefixUnsupported Code = "PREFIX_UNSUPPORTED"  // HC2:, HL0:, LT1: …
	CodeBase45Invalid     Code = "BASE45_INVALID"      //
	CodeNotCompressed     Code = "ZLIB_NOT_COMPRESSED" // raw COSE without zlib
	CodeCompression       Code = "ZLIB_CORRUPT"        //
	CodeInflatedTooLarge  Code = "ZLIB_TOO_LARGE"      // zip bomb
	CodeCOSEMalformed     Code = "COSE_MALFORMED"      //
	CodeAlgUnsupported    Code = "ALG_UNSUPPORTED"     // alg missing or not ES256/PS256
	CodeKIDInvalid        Code = "KID_INVALID"         // missing, not bstr, not 8 bytes
	CodeCBORMalformed     Code = "CBOR_MALFORMED"      //
	CodeClaimsInvalid     Code = "CWT_CLAIMS_INVALID"  // exp/iat/hcert missing or mistyped
	CodeSchemaInvalid     Code = "SCHEMA_INVALID"      //
	CodeDSCUnknown        Code = "DSC_UNKNOWN"         // no trusted DSC has this kid
	CodeKeyMismatch       Code = "ALG_KEY_MISMATCH"    // alg does not fit the DSC key
	CodeSignatureInvalid  Code = "SIGNATURE_INVALID"   //
	CodeKeyUsage          Code = "KEY_USAGE_MISMATCH"  // DSC may not sign this certificate type
	CodeTypeUnknown       Code = "TYPE_UNKNOWN"        // zero or several of v/t/r
	CodeCertExpired       Code = "CERT_EXPIRED"        // clock after exp
	CodeCertNotYetValid   Code = "CERT_NOT_YET_VALID"  // iat after clock
	CodeDSCExpired        Code = "DSC_EXPIRED"         // clock after DSC notAfter
	CodeDSCNotYetValid    Code = "DSC_NOT_YET_VALID"   // clock before DSC notBefore
	CodeIssuedBeforeDSC   Code = "ISSUED_BEFORE_DSC"   // iat before DSC notBefore
	CodeOutlivesDSC       Code = "EXPIRES_AFTER_DSC"   // exp after DSC notAfter
	CodeRevoked           Code = "REVOKED"             // on the revocation list
	CodeRuleFailed        Code = "RULE_FAILED"         // a business rule says no
	CodeRuleOpen          Code = "RULE_OPEN"           // a business rule could not be decided
)

// errorCodes maps the errors of the decoding stages to reason codes, in one
// place; the first entry that matches wins, so specific errors come first.
var errorCodes = []struct {
	err  error
	code Code
}{
	{qrscan.ErrImageTooLarge, CodeImageTooLarge},
	{pdfimage.ErrTooLarge, CodeImageTooLarge},
	{qrscan.ErrImageFormat, CodeImageUnreadable},
	{pdfimage.ErrUnreadable, CodeImageUnreadable},
	{qrscan.ErrMultiple, CodeMultipleDCCs},
	{hcert.ErrTooLong, CodeInputTooLong},
	{hcert.ErrUnsupportedPrefix, CodePrefixUnsupported},
	{hcert.ErrNoPrefix, CodePrefixMissing},
	{hcert.ErrBase45, CodeBase45Invalid},
	{hcert.ErrNotCompressed, CodeNotCompressed},
	{hcert.ErrInflatedTooLarge, CodeInflatedTooLarge},
	{hcert.ErrCompression, CodeCompression},
	{hcert.ErrAlgorithm, CodeAlgUnsupported},
	{hcert.ErrKID, CodeKIDInvalid},
	{hcert.ErrCOSE, CodeCOSEMalformed},
	{hcert.ErrCBOR, CodeCBORMalformed},
	{hcert.ErrClaims, CodeClaimsInvalid},
	{hcert.ErrPayloadType, CodeSchemaInvalid},
}

// codeFor returns the reason code for err, or fallback.
func codeFor(err error, fallback Code) Code {
	for _, e := range errorCodes {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return fallback
}
