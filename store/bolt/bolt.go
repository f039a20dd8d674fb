// Package bolt is the embedded store engine, greenpass's default: one bbolt
// file under the data directory, every commit fsync'd, concurrent writes
// group-committed. One process at a time may hold the file.
package bolt

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

	"github.com/greenpass-dcc/greenpass/store"
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

// Open opens (or creates) the store file greenpass.db in dir.
// now is the clock for expiry (time.Now when nil).
func Open(dir string, now func() time.Time) (*Embedded, error) {
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
	if now == nil {
		now = time.Now
	}
	return &Embedded{db: db, now: now}, nil
}

// Stored value layout: version (8 bytes), expiry in Unix nanoseconds (8
// bytes, 0 = none), data.
func encodeRecord(r store.Record) []byte {
	b := make([]byte, 16+len(r.Data))
	binary.BigEndian.PutUint64(b, uint64(r.Version))
	if !r.ExpiresAt.IsZero() {
		binary.BigEndian.PutUint64(b[8:], uint64(r.ExpiresAt.UnixNano()))
	}
	copy(b[16:], r.Data)
	return b
}

func decodeRecord(id string, b []byte) (store.Record, error) {
	if len(b) < 16 {
		return store.Record{}, fmt.Errorf("store: record %q is corrupt (%d bytes)", id, len(b))
	}
	r := store.Record{ID: id, Version: int64(binary.BigEndian.Uint64(b)), Data: append([]byte(nil), b[16:]...)}
	if ns := int64(binary.BigEndian.Uint64(b[8:])); ns != 0 {
		r.ExpiresAt = time.Unix(0, ns).UTC()
	}
	return r, nil
}

func (e *Embedded) check(ctx context.Context) error {
	if e.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// write runs fn in a committed transaction: at once when it is the only
// write under way, else group-committed with the others. fn returns the
// domain outcome (store.ErrExists, store.ErrConflict, store.ErrNotFound) apart from storage
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

// bucket is the collection's bucket in a write transaction, made on the
// collection's first write. It is looked up first: CreateBucketIfNotExists
// seeks even when the bucket exists.
func bucket(tx *bolt.Tx, coll string) (*bolt.Bucket, error) {
	if b := tx.Bucket([]byte(coll)); b != nil {
		return b, nil
	}
	if coll == "" {
		return nil, errors.New("store: collection name is empty")
	}
	return tx.CreateBucketIfNotExists([]byte(coll))
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

// Insert implements store.Engine.
func (e *Embedded) Insert(ctx context.Context, coll, id string, expiresAt time.Time, data []byte) (store.Record, error) {
	r := store.Record{ID: id, ExpiresAt: store.ExpiryOf(expiresAt), Data: data}
	err := e.write(ctx, coll, func(b *bolt.Bucket) (error, error) {
		// A batch may run this function again: the version is found anew.
		var outcome, err error
		if r.Version, outcome, err = e.nextVersion(b, id); outcome != nil || err != nil {
			return outcome, err
		}
		return nil, b.Put([]byte(id), encodeRecord(r))
	})
	if err != nil {
		return store.Record{}, err
	}
	return r, nil
}

// nextVersion is the version a record inserted under id gets: 1, or the
// next after an expired record; store.ErrExists as the outcome when the ID is
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
	if !prev.Expired(e.now()) {
		return 0, store.ErrExists, nil
	}
	return prev.Version + 1, nil, nil
}

// InsertAll implements store.AtomicInserter: every record is checked before
// any is written, in one group-committed transaction.
func (e *Embedded) InsertAll(ctx context.Context, records []store.Insertion) error {
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
					return &store.InsertError{Index: i, Err: store.ErrExists}, nil
				}
			}
			var outcome error
			if versions[i], outcome, err = e.nextVersion(b, r.ID); err != nil {
				return nil, err
			} else if outcome != nil {
				return &store.InsertError{Index: i, Err: outcome}, nil
			}
		}
		for i, r := range records {
			rec := store.Record{ID: r.ID, Version: versions[i], ExpiresAt: store.ExpiryOf(r.ExpiresAt), Data: r.Data}
			if err := buckets[i].Put([]byte(r.ID), encodeRecord(rec)); err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
}

