// Package trustlist models the lists of document signer certificates (DSCs)
// that verifiers trust, and reads them in the formats the ecosystem already
// uses: single certificates (PEM, Base64 DER, DER) and the CovPass-style DSC
// list (a signature line followed by the gateway's TrustListDto JSON).
//
// A List is an immutable index by key identifier (kid). Checking the list's
// own signature, CSCA chains and snapshots in blob storage build on this.
package trustlist
