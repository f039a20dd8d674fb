package issuer

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkIssue is one issuance end to end without HTTP: validation,
// UVCI, CBOR, ECDSA signature, zlib, Base45 and the durable audit record
// (embedded store, fsync'd group commit; 64 requests in flight on two
// cores), with and without an
// idempotency key (a second durable record).
func BenchmarkIssue(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		b.Run(fmt.Sprintf("idempotency=%v", keyed), func(b *testing.B) {
			f := newFixture(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(32) // many requests in flight share each fsync
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					key := ""
					if keyed {
						key = fmt.Sprintf("k-%p-%d", &i, i)
					}
					if _, err := f.svc.Issue(ctx, pharmacy, vaccinationRequest(), key); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