// Get implements store.Engine.
func (e *Embedded) Get(ctx context.Context, coll, id string) (store.Record, error) {
	if err := e.check(ctx); err != nil {
		return store.Record{}, err
	}
	var r store.Record
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(coll))
		if b == nil {
			return store.ErrNotFound // a collection never written
		}
		v := b.Get([]byte(id))
		if v == nil {
			return store.ErrNotFound
		}
		var err error
		r, err = decodeRecord(id, v)
		return err
	})
	if err != nil {
		return store.Record{}, err
	}
	if r.Expired(e.now()) {
		return store.Record{}, store.ErrNotFound
	}
	return r, nil
}

// Update implements store.Engine.
func (e *Embedded) Update(ctx context.Context, coll, id string, ifVersion int64, expiresAt time.Time, data []byte) (store.Record, error) {
	var out store.Record
	err := e.write(ctx, coll, func(b *bolt.Bucket) (error, error) {
		old := b.Get([]byte(id))
		if old == nil {
			return store.ErrNotFound, nil
		}
		prev, err := decodeRecord(id, old)
		if err != nil {
			return nil, err
		}
		switch {
		case prev.Expired(e.now()):
			return store.ErrNotFound, nil
		case prev.Version != ifVersion:
			return store.ErrConflict, nil
		}
		out = store.Record{ID: id, Version: prev.Version + 1, ExpiresAt: store.ExpiryOf(expiresAt), Data: data}
		return nil, b.Put([]byte(id), encodeRecord(out))
	})
	if err != nil {
		return store.Record{}, err
	}
	return out, nil
}

// Delete implements store.Engine.
func (e *Embedded) Delete(ctx context.Context, coll, id string) error {
	return e.write(ctx, coll, func(b *bolt.Bucket) (error, error) {
		if b.Get([]byte(id)) == nil {
			return store.ErrNotFound, nil
		}
		return nil, b.Delete([]byte(id))
	})
}

// Count implements store.Engine: a read-only scan of the collection.
func (e *Embedded) Count(ctx context.Context, coll string) (int, error) {
	if err := e.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(coll))
		if b == nil {
			return nil // a collection never written is empty
		}
		now := e.now()
		return b.ForEach(func(k, v []byte) error {
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			if !r.Expired(now) {
				n++
			}
			return nil
		})
	})
	return n, err
}

// Sweep implements store.Engine. It scans the collection: expiring collections
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
			return nil // a collection never written is empty
		}
		now := e.now()
		c := b.Cursor()
		for k, v := c.First(); k != nil; {
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			if r.Expired(now) {
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

// ListAfter implements store.Engine: a cursor from the prefix, or from
// after, on.
func (e *Embedded) ListAfter(ctx context.Context, coll, prefix, after string, limit int) ([]store.Record, error) {
	if err := e.check(ctx); err != nil {
		return nil, err
	}
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if err := store.CheckPrefix(after); err != nil {
		return nil, err
	}
	start := prefix
	if after > prefix {
		start = after
	}
	var out []store.Record
	err := e.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(coll))
		if b == nil {
			return nil // a collection never written is empty
		}
		now := e.now()
		c := b.Cursor()
		for k, v := c.Seek([]byte(start)); k != nil && len(out) < limit && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
			if string(k) == after {
				continue
			}
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			if !r.Expired(now) {
				r.Data = append([]byte(nil), r.Data...) // v lives in the page only during the transaction
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// Ping implements store.Engine.
func (e *Embedded) Ping(ctx context.Context) error {
	if err := e.check(ctx); err != nil {
		return err
	}
	return e.db.View(func(tx *bolt.Tx) error { return nil })
}

// Close implements store.Engine.
func (e *Embedded) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	if err := e.db.Close(); err != nil && !errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}
