// Package trustlist models the trust data verifiers and apps rely on — the
// document signer certificates (DSCs), the CSCAs and upload certificates
// they chain to — and carries it in the formats the ecosystem already uses:
// single certificates (PEM, Base64 DER, DER), the CovPass-style signed DSC
// list, the DGCA verifier-service API and the gateway's TrustListDto lists.
//
// A List is an immutable index of DSCs by key identifier (kid). A Snapshot
// is one published state of the trust data; Snapshots keeps them in a blob
// bucket, content-addressed, behind a small pointer that is swapped only
// after the snapshot is whole. A View renders a snapshot in the app-facing
// formats, signed with the trust-list key, and a Watcher keeps the current
// View of a bucket in memory.
package trustlist
