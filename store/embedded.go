package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Embedded is the default engine: one bbolt file, fsync'd on every commit.
// Concurrent writes go through bbolt's Batch, which gathers them into one
// transaction and so one fsync (group commit): throughput grows with the
// number of writers while every acknowledged write is on disk. A writer
// with no other write under way commits at once instead of waiting for a
// batch to fill.
type Embedded struct {
	db       *bolt.DB
	now      func() time.Time
	closed   atomic.Bool
	inflight atomic.Int32 // writes under way, to skip the batch delay when alone
}

// OpenEmbedded opens (or creates) the store file greenpass.db in dir.
// now is the clock for expiry (time.Now when nil).
func OpenEmbedded(dir string, now func() time.Time) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data directory: %w", err)
	}
	path := filepath.Join(dir, "greenpass.db")
	// The freelist is not written with every commit (it is rebuilt by a
	// scan when the file is opened) and is kept as a map: with a large
	// file, writing and searching the list made each commit cost more
	// than the records in it. Records themselves are fsync'd as before.
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        5 * time.Second,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, c := range Collections() {
			if _, err := tx.CreateBucketIfNotExists([]byte(c)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: prepare %s: %w", path, err)
	}
	if now == nil {
		now = time.Now
	}
	return &Embedded{db: db, now: now}, nil
}

// Stored value layout: version (8 bytes), expiry in Unix nanoseconds (8
// bytes, 0 = none), data.
func encodeRecord(r Record) []byte {
	b := make([]byte, 16+len(r.Data))
	binary.BigEndian.PutUint64(b, uint64(r.Version))
	if !r.ExpiresAt.IsZero() {
		binary.BigEndian.PutUint64(b[8:], uint64(r.ExpiresAt.UnixNano()))
	}
	copy(b[16:], r.Data)
	return b
}

func decodeRecord(id string, b []byte) (Record, error) {
	if len(b) < 16 {
		return Record{}, fmt.Errorf("store: record %q is corrupt (%d bytes)", id, len(b))
	}
	r := Record{ID: id, Version: int64(binary.BigEndian.Uint64(b)), Data: append([]byte(nil), b[16:]...)}
	if ns := int64(binary.BigEndian.Uint64(b[8:])); ns != 0 {
		r.ExpiresAt = time.Unix(0, ns).UTC()
	}
	return r, nil
}

func (e *Embedded) check(ctx context.Context) error {
	if e.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// write runs fn in a committed transaction: at once when it is the only
// write under way, else group-committed with the others. fn returns the
// domain outcome (ErrExists, ErrConflict, ErrNotFound) apart from storage
// faults, so one writer's conflict never fails the others' batch; bbolt may
// run fn twice, so it must not depend on an earlier run.
func (e *Embedded) write(ctx context.Context, coll string, fn func(b *bolt.Bucket) (outcome, err error)) error {
	return e.writeTx(ctx, func(tx *bolt.Tx) (error, error) {
		b, err := bucket(tx, coll)
		if err != nil {
			return nil, err
		}
		return fn(b)
	})
}

func bucket(tx *bolt.Tx, coll string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(coll))
	if b == nil {
		return nil, fmt.Errorf("store: unknown collection %q", coll)
	}
	return b, nil
}

// writeTx is write over any collections of the transaction.
func (e *Embedded) writeTx(ctx context.Context, fn func(tx *bolt.Tx) (outcome, err error)) error {
	if err := e.check(ctx); err != nil {
		return err
	}
	var outcome error
	txFn := func(tx *bolt.Tx) error {
		var err error
		outcome, err = fn(tx)
		return err
	}
	var err error
	if e.inflight.Add(1) == 1 {
		err = e.db.Update(txFn)
	} else {
		err = e.db.Batch(txFn)
	}
	e.inflight.Add(-1)
	if err != nil {
		return err
	}
	return outcome
}

// Insert implements Engine.
func (e *Embedded) Insert(ctx context.Context, coll, id string, expiresAt time.Time, data []byte) (Record, error) {
	r := Record{ID: id, ExpiresAt: expiryOf(expiresAt), Data: data}
	err := e.write(ctx, coll, func(b *bolt.Bucket) (error, error) {
		// A batch may run this function again: the version is found anew.
		var outcome, err error
		if r.Version, outcome, err = e.nextVersion(b, id); outcome != nil || err != nil {
			return outcome, err
		}
		return nil, b.Put([]byte(id), encodeRecord(r))
	})
	if err != nil {
		return Record{}, err
	}
	return r, nil
}

