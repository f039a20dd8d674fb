package trustlistsync

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenpass-dcc/greenpass/internal/fakegateway"
	"github.com/greenpass-dcc/greenpass/trustlist"
)

var now = time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC)

// fixture is a fake gateway with good DSCs for DE, AT and FR, and one bad
// entry of each kind the sync must drop.
type fixture struct {
	gw      *fakegateway.Gateway
	srv     *httptest.Server
	good    map[string]bool // thumbprints of the DSCs that must be accepted
	bad     map[Code]int    // drops expected, by code
	snaps   *trustlist.Snapshots
	bucket  trustlist.Bucket
	signer  *ecdsa.PrivateKey
	anchors []*x509.Certificate
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	gw, err := fakegateway.New(now, "DE", "AT", "FR")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{gw: gw, good: map[string]bool{}, bad: map[Code]int{}}
	for _, cc := range []string{"DE", "AT", "FR"} {
		for range 3 {
			e, err := gw.AddDSC(fakegateway.DSC{Country: cc})
			if err != nil {
				t.Fatal(err)
			}
			f.good[e.Thumbprint] = true
		}
	}
	add := func(code Code, d fakegateway.DSC) trustlist.Entry {
		t.Helper()
		e, err := gw.AddDSC(d)
		if err != nil {
			t.Fatal(err)
		}
		f.bad[code]++
		return e
	}
	// CMS signed by another country's upload certificate.
	add(CodeCMSSigner, fakegateway.DSC{Country: "AT", CMSCountry: "DE"})
	// Issued by a foreign country's CSCA (listed, and named, as AT).
	add(CodeNoCSCA, fakegateway.DSC{Country: "AT", IssuerCountry: "DE"})
	// Expired, and not yet valid.
	add(CodeExpired, fakegateway.DSC{Country: "FR", NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(0, 0, -1)})
	add(CodeNotYetValid, fakegateway.DSC{Country: "FR", NotBefore: now.AddDate(0, 0, 1), NotAfter: now.AddDate(1, 0, 0)})
	// Issued before its CSCA existed.
	add(CodeOutsideCSCA, fakegateway.DSC{Country: "FR", NotBefore: now.AddDate(-3, 0, 0), NotAfter: now.AddDate(1, 0, 0)})
	// Entries whose fields do not match their certificate.
	e := add(CodeThumbprint, fakegateway.DSC{Country: "DE"})
	gw.Remove(e.Thumbprint)
	e.Thumbprint = strings.Repeat("0", 64)
	gw.Put(e)
	e = add(CodeKID, fakegateway.DSC{Country: "DE"})
	gw.Remove(e.Thumbprint)
	e.KID = "AAAAAAAAAAA="
	gw.Put(e)
	e = add(CodeCMSMissing, fakegateway.DSC{Country: "DE"})
	gw.Remove(e.Thumbprint)
	e.Signature = ""
	gw.Put(e)
	e = add(CodeCMSInvalid, fakegateway.DSC{Country: "DE"})
	gw.Remove(e.Thumbprint)
	e.Signature = base64.StdEncoding.EncodeToString([]byte("not a CMS"))
	gw.Put(e)
	// A CMS by the right upload certificate over other bytes.
	e = add(CodeCMSInvalid, fakegateway.DSC{Country: "DE"})
	other, _ := gw.AddDSC(fakegateway.DSC{Country: "DE"})
	f.good[other.Thumbprint] = true
	gw.Remove(e.Thumbprint)
	e.Signature = other.Signature
	gw.Put(e)
	// A country whose CSCA the trust anchor did not sign: its CSCA and its
	// DSCs are dropped.
	rogueKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "Rogue CSCA", Country: []string{"XX"}},
		NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rogueKey.Public(), rogueKey)
	rogue, _ := x509.ParseCertificate(der)
	if _, err := gw.Add(trustlist.TypeCSCA, "XX", der, fakegateway.Party{Cert: rogue, Key: rogueKey}); err != nil {
		t.Fatal(err)
	}
	f.bad[CodeCMSSigner]++
	f.srv = httptest.NewServer(gw)
	t.Cleanup(f.srv.Close)
	mem := trustlist.NewMemBucket()
	f.bucket = mem
	f.snaps = trustlist.NewSnapshots(mem, 3)
	f.signer, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.anchors = []*x509.Certificate{gw.Anchor.Cert}
	return f
}

func (f *fixture) config() Config {
	return Config{Source: &Gateway{Base: f.srv.URL}, Anchors: f.anchors, Snapshots: f.snaps, Bucket: f.bucket,
		Signer: f.signer, MaxLoss: 0.1, Now: func() time.Time { return now }, Lock: &memLock{}}
}

