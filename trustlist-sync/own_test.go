package trustlistsync

import (
	"context"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

// PublishOwn puts this instance's DSCs into the published list exactly when
// they are missing, keeps what came from upstream, and stamps the snapshot
// with the injected clock.
func TestPublishOwn(t *testing.T) {
	gw, err := fakegateway.New(now, "DE", "AT")
	if err != nil {
		t.Fatal(err)
	}
	entry := func(cc string) trustlist.Entry {
		e, err := gw.AddDSC(fakegateway.DSC{Country: cc})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ours1, ours2, upstream := entry("DE"), entry("DE"), entry("AT")
	valueSets := []trustlist.ValueSetEntry{{ID: "vaccines-covid-19-names", Hash: "h", Body: `{}`}}
	type step struct {
		name      string
		local     []trustlist.Entry
		upstream  bool // an upstream sync published the AT entry before this step
		held      bool // another publisher holds the lease
		published bool
		want      []string // thumbprints in the current snapshot afterwards
	}
	steps := []step{
		{name: "first start", local: []trustlist.Entry{ours1}, published: true, want: []string{ours1.Thumbprint}},
		{name: "nothing new", local: []trustlist.Entry{ours1}, want: []string{ours1.Thumbprint}},
		{name: "an upstream entry arrived", local: []trustlist.Entry{ours1}, upstream: true, want: []string{ours1.Thumbprint, upstream.Thumbprint}},
		{name: "new keys", local: []trustlist.Entry{ours2}, published: true, want: []string{ours2.Thumbprint, upstream.Thumbprint}},
		{name: "the lease is held elsewhere", local: []trustlist.Entry{ours1}, held: true, want: []string{ours2.Thumbprint, upstream.Thumbprint}},
	}
	ctx := context.Background()
	mem := trustlist.NewMemBucket()
	snaps := trustlist.NewSnapshots(mem, 3)
	clock := now
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clock = clock.Add(time.Hour)
			if st.upstream {
				prev, _, err := snaps.Current(ctx)
				if err != nil {
					t.Fatal(err)
				}
				next := trustlist.NewSnapshot(prev, clock, "gateway", append(prev.Entries, trustlist.SnapshotEntry{Entry: upstream}))
				next.ValueSets = prev.ValueSets
				if _, err := snaps.Publish(ctx, next); err != nil {
					t.Fatal(err)
				}
			}
			lock := &memLock{held: st.held}
			published, err := PublishOwn(ctx, Own{Snapshots: snaps, Lock: lock, Local: st.local, DefaultValueSets: valueSets,
				Now: func() time.Time { return clock }})
			if err != nil || published != st.published {
				t.Fatalf("PublishOwn = %v, %v; want %v", published, err, st.published)
			}
			if lock.held != st.held {
				t.Fatal("the lease was not given back")
			}
			cur, _, err := snaps.Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, e := range cur.Entries {
				got[e.Thumbprint] = true
				if e.Local != (e.Thumbprint != upstream.Thumbprint) {
					t.Errorf("entry %s: Local = %v", e.Thumbprint[:8], e.Local)
				}
			}
			if len(got) != len(st.want) {
				t.Fatalf("snapshot holds %d entries, want %d", len(got), len(st.want))
			}
			for _, tp := range st.want {
				if !got[tp] {
					t.Fatalf("snapshot lacks %s", tp[:8])
				}
			}
			if st.published && (!cur.IssuedAt.Equal(clock) || len(cur.ValueSets) == 0) {
				t.Fatalf("published snapshot: issued %v (want %v), %d value sets", cur.IssuedAt, clock, len(cur.ValueSets))
			}
		})
	}
}
