package trustlistsync

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/greenpass-dcc/greenpass/trustlist"
)

// Own is what PublishOwn needs: where snapshots live, the lease every
// publisher takes, this instance's own DSCs, the value sets published when
// none are known yet, and the clock the snapshot is stamped with.
type Own struct {
	Snapshots        *trustlist.Snapshots
	Lock             Lock
	Local            []trustlist.Entry
	DefaultValueSets []trustlist.ValueSetEntry
	Now              func() time.Time
	Log              *slog.Logger
}

// PublishOwn publishes a snapshot with this instance's DSCs when the
// current one lacks them (a first start, new keys) or has no value sets,
// keeping the upstream entries, business data and revocations. It says
// whether it published. Another publisher at work (a sync) publishes them
// anyway, so a held lease is no error.
func PublishOwn(ctx context.Context, o Own) (bool, error) {
	now, log := o.Now, o.Log
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, unlock, err := o.Lock.Lock(ctx)
	if errors.Is(err, ErrBusy) {
		log.Info("trust list: another publisher is at work; own DSCs come with it")
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer unlock()
	prev, _, err := o.Snapshots.Current(ctx)
	if err != nil && !errors.Is(err, trustlist.ErrNoSnapshot) {
		return false, fmt.Errorf("trust list: %w", err)
	}
	have := map[string]bool{}
	var entries []trustlist.SnapshotEntry
	source := "local keys"
	if prev != nil {
		source = prev.Source
		for _, e := range prev.Entries {
			if e.Local {
				have[ownKey(e.Entry)] = true
				continue // our entries of now replace those of then
			}
			entries = append(entries, e)
		}
	}
	// Republished when an own entry is new or gained its signature; a
	// signature made again (CMS signatures differ each time) is no change.
	missing := len(have) != len(o.Local) || prev == nil || len(prev.ValueSets) == 0
	for _, e := range o.Local {
		missing = missing || !have[ownKey(e)]
		entries = append(entries, trustlist.SnapshotEntry{Entry: e, Local: true})
	}
	if !missing {
		return false, nil
	}
	snap := trustlist.NewSnapshot(prev, now(), source, entries)
	trustlist.KeepBusinessData(snap, prev, o.DefaultValueSets)
	if prev != nil {
		snap.Revocations = prev.Revocations
	}
	hash, err := o.Snapshots.Publish(ctx, snap)
	if err != nil {
		return false, fmt.Errorf("trust list: publish own DSCs: %w", err)
	}
	log.Info("trust list: published this instance's entries", "snapshot", hash[:12], "entries", len(o.Local))
	return true, nil
}

// ownKey identifies an own entry for PublishOwn: type, certificate, and
// whether it is signed.
func ownKey(e trustlist.Entry) string {
	return e.CertificateType + "/" + strings.ToLower(e.Thumbprint) + "/" + strconv.FormatBool(e.Signature != "")
}

// Signer is a certificate with its key, signing trust-list entries.
type Signer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// OwnKeys are this instance's place in the trust network: its CSCA, the
// DSCs it issues with, and — to sign its entries as a country uploads them
// to the gateway — its upload certificate and the trust anchor of its
// chain. Without Upload and Anchor the DSC entries go out unsigned, and
// the CSCA and upload certificate not at all.
type OwnKeys struct {
	Country        string
	CSCA           *x509.Certificate
	DSCs           []*x509.Certificate
	Upload, Anchor *Signer
}

// OwnEntries are the trust-list entries of this instance's keys: the CSCA
// and the upload certificate signed by the trust anchor, each DSC signed by
// the upload certificate (detached CMS, SHA-256), so that a gateway client
// — another greenpass syncing from this one — accepts them.
func OwnEntries(k OwnKeys) ([]trustlist.Entry, error) {
	entry := func(typ string, c *x509.Certificate, by *Signer) (trustlist.Entry, error) {
		e := trustlist.NewEntry(typ, k.Country, c.Raw)
		e.Timestamp = c.NotBefore.UTC().Format(time.RFC3339)
		if by != nil {
			sig, err := trustlist.SignCMS(c.Raw, by.Cert, by.Key)
			if err != nil {
				return e, fmt.Errorf("trust list: sign own %s entry: %w", typ, err)
			}
			e.Signature = base64.StdEncoding.EncodeToString(sig)
		}
		return e, nil
	}
	var out []trustlist.Entry
	if k.Upload != nil && k.Anchor != nil {
		for _, c := range []struct {
			typ  string
			cert *x509.Certificate
		}{{trustlist.TypeCSCA, k.CSCA}, {trustlist.TypeUpload, k.Upload.Cert}} {
			e, err := entry(c.typ, c.cert, k.Anchor)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	for _, c := range k.DSCs {
		e, err := entry(trustlist.TypeDSC, c, k.Upload)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