func TestSyncAcceptsGoodDropsBad(t *testing.T) {
	f := newFixture(t)
	rep, err := Run(context.Background(), f.config())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Published || rep.Accepted != len(f.good) || rep.CSCAs != 3 || rep.Uploads != 3 {
		t.Fatalf("report %+v; want %d DSCs, 3 CSCAs, 3 uploads published", rep, len(f.good))
	}
	got := rep.DroppedBy()
	for code, n := range f.bad {
		if got[code] != n {
			t.Errorf("dropped %s: %d, want %d", code, got[code], n)
		}
	}
	if len(rep.Dropped) != sum(f.bad) {
		t.Errorf("dropped %v, want %d", rep.Dropped, sum(f.bad))
	}
	snap, hash, err := f.snaps.Current(context.Background())
	if err != nil || hash != rep.Snapshot {
		t.Fatalf("current %s, %v", hash, err)
	}
	dscs := snap.OfType(trustlist.TypeDSC)
	if len(dscs) != len(f.good) {
		t.Fatalf("snapshot has %d DSCs, want %d", len(dscs), len(f.good))
	}
	for _, e := range dscs {
		if !f.good[e.Thumbprint] {
			t.Errorf("snapshot holds a DSC that should have been dropped: %s %s", e.Country, e.KID)
		}
	}
	// The mirror holds every accepted DSC and the signed list.
	for _, e := range dscs {
		kid, _ := base64.StdEncoding.DecodeString(e.KID)
		if _, err := f.bucket.ReadAll(context.Background(), "dsc/"+hex.EncodeToString(kid)+".der"); err != nil {
			t.Errorf("mirror lacks %s: %v", e.KID, err)
		}
	}
	if rep.Mirror.Written != len(f.good) {
		t.Errorf("mirror wrote %d files, want %d", rep.Mirror.Written, len(f.good))
	}
}

func sum(m map[Code]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// Upstream down, truncated, or delivering nothing valid: the last good
// snapshot stays and the error says why.
func TestSyncKeepsLastGoodOnUpstreamFailure(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := Run(ctx, f.config())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func()
		cfg   func(c *Config)
	}{
		{"upstream 500", func() { f.gw.FailWith(500) }, nil},
		{"truncated list", func() { f.gw.Truncate(true) }, nil},
		{"unreachable", nil, func(c *Config) { c.Source = &Gateway{Base: "http://127.0.0.1:1"} }},
		{"missing file", nil, func(c *Config) { c.Source = &File{Path: filepath.Join(t.TempDir(), "none.json")} }},
		{"wrong trust anchor", nil, func(c *Config) { c.Anchors = []*x509.Certificate{f.gw.Countries["DE"].CSCA.Cert} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			defer f.gw.FailWith(0)
			defer f.gw.Truncate(false)
			cfg := f.config()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			rep, err := Run(ctx, cfg)
			if !errors.Is(err, ErrUpstream) || rep.Published {
				t.Fatalf("err = %v, published = %v; want ErrUpstream, nothing published", err, rep.Published)
			}
			if _, h, _ := f.snaps.Current(ctx); h != first.Snapshot {
				t.Fatalf("current snapshot changed to %s", h)
			}
		})
	}
}

func TestSyncLossGuard(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, err := Run(ctx, f.config())
	if err != nil {
		t.Fatal(err)
	}
	// Half of the DE DSCs vanish upstream: 2 of 10 is more than 10 %.
	var de []string
	for _, e := range f.gw.Entries(trustlist.TypeDSC, "DE") {
		if f.good[e.Thumbprint] {
			de = append(de, e.Thumbprint)
		}
	}
	f.gw.Remove(de[0])
	f.gw.Remove(de[1])
	rep, err := Run(ctx, f.config())
	if !errors.Is(err, ErrTooMuchLoss) || rep.Lost != 2 || rep.Previous != len(f.good) {
		t.Fatalf("err = %v, report %+v; want ErrTooMuchLoss with 2 lost", err, rep)
	}
	if _, h, _ := f.snaps.Current(ctx); h != first.Snapshot {
		t.Fatal("a refused list was published")
	}
	cfg := f.config()
	cfg.MaxLoss = 0.25
	if rep, err := Run(ctx, cfg); err != nil || !rep.Published {
		t.Fatalf("within a larger allowance: %v", err)
	}
	// Losing everything else needs --force.
	for _, e := range f.gw.Entries(trustlist.TypeDSC, "FR") {
		f.gw.Remove(e.Thumbprint)
	}
	if _, err := Run(ctx, f.config()); !errors.Is(err, ErrTooMuchLoss) {
		t.Fatalf("err = %v, want ErrTooMuchLoss", err)
	}
	cfg = f.config()
	cfg.Force = true
	if rep, err := Run(ctx, cfg); err != nil || !rep.Published {
		t.Fatalf("--force: %v", err)
	}
}