// nextVersion is the version a record inserted under id gets: 1, or the
// next after an expired record; ErrExists as the outcome when the ID is
// taken.
func (e *Embedded) nextVersion(b *bolt.Bucket, id string) (version int64, outcome, err error) {
	old := b.Get([]byte(id))
	if old == nil {
		return 1, nil, nil
	}
	prev, err := decodeRecord(id, old)
	if err != nil {
		return 0, nil, err
	}
	if !prev.expired(e.now()) {
		return 0, ErrExists, nil
	}
	return prev.Version + 1, nil, nil
}

// InsertAll implements AtomicInserter: every record is checked before
// any is written, in one group-committed transaction.
func (e *Embedded) InsertAll(ctx context.Context, records []Insertion) error {
	return e.writeTx(ctx, func(tx *bolt.Tx) (error, error) {
		versions := make([]int64, len(records))
		buckets := make([]*bolt.Bucket, len(records))
		for i, r := range records {
			b, err := bucket(tx, r.Coll)
			if err != nil {
				return nil, err
			}
			buckets[i] = b
			for _, earlier := range records[:i] {
				if earlier.Coll == r.Coll && earlier.ID == r.ID {
					return &InsertError{Index: i, Err: ErrExists}, nil
				}
			}
			var outcome error
			if versions[i], outcome, err = e.nextVersion(b, r.ID); err != nil {
				return nil, err
			} else if outcome != nil {
				return &InsertError{Index: i, Err: outcome}, nil
			}
		}
		for i, r := range records {
			rec := Record{ID: r.ID, Version: versions[i], ExpiresAt: expiryOf(r.ExpiresAt), Data: r.Data}
			if err := buckets[i].Put([]byte(r.ID), encodeRecord(rec)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

// Get implements Engine.
func (e *Embedded) Get(ctx context.Context, coll, id string) (Record, error) {
	if err := e.check(ctx); err != nil {
		return Record{}, err
	}
	var r Record
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(coll))
		if b == nil {
			return fmt.Errorf("store: unknown collection %q", coll)
		}
		v := b.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var err error
		r, err = decodeRecord(id, v)
		return err
	})
	if err != nil {
		return Record{}, err
	}
	if r.expired(e.now()) {
		return Record{}, ErrNotFound
	}
	return r, nil
}

// Update implements Engine.
func (e *Embedded) Update(ctx context.Context, coll, id string, ifVersion int64, expiresAt time.Time, data []byte) (Record, error) {
	var out Record
	err := e.write(ctx, coll, func(b *bolt.Bucket) (error, error) {
		old := b.Get([]byte(id))
		if old == nil {
			return ErrNotFound, nil
		}
		prev, err := decodeRecord(id, old)
		if err != nil {
			return nil, err
		}
		switch {
		case prev.expired(e.now()):
			return ErrNotFound, nil
		case prev.Version != ifVersion:
			return ErrConflict, nil
		}
		out = Record{ID: id, Version: prev.Version + 1, ExpiresAt: expiryOf(expiresAt), Data: data}
		return nil, b.Put([]byte(id), encodeRecord(out))
	})
	if err != nil {
		return Record{}, err
	}
	return out, nil
}

// Delete implements Engine.
func (e *Embedded) Delete(ctx context.Context, coll, id string) error {
	return e.write(ctx, coll, func(b *bolt.Bucket) (error, error) {
		if b.Get([]byte(id)) == nil {
			return ErrNotFound, nil
		}
		return nil, b.Delete([]byte(id))
	})
}

// Sweep implements Engine. It scans the collection: expiring collections
// (transfers, idempotency keys) are small, being swept every few minutes.
func (e *Embedded) Sweep(ctx context.Context, coll string) (int, error) {
	if err := e.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	err := e.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket([]byte(coll))
		if b == nil {
			return fmt.Errorf("store: unknown collection %q", coll)
		}
		now := e.now()
		c := b.Cursor()
		for k, v := c.First(); k != nil; {
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			if r.expired(now) {
				key := append([]byte(nil), k...) // k points into the page Delete changes
				if err := c.Delete(); err != nil {
					return err
				}
				n++
				k, v = c.Seek(key) // the deleted key is gone: Seek lands on the next one
				continue
			}
			k, v = c.Next()
		}
		return nil
	})
	return n, err
}

// List implements Engine: a cursor from the prefix on.
func (e *Embedded) List(ctx context.Context, coll, prefix string, limit int) ([]Record, error) {
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	var out []Record
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(coll))
		if b == nil {
			return fmt.Errorf("store: unknown collection %q", coll)
		}
		now := e.now()
		c := b.Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && len(out) < limit && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			if !r.expired(now) {
				r.Data = append([]byte(nil), r.Data...) // v lives in the page only during the transaction
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// Ping implements Engine.
func (e *Embedded) Ping(ctx context.Context) error {
	if err := e.check(ctx); err != nil {
		return err
	}
	return e.db.View(func(tx *bolt.Tx) error { return nil })
}

// Close implements Engine.
func (e *Embedded) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	if err := e.db.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
