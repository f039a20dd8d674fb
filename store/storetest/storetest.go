// Package storetest is the conformance suite every store engine passes:
// the behaviour of store.Engine that the domain packages rely on, run
// against a fresh engine by each engine's own tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/store"
)

// Collections the suite writes; an engine knows none of them before its
// first write.
const (
	collCertificates = "certificates"
	collIdempotency  = "idempotency"
	collTransfers    = "transfers"
	collIssuers      = "issuers"
	collRevocations  = "revocations"
)

// fakeClock is a settable clock shared by a test and its engine.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Opener opens a fresh, empty engine on the given clock.
type Opener func(t *testing.T, now func() time.Time) store.Engine

// Run is the behaviour both engines must share. concurrency
// cases need an engine whose single-document operations are atomic under
// concurrent writers (the embedded engine, real MongoDB; not FerretDB v1).
func Run(t *testing.T, open Opener, concurrency bool) {
	ctx := context.Background()
	cases := []struct {
		name string
		run  func(t *testing.T, e store.Engine, clock *fakeClock)
	}{
		{"a collection never written is empty", func(t *testing.T, e store.Engine, clock *fakeClock) {
			if _, err := e.Get(ctx, "never_written", "a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get: %v, want ErrNotFound", err)
			}
			if recs, err := e.ListAfter(ctx, "never_written", "", "", 10); err != nil || len(recs) != 0 {
				t.Fatalf("List = %v, %v", recs, err)
			}
			if n, err := e.Sweep(ctx, "never_written"); err != nil || n != 0 {
				t.Fatalf("Sweep = %d, %v", n, err)
			}
			if err := e.Delete(ctx, "never_written", "a"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Delete: %v, want ErrNotFound", err)
			}
			if _, err := e.Update(ctx, "never_written", "a", 1, time.Time{}, []byte(`1`)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Update: %v, want ErrNotFound", err)
			}
			// Its first write makes it.
			if _, err := e.Insert(ctx, "never_written", "a", time.Time{}, []byte(`1`)); err != nil {
				t.Fatal(err)
			}
			if r, err := e.Get(ctx, "never_written", "a"); err != nil || string(r.Data) != "1" {
				t.Fatalf("Get after the first write = %+v, %v", r, err)
			}
		}},
		{"insert then get", func(t *testing.T, e store.Engine, clock *fakeClock) {
			exp := clock.Now().Add(time.Hour)
			r, err := e.Insert(ctx, collTransfers, "a", exp, []byte(`{"x":1}`))
			if err != nil || r.Version != 1 {
				t.Fatalf("Insert = %+v, %v", r, err)
			}
			got, err := e.Get(ctx, collTransfers, "a")
			if err != nil || got.Version != 1 || !bytes.Equal(got.Data, []byte(`{"x":1}`)) || !got.ExpiresAt.Equal(exp) || got.ID != "a" {
				t.Fatalf("Get = %+v, %v", got, err)
			}
		}},
		{"insert all", func(t *testing.T, e store.Engine, clock *fakeClock) {
			exp := clock.Now().Add(time.Hour)
			if err := store.InsertAll(ctx, e, store.Insertion{Coll: collIdempotency, ID: "k", ExpiresAt: exp, Data: []byte(`1`)},
				store.Insertion{Coll: collCertificates, ID: "u", Data: []byte(`2`)}); err != nil {
				t.Fatal(err)
			}
			if r, err := e.Get(ctx, collIdempotency, "k"); err != nil || r.Version != 1 || string(r.Data) != "1" || !r.ExpiresAt.Equal(exp) {
				t.Fatalf("first record: %+v, %v", r, err)
			}
			if r, err := e.Get(ctx, collCertificates, "u"); err != nil || r.Version != 1 || string(r.Data) != "2" || !r.ExpiresAt.IsZero() {
				t.Fatalf("second record: %+v, %v", r, err)
			}
			// A taken ID is named; nothing after it is written anywhere,
			// and nothing before it where the engine writes all at once.
			for _, tc := range []struct {
				records []store.Insertion
				index   int
				absent  string // collection/ID written by no engine
				atomic  string // written only by one-at-a-time engines
			}{
				{[]store.Insertion{{Coll: collIdempotency, ID: "k", Data: []byte(`3`)}, {Coll: collCertificates, ID: "v", Data: []byte(`4`)}}, 0, "v", ""},
				{[]store.Insertion{{Coll: collIdempotency, ID: "k2", Data: []byte(`5`)}, {Coll: collCertificates, ID: "u", Data: []byte(`6`)}}, 1, "", "k2"},
			} {
				err := store.InsertAll(ctx, e, tc.records...)
				var ie *store.InsertError
				if !errors.As(err, &ie) || ie.Index != tc.index || !errors.Is(err, store.ErrExists) {
					t.Fatalf("store.InsertAll over a taken ID: %v, want store.ErrExists at record %d", err, tc.index)
				}
				if tc.absent != "" {
					if _, err := e.Get(ctx, collCertificates, tc.absent); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("record after the taken one written: %v", err)
					}
				}
				if _, atomic := e.(store.AtomicInserter); atomic && tc.atomic != "" {
					if _, err := e.Get(ctx, collIdempotency, tc.atomic); !errors.Is(err, store.ErrNotFound) {
						t.Errorf("atomic store.InsertAll wrote the record before the taken one: %v", err)
					}
				}
			}
			if r, _ := e.Get(ctx, collCertificates, "u"); string(r.Data) != "2" {
				t.Errorf("taken record overwritten: %s", r.Data)
			}
			// An expired record's ID is free again, with the next version.
			clock.Advance(2 * time.Hour)
			if err := store.InsertAll(ctx, e, store.Insertion{Coll: collIdempotency, ID: "k", Data: []byte(`7`)}); err != nil {
				t.Fatal(err)
			}
			if r, err := e.Get(ctx, collIdempotency, "k"); err != nil || r.Version != 2 || string(r.Data) != "7" {
				t.Fatalf("over an expired record: %+v, %v", r, err)
			}
		}},
		{"expiry has millisecond precision", func(t *testing.T, e store.Engine, clock *fakeClock) {
			exp := clock.Now().Add(time.Hour + 1234567*time.Nanosecond)
			e.Insert(ctx, collTransfers, "ms", exp, []byte(`{}`))
			got, _ := e.Get(ctx, collTransfers, "ms")
			if want := exp.Truncate(time.Millisecond); !got.ExpiresAt.Equal(want) {
				t.Fatalf("ExpiresAt = %v, want %v", got.ExpiresAt, want)
			}
		}},
		{"insert existing", func(t *testing.T, e store.Engine, clock *fakeClock) {
			e.Insert(ctx, collIssuers, "a", time.Time{}, []byte(`1`))
			if _, err := e.Insert(ctx, collIssuers, "a", time.Time{}, []byte(`2`)); !errors.Is(err, store.ErrExists) {
				t.Fatalf("second Insert: %v, want store.ErrExists", err)
			}
			if got, _ := e.Get(ctx, collIssuers, "a"); string(got.Data) != `1` {
				t.Fatalf("data = %s, the first insert must stay", got.Data)
			}
		}},
		{"get missing", func(t *testing.T, e store.Engine, clock *fakeClock) {
			if _, err := e.Get(ctx, collIssuers, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get: %v, want store.ErrNotFound", err)
			}
		}},
		{"update", func(t *testing.T, e store.Engine, clock *fakeClock) {
			e.Insert(ctx, collIdempotency, "k", time.Time{}, []byte(`1`))
			r, err := e.Update(ctx, collIdempotency, "k", 1, time.Time{}, []byte(`2`))
			if err != nil || r.Version != 2 || string(r.Data) != `2` {
				t.Fatalf("Update = %+v, %v", r, err)
			}
			if _, err := e.Update(ctx, collIdempotency, "k", 1, time.Time{}, []byte(`3`)); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("stale Update: %v, want store.ErrConflict", err)
			}
			if _, err := e.Update(ctx, collIdempotency, "nope", 1, time.Time{}, []byte(`3`)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Update of a missing record: %v, want store.ErrNotFound", err)
			}
			if got, _ := e.Get(ctx, collIdempotency, "k"); got.Version != 2 || string(got.Data) != `2` {
				t.Fatalf("after updates: %+v", got)
			}
		}},
		{"update sets and clears expiry", func(t *testing.T, e store.Engine, clock *fakeClock) {
			e.Insert(ctx, collTransfers, "e", time.Time{}, []byte(`1`))
			exp := clock.Now().Add(time.Minute)
			if r, err := e.Update(ctx, collTransfers, "e", 1, exp, []byte(`2`)); err != nil || !r.ExpiresAt.Equal(exp) {
				t.Fatalf("Update with expiry = %+v, %v", r, err)
			}
			if r, err := e.Update(ctx, collTransfers, "e", 2, time.Time{}, []byte(`3`)); err != nil || !r.ExpiresAt.IsZero() {
				t.Fatalf("Update without expiry = %+v, %v", r, err)
			}
			clock.Advance(time.Hour)
			if _, err := e.Get(ctx, collTransfers, "e"); err != nil {
				t.Fatalf("record without expiry vanished: %v", err)
			}
		}},
		{"delete", func(t *testing.T, e store.Engine, clock *fakeClock) {
			e.Insert(ctx, collRevocations, "r", time.Time{}, []byte(`1`))
			if err := e.Delete(ctx, collRevocations, "r"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Get(ctx, collRevocations, "r"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get after Delete: %v", err)
			}
			if err := e.Delete(ctx, collRevocations, "r"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("second Delete: %v, want store.ErrNotFound", err)
			}
		}},
		{"expired records are gone at once", func(t *testing.T, e store.Engine, clock *fakeClock) {
			e.Insert(ctx, collTransfers, "t", clock.Now().Add(time.Minute), []byte(`1`))
			clock.Advance(time.Minute)
			if _, err := e.Get(ctx, collTransfers, "t"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Get of an expired record: %v", err)
			}
			if _, err := e.Update(ctx, collTransfers, "t", 1, time.Time{}, []byte(`2`)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Update of an expired record: %v", err)
			}
			r, err := e.Insert(ctx, collTransfers, "t", time.Time{}, []byte(`new`))
			if err != nil || r.Version != 2 {
				t.Fatalf("Insert over an expired record = %+v, %v; want version 2", r, err)
			}
			if got, _ := e.Get(ctx, collTransfers, "t"); string(got.Data) != `new` {
				t.Fatalf("data = %s", got.Data)
			}
			// A writer that read the expired record (version 1) cannot
			// overwrite its successor.
			if _, err := e.Update(ctx, collTransfers, "t", 1, time.Time{}, []byte(`stale`)); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("Update with the expired record's version: %v, want store.ErrConflict", err)
			}
		}},
		{"list by prefix in ID order without expired records", func(t *testing.T, e store.Engine, clock *fakeClock) {
			for _, id := range []string{"lab/b/2", "lab/a/3", "lab/a/1", "lab/ab", "lab/a/2", "other"} {
				exp := time.Time{}
				if id == "lab/a/2" {
					exp = clock.Now().Add(time.Minute)
				}
				if _, err := e.Insert(ctx, collTransfers, id, exp, []byte(`"`+id+`"`)); err != nil {
					t.Fatal(err)
				}
			}
			ids := func(prefix string, limit int) string {
				t.Helper()
				recs, err := e.ListAfter(ctx, collTransfers, prefix, "", limit)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, r := range recs {
					if string(r.Data) != `"`+r.ID+`"` || r.Version != 1 {
						t.Fatalf("record %s: data %s version %d", r.ID, r.Data, r.Version)
					}
					out = append(out, r.ID)
				}
				return fmt.Sprint(out)
			}
			if got := ids("lab/a/", 10); got != "[lab/a/1 lab/a/2 lab/a/3]" {
				t.Fatalf("List(lab/a/) = %s", got)
			}
			if got := ids("lab/a/", 2); got != "[lab/a/1 lab/a/2]" {
				t.Fatalf("List(lab/a/, 2) = %s", got)
			}
			count := func() int {
				t.Helper()
				n, err := e.Count(ctx, collTransfers)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count(); n != 6 {
				t.Fatalf("Count = %d, want 6", n)
			}
			if n, err := e.Count(ctx, "never_counted"); err != nil || n != 0 {
				t.Fatalf("Count of a collection never written = %d, %v", n, err)
			}
			clock.Advance(time.Minute)
			if n := count(); n != 5 {
				t.Fatalf("Count after an expiry = %d, want 5", n)
			}
			if got := ids("lab/a/", 10); got != "[lab/a/1 lab/a/3]" {
				t.Fatalf("after expiry List(lab/a/) = %s", got)
			}
			if got := ids("lab/", 10); got != "[lab/a/1 lab/a/3 lab/ab lab/b/2]" {
				t.Fatalf("List(lab/) = %s", got)
			}
			if got := ids("", 10); got != "[lab/a/1 lab/a/3 lab/ab lab/b/2 other]" {
				t.Fatalf("List() = %s", got)
			}
			if got := ids("none/", 10); got != "[]" {
				t.Fatalf("List(none/) = %s", got)
			}
			if _, err := e.ListAfter(ctx, collTransfers, "bad\x00", "", 10); err == nil {
				t.Fatal("a prefix with a control character was accepted")
			}
			// Pages: after a page's last ID, and from a key within the prefix.
			after := func(prefix, after string, limit int) string {
				t.Helper()
				recs, err := e.ListAfter(ctx, collTransfers, prefix, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, r := range recs {
					out = append(out, r.ID)
				}
				return fmt.Sprint(out)
			}
			for _, tc := range []struct{ prefix, after, want string }{
				{"lab/", "lab/a/1", "[lab/a/3 lab/ab lab/b/2]"},
				{"lab/", "lab/a/2", "[lab/a/3 lab/ab lab/b/2]"}, // after an expired ID
				{"lab/", "lab/ab", "[lab/b/2]"},
				{"lab/", "lab/b/2", "[]"},
				{"lab/", "lab/b", "[lab/b/2]"}, // a key within the prefix, not an ID
				{"lab/", "", "[lab/a/1 lab/a/3 lab/ab lab/b/2]"},
				{"lab/", "a", "[lab/a/1 lab/a/3 lab/ab lab/b/2]"}, // before the prefix: from its start
				{"lab/", "z", "[]"},                               // beyond it
				{"", "lab/b/2", "[other]"},
			} {
				if got := after(tc.prefix, tc.after, 10); got != tc.want {
					t.Fatalf("ListAfter(%q, %q) = %s, want %s", tc.prefix, tc.after, got, tc.want)
				}
			}
			if got := after("lab/", "lab/a/1", 2); got != "[lab/a/3 lab/ab]" {
				t.Fatalf("ListAfter(lab/, lab/a/1, 2) = %s", got)
			}
			if _, err := e.ListAfter(ctx, collTransfers, "lab/", "bad\x00", 10); err == nil {
				t.Fatal("an after key with a control character was accepted")
			}
		}},
		{"a lease has one holder until released or expired", func(t *testing.T, e store.Engine, clock *fakeClock) {
			a, err := store.AcquireLease(ctx, e, "sync", "host-a", time.Minute, clock.Now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.AcquireLease(ctx, e, "sync", "host-b", time.Minute, clock.Now); !errors.Is(err, store.ErrLeaseHeld) {
				t.Fatalf("second holder: %v, want store.ErrLeaseHeld", err)
			}
			if _, err := store.AcquireLease(ctx, e, "other-job", "host-b", time.Minute, clock.Now); err != nil {
				t.Fatalf("another lease name: %v", err)
			}
			clock.Advance(50 * time.Second)
			if err := a.Renew(ctx); err != nil {
				t.Fatalf("Renew: %v", err)
			}
			clock.Advance(50 * time.Second) // past the first TTL, within the renewed one
			if _, err := store.AcquireLease(ctx, e, "sync", "host-b", time.Minute, clock.Now); !errors.Is(err, store.ErrLeaseHeld) {
				t.Fatalf("after renewal: %v, want store.ErrLeaseHeld", err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatalf("Release: %v", err)
			}
			b, err := store.AcquireLease(ctx, e, "sync", "host-b", time.Minute, clock.Now)
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			// b's lease expires; c takes it; b has lost it and cannot
			// renew or release c's.
			clock.Advance(time.Minute)
			c, err := store.AcquireLease(ctx, e, "sync", "host-c", time.Minute, clock.Now)
			if err != nil {
				t.Fatalf("after expiry: %v", err)
			}
			if err := b.Renew(ctx); !errors.Is(err, store.ErrLeaseLost) {
				t.Fatalf("Renew of an expired lease: %v, want store.ErrLeaseLost", err)
			}
			if err := b.Release(ctx); err != nil {
				t.Fatalf("Release of a lost lease: %v", err)
			}
			if _, err := store.AcquireLease(ctx, e, "sync", "host-d", time.Minute, clock.Now); !errors.Is(err, store.ErrLeaseHeld) {
				t.Fatalf("the lost holder's release freed the successor's lease: %v", err)
			}
			if err := c.Renew(ctx); err != nil {
				t.Fatalf("successor's Renew: %v", err)
			}
		}},
		{"sweep deletes only expired records", func(t *testing.T, e store.Engine, clock *fakeClock) {
			for i := range 5 {
				e.Insert(ctx, collTransfers, fmt.Sprint("old", i), clock.Now().Add(time.Minute), []byte(`1`))
			}
			e.Insert(ctx, collTransfers, "later", clock.Now().Add(time.Hour), []byte(`1`))
			e.Insert(ctx, collTransfers, "never", time.Time{}, []byte(`1`))
			e.Insert(ctx, collIdempotency, "other", clock.Now().Add(time.Minute), []byte(`1`))
			clock.Advance(2 * time.Minute)
			n, err := e.Sweep(ctx, collTransfers)
			if err != nil || n != 5 {
				t.Fatalf("Sweep = %d, %v; want 5", n, err)
			}
			for _, id := range []string{"later", "never"} {
				if _, err := e.Get(ctx, collTransfers, id); err != nil {
					t.Fatalf("%s swept: %v", id, err)
				}
			}
			if n, _ := e.Sweep(ctx, collTransfers); n != 0 {
				t.Fatalf("second Sweep = %d", n)
			}
			if n, _ := e.Sweep(ctx, collIdempotency); n != 1 {
				t.Fatalf("Sweep of the other collection = %d, want 1", n)
			}
		}},
		{"collections are separate", func(t *testing.T, e store.Engine, clock *fakeClock) {
			e.Insert(ctx, collCertificates, "same", time.Time{}, []byte(`"c"`))
			e.Insert(ctx, collIssuers, "same", time.Time{}, []byte(`"i"`))
			c, _ := e.Get(ctx, collCertificates, "same")
			i, _ := e.Get(ctx, collIssuers, "same")
			if string(c.Data) != `"c"` || string(i.Data) != `"i"` {
				t.Fatalf("got %s and %s", c.Data, i.Data)
			}
		}},
		{"typed collection", func(t *testing.T, e store.Engine, clock *fakeClock) {
			type issuer struct {
				Country string   `json:"country"`
				Roles   []string `json:"roles"`
			}
			c := store.NewCollection[issuer](e, collIssuers)
			if _, err := c.Insert(ctx, "pharmacy-1", time.Time{}, issuer{"DE", []string{"issue:v"}}); err != nil {
				t.Fatal(err)
			}
			v, ver, err := c.Get(ctx, "pharmacy-1")
			if err != nil || ver != 1 || v.Country != "DE" || len(v.Roles) != 1 {
				t.Fatalf("Get = %+v, %d, %v", v, ver, err)
			}
			v.Roles = append(v.Roles, "issue:t")
			if ver, err = c.Update(ctx, "pharmacy-1", ver, time.Time{}, v); err != nil || ver != 2 {
				t.Fatalf("Update = %d, %v", ver, err)
			}
		}},
		{"cancelled context", func(t *testing.T, e store.Engine, clock *fakeClock) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := e.Insert(cctx, collIssuers, "x", time.Time{}, []byte(`1`)); !errors.Is(err, context.Canceled) {
				t.Fatalf("Insert: %v, want context.Canceled", err)
			}
			if _, err := e.Get(cctx, collIssuers, "x"); !errors.Is(err, context.Canceled) {
				t.Fatalf("Get: %v, want context.Canceled", err)
			}
		}},
	}
	if concurrency {
		cases = append(cases,
			struct {
				name string
				run  func(t *testing.T, e store.Engine, clock *fakeClock)
			}{"one winner of concurrent inserts", func(t *testing.T, e store.Engine, clock *fakeClock) {
				var wins, exists atomic.Int32
				var wg sync.WaitGroup
				for i := range 32 {
					wg.Go(func() {
						_, err := e.Insert(ctx, collIdempotency, "race", time.Time{}, []byte(fmt.Sprint(i)))
						switch {
						case err == nil:
							wins.Add(1)
						case errors.Is(err, store.ErrExists):
							exists.Add(1)
						default:
							t.Error(err)
						}
					})
				}
				wg.Wait()
				if wins.Load() != 1 || exists.Load() != 31 {
					t.Fatalf("%d winners, %d store.ErrExists; want 1 and 31", wins.Load(), exists.Load())
				}
			}},
			struct {
				name string
				run  func(t *testing.T, e store.Engine, clock *fakeClock)
			}{"no lost updates", func(t *testing.T, e store.Engine, clock *fakeClock) {
				c := store.NewCollection[int](e, collCertificates)
				c.Insert(ctx, "counter", time.Time{}, 0)
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						for range 10 {
							for {
								n, ver, err := c.Get(ctx, "counter")
								if err != nil {
									t.Error(err)
									return
								}
								if _, err = c.Update(ctx, "counter", ver, time.Time{}, n+1); err == nil {
									break
								} else if !errors.Is(err, store.ErrConflict) {
									t.Error(err)
									return
								}
							}
						}
					})
				}
				wg.Wait()
				if n, ver, _ := c.Get(ctx, "counter"); n != 160 || ver != 161 {
					t.Fatalf("counter = %d (version %d), want 160 (161)", n, ver)
				}
			}},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			e := open(t, clock.Now)
			tc.run(t, e, clock)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Get(ctx, collIssuers, "x"); !errors.Is(err, store.ErrClosed) {
				t.Fatalf("Get after Close: %v, want store.ErrClosed", err)
			}
		})
	}
}
