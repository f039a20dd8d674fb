// Package verifier decides whether a DCC is valid and says why not. It takes a
// QR image or the HC1 text, runs every stage of the chain (picture, prefix,
// base45, zlib, cose, signature, cbor, schema, keyUsage, expiry) and reports
// an outcome per stage with coded reasons, so a checkpoint can show the first
// problem and an operator can see all of them.
//
// Trust comes from a TrustStore the caller provides; time from an injected
// clock, so every decision is reproducible at a given instant.
package verifier
