package verifier

import (
	"encoding/asn1"

	"github.com/greenpass-dcc/greenpass/hcert"
)

// The extended key usage OIDs that restrict a DSC to certificate types. Both
// spellings are in production (HCERT App. A.4 and the governance document
// with an extra ".0"), so both are honoured.
var typeOIDs = map[hcert.Type][2]asn1.ObjectIdentifier{
	hcert.TypeTest:        {{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 1}, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 1}},
	hcert.TypeVaccination: {{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 2}, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 2}},
	hcert.TypeRecovery:    {{1, 3, 6, 1, 4, 1, 1847, 2021, 1, 3}, {1, 3, 6, 1, 4, 1, 0, 1847, 2021, 1, 3}},
}

// allows reports whether a DSC may sign certificates of type t, given its
// unknown extended key usages (DCC OIDs are not standard EKUs, so
// crypto/x509 puts them there). Only DCC OIDs count: a DSC with no EKU
// extension, an empty one, or only unrelated EKUs (TLS client, ICAO) may
// sign every type, as CovPass and the CWA read HCERT App. A.4.
func allows(ekus []asn1.ObjectIdentifier, t hcert.Type) bool {
	restricted := false
	for typ, oids := range typeOIDs {
		for _, eku := range ekus {
			if eku.Equal(oids[0]) || eku.Equal(oids[1]) {
				if typ == t {
					return true
				}
				restricted = true
			}
		}
	}
	return !restricted
}