// Entries keep their resume tokens across syncs; new ones come after.
func TestSyncKeepsIDs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := Run(ctx, f.config()); err != nil {
		t.Fatal(err)
	}
	before, _, _ := f.snaps.Current(ctx)
	ids := map[string]int64{}
	var maxID int64
	for _, e := range before.Entries {
		ids[e.Thumbprint] = e.ID
		maxID = max(maxID, e.ID)
	}
	added, err := f.gw.AddDSC(fakegateway.DSC{Country: "AT"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, f.config()); err != nil {
		t.Fatal(err)
	}
	after, _, _ := f.snaps.Current(ctx)
	for _, e := range after.Entries {
		if id, ok := ids[e.Thumbprint]; ok && id != e.ID {
			t.Errorf("%s changed id %d → %d", e.KID, id, e.ID)
		}
		if e.Thumbprint == added.Thumbprint && e.ID <= maxID {
			t.Errorf("new DSC got id %d, not after %d", e.ID, maxID)
		}
	}
}

func TestSyncDryRunAndLocalDSCs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cfg := f.config()
	cfg.DryRun = true
	rep, err := Run(ctx, cfg)
	if err != nil || rep.Published || rep.Accepted != len(f.good) {
		t.Fatalf("dry run: %+v, %v", rep, err)
	}
	if _, _, err := f.snaps.Current(ctx); !errors.Is(err, trustlist.ErrNoSnapshot) {
		t.Fatalf("dry run published: %v", err)
	}
	// Our own DSC is published beside the upstream ones, marked local.
	own := fakegateway.EntryFor(trustlist.TypeDSC, "DE", f.gw.Countries["DE"].Upload.Cert.Raw)
	cfg = f.config()
	cfg.Local = []trustlist.Entry{own}
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	snap, _, _ := f.snaps.Current(ctx)
	found := false
	for _, e := range snap.OfType(trustlist.TypeDSC) {
		if e.Thumbprint == own.Thumbprint {
			found = e.Local
		}
	}
	if !found {
		t.Fatal("local DSC missing or not marked local")
	}
}

func TestSyncFromFileAndBusyLease(t *testing.T) {
	f := newFixture(t)
	path := filepath.Join(t.TempDir(), "trustlist.json")
	if err := os.WriteFile(path, f.gw.JSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config()
	cfg.Source = &File{Path: path}
	rep, err := Run(context.Background(), cfg)
	if err != nil || rep.Accepted != len(f.good) {
		t.Fatalf("file source: %+v, %v", rep, err)
	}
	lock := &memLock{}
	_, unlock, _ := lock.Lock(context.Background())
	defer unlock()
	cfg.Lock = lock
	if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrBusy) {
		t.Fatalf("with the lease held: %v, want ErrBusy", err)
	}
}

// The progress reporter sees each DSC counted once, ending at the total.
func TestSyncProgress(t *testing.T) {
	f := newFixture(t)
	p := &recorder{}
	cfg := f.config()
	cfg.Progress = p
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	total := len(f.gw.Entries(trustlist.TypeDSC, ""))
	if last := p.verify[len(p.verify)-1]; last != int64(total) {
		t.Fatalf("verify progress ended at %d, want %d", last, total)
	}
	if !sort.SliceIsSorted(p.steps, func(i, j int) bool { return false }) || p.steps[0] != "fetch" || p.steps[len(p.steps)-1] != "mirror" {
		t.Fatalf("steps %v", p.steps)
	}
}

type recorder struct {
	mu     sync.Mutex
	steps  []string
	verify []int64
}

func (r *recorder) Step(name string, done, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.steps) == 0 || r.steps[len(r.steps)-1] != name {
		r.steps = append(r.steps, name)
	}
	if name == "verify" {
		r.verify = append(r.verify, done)
	}
}

// memLock is an in-process Lock.
type memLock struct {
	mu   sync.Mutex
	held bool
}

func (l *memLock) Lock(context.Context) (func(context.Context) error, func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held {
		return nil, nil, ErrBusy
	}
	l.held = true
	return func(context.Context) error { return nil }, func() { l.mu.Lock(); l.held = false; l.mu.Unlock() }, nil
}
