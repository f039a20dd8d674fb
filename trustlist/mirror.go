package trustlist

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Mirror keys: plain files a CDN can serve from the bucket.
const (
	mirrorDSCPrefix = "dsc/"
	mirrorList      = "trustlist.json"
	mirrorListSig   = "trustlist.json.sig"
)

// MirrorStats says what Mirror changed.
type MirrorStats struct {
	Written int `json:"written"`
	Kept    int `json:"kept"`
	Deleted int `json:"deleted"`
}

// Mirror publishes snap's DSCs as plain files: dsc/<kid as lower-case
// hex>.der (the DER certificate), trustlist.json (the JSON of the CovPass
// list, signed with signer) and trustlist.json.sig (its Base64 r‖s
// signature). Files already holding the right bytes are left alone, files
// of DSCs no longer listed are deleted. When two DSCs share a kid, the
// older entry keeps the file name; both are in trustlist.json.
func Mirror(ctx context.Context, b Bucket, snap *Snapshot, signer crypto.Signer) (MirrorStats, error) {
	var st MirrorStats
	existing := map[string]int64{}
	all, err := b.Sizes(ctx, mirrorDSCPrefix)
	if err != nil {
		return st, fmt.Errorf("list mirror: %w", err)
	}
	for key, size := range all {
		if strings.HasSuffix(key, ".der") {
			existing[key] = size
		}
	}
	want := map[string][]byte{}
	for _, u := range snap.OfType(TypeDSC) {
		kid, err := base64.StdEncoding.DecodeString(u.KID)
		if err != nil {
			continue
		}
		key := mirrorDSCPrefix + hex.EncodeToString(kid) + ".der"
		if _, taken := want[key]; taken {
			continue
		}
		der, err := base64.StdEncoding.DecodeString(u.RawData)
		if err != nil {
			continue
		}
		want[key] = der
	}

	// The DER files are checked by size and rewritten on every run, so they
	// need not be fsync'd one by one where the bucket offers that.
	write := b.WriteAll
	if u, ok := b.(UnsyncedWriter); ok {
		write = u.WriteAllUnsynced
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var written atomic.Int64
	for key, der := range want {
		if size, ok := existing[key]; ok && size == int64(len(der)) {
			st.Kept++ // the name is the kid, a hash of these bytes
			continue
		}
		g.Go(func() error {
			if err := write(gctx, key, der, "application/pkix-cert"); err != nil {
				return fmt.Errorf("mirror %s: %w", key, err)
			}
			written.Add(1)
			return nil
		})
	}
	err = g.Wait()
	st.Written = int(written.Load())
	if err != nil {
		return st, err
	}

	listJSON, sig, err := covPassList(snap, signer)
	if err != nil {
		return st, fmt.Errorf("mirror: %w", err)
	}
	sigLine := []byte(base64.StdEncoding.EncodeToString(sig))
	// The list before its signature: a reader that has the signature file
	// has the list it signs.
	if err := b.WriteAll(ctx, mirrorList, listJSON, "application/json"); err != nil {
		return st, fmt.Errorf("mirror %s: %w", mirrorList, err)
	}
	if err := b.WriteAll(ctx, mirrorListSig, sigLine, "text/plain"); err != nil {
		return st, fmt.Errorf("mirror %s: %w", mirrorListSig, err)
	}
	for key := range existing {
		if _, ok := want[key]; ok {
			continue
		}
		if err := b.Delete(ctx, key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("mirror: delete %s: %w", key, err)
		}
		st.Deleted++
	}
	return st, nil
}
