// Package hcert encodes and decodes the EU Digital COVID Certificate wire
// format: the DCC payload (schema 1.3.x, older 1.0–1.2 shapes decoded too)
// inside a CWT inside a COSE_Sign1 message, zlib-compressed, Base45-encoded
// and prefixed with "HC1:".
//
// Decoding is bounded everywhere: the HC1 text length, the inflated size, CBOR
// nesting depth and collection lengths are capped, and duplicate CBOR map keys
// are refused, so hostile input costs at most a few kilobytes and microseconds.
// The package does no I/O and keeps no state; trust decisions (which key,
// which clock) belong to the caller.
//
// Each stage has its own function (TrimPrefix, DecodeBase45, Decompress,
// ParseSign1, ParseClaims, DecodePayload) so that a verifier can report the
// stage that failed; errors wrap the sentinels in errors.go.
package hcert
