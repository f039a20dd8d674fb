// Package store keeps greenpass's durable records: issued-certificate audit
// records, idempotency keys, transfer records, issuer accounts and
// revocations. Every operation touches one record and is atomic on it —
// insert-if-absent on the record's ID, read, compare-and-set update on its
// version, delete — so that the two engines behave alike: an embedded bbolt
// file under the data directory (the default) and MongoDB (a replica set or
// sharded cluster, selected by MONGODB_URI). Expiry is the store's own: an
// expired record is invisible at once and deleted by Sweep, on both engines.
// InsertAll writes several new records at once: atomically and in one
// durable write on the embedded engine, one after the other elsewhere.
//
// This package is the contract only: the engines are store/bolt and
// store/mongo, and store/storetest is the conformance suite both pass.
// Domain packages declare the small interfaces they need (Records is
// what Collection uses) and name their own collections; Collection gives
// them typed access to one.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("record not found")
	ErrExists   = errors.New("record already exists")
	ErrConflict = errors.New("record changed since it was read")
	ErrClosed   = errors.New("store closed")
)

// Record is one stored document.
type Record struct {
	ID string
	// Version is 1 after Insert and grows by one with every Update; Update
	// names the version it read, so concurrent writers cannot lose updates.
	Version int64
	// ExpiresAt, when set, is when the record stops existing: Get no longer
	// returns it and Sweep deletes it.
	ExpiresAt time.Time
	// Data is the domain record, JSON.
	Data []byte
}

// ExpiryOf normalises an expiry to what both engines can store: UTC,
// millisecond precision (MongoDB's date resolution), zero for none.
func ExpiryOf(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// Expired says whether the record no longer exists at now.
func (r Record) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Engine is a storage backend. Every write returns only when the record is
// durable (fsync'd for the embedded engine, majority-acknowledged for
// MongoDB).
type Engine interface {
	Records
	// Sweep deletes the collection's records expired at now and says how many.
	Sweep(ctx context.Context, coll string) (int, error)
	// Count says how many records the collection holds that have not
	// expired: for gauges read on a schedule, not per request.
	Count(ctx context.Context, coll string) (int, error)
	// Ping checks the engine can serve requests.
	Ping(ctx context.Context) error
	// Close releases the engine; later calls fail with ErrClosed.
	Close() error
}

// Insertion is one record for InsertAll.
type Insertion struct {
	Coll, ID  string
	ExpiresAt time.Time // zero: never
	Data      []byte
}

// InsertError names the record of InsertAll that could not be inserted.
type InsertError struct {
	Index int // into the records given
	Err   error
}

func (e *InsertError) Error() string { return fmt.Sprintf("store: record %d: %v", e.Index, e.Err) }
func (e *InsertError) Unwrap() error { return e.Err }

// AtomicInserter is an engine that inserts records into several
// collections in one atomic, durable write (the embedded engine: one
// transaction, one fsync).
type AtomicInserter interface {
	InsertAll(ctx context.Context, records []Insertion) error
}

// InsertAll inserts the records, each as Insert would, in order: in one
// write, all or none, where e is an AtomicInserter; else one after the
// other, stopping at the first failure (the records before it stay). A
// failure is an *InsertError naming the record; errors.Is(err, ErrExists)
// when its ID is taken.
func InsertAll(ctx context.Context, e Records, records ...Insertion) error {
	if a, ok := e.(AtomicInserter); ok {
		return a.InsertAll(ctx, records)
	}
	for i, r := range records {
		if _, err := e.Insert(ctx, r.Coll, r.ID, r.ExpiresAt, r.Data); err != nil {
			return &InsertError{Index: i, Err: err}
		}
	}
	return nil
}

// Leases is the store's own collection: leases of jobs that one instance
// at a time may run (AcquireLease). Domain packages name their own
// collections; a collection exists from its first write.
const Leases = "leases"

// CheckPrefix admits ListAfter prefixes and keys: printable ASCII below '~', so that
// the range [prefix, prefix with its last byte incremented) holds exactly
// the IDs that start with it.
func CheckPrefix(prefix string) error {
	for i := range len(prefix) {
		if prefix[i] < 0x20 || prefix[i] >= 0x7e {
			return fmt.Errorf("store: list prefix %q: printable ASCII below '~' only", prefix)
		}
	}
	return nil
}

// PrefixEnd is the first ID after every ID with the prefix ("" for none:
// the whole collection).
func PrefixEnd(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix[:len(prefix)-1] + string(prefix[len(prefix)-1]+1)
}

// Records is the part of Engine that reads and writes records: what a
// domain package needs of its storage.
type Records interface {
	// Insert stores a new record with version 1, or with the next version
	// when it replaces an expired record (so that a writer holding the old
	// version cannot update the new record); ErrExists if the ID is taken
	// by a record that has not expired.
	Insert(ctx context.Context, coll, id string, expiresAt time.Time, data []byte) (Record, error)
	// Get returns the record; ErrNotFound if absent or expired.
	Get(ctx context.Context, coll, id string) (Record, error)
	// Update replaces data and expiry if the stored version is ifVersion, and
	// returns the record with the next version; ErrConflict if the version
	// differs, ErrNotFound if the record is absent or expired.
	Update(ctx context.Context, coll, id string, ifVersion int64, expiresAt time.Time, data []byte) (Record, error)
	// Delete removes the record; ErrNotFound if absent.
	Delete(ctx context.Context, coll, id string) error
	// ListAfter returns up to limit records whose ID starts with prefix and
	// sorts after after ("": from the prefix's start), in ID order, leaving
	// out expired ones: the next page after a page's last ID, or the IDs
	// from a key within the prefix on. prefix and after are printable ASCII
	// (IDs that are meant to be listed are built so).
	ListAfter(ctx context.Context, coll, prefix, after string, limit int) ([]Record, error)
}

// Collection is typed access to one collection: T is stored as JSON.
type Collection[T any] struct {
	engine Records
	name   string
}

// NewCollection returns typed access to collection name of e.
func NewCollection[T any](e Records, name string) Collection[T] {
	return Collection[T]{engine: e, name: name}
}

// Insert stores v under id.
func (c Collection[T]) Insert(ctx context.Context, id string, expiresAt time.Time, v T) (int64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("store %s: encode: %w", c.name, err)
	}
	r, err := c.engine.Insert(ctx, c.name, id, expiresAt, data)
	return r.Version, err
}

// Insertion is v under id, encoded for InsertAll.
func (c Collection[T]) Insertion(id string, expiresAt time.Time, v T) (Insertion, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Insertion{}, fmt.Errorf("store %s: encode: %w", c.name, err)
	}
	return Insertion{Coll: c.name, ID: id, ExpiresAt: expiresAt, Data: data}, nil
}

// Get returns the value under id and its version.
func (c Collection[T]) Get(ctx context.Context, id string) (T, int64, error) {
	var v T
	r, err := c.engine.Get(ctx, c.name, id)
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return v, 0, fmt.Errorf("store %s: decode %q: %w", c.name, id, err)
	}
	return v, r.Version, nil
}

// Update replaces the value under id if its version is still ifVersion.
func (c Collection[T]) Update(ctx context.Context, id string, ifVersion int64, expiresAt time.Time, v T) (int64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("store %s: encode: %w", c.name, err)
	}
	r, err := c.engine.Update(ctx, c.name, id, ifVersion, expiresAt, data)
	return r.Version, err
}

// Delete removes the value under id.
func (c Collection[T]) Delete(ctx context.Context, id string) error {
	return c.engine.Delete(ctx, c.name, id)
}

// Item is a listed value with its ID and version.
type Item[T any] struct {
	ID      string
	Version int64
	Value   T
}

// List returns up to limit values whose IDs start with prefix, in ID order.
func (c Collection[T]) List(ctx context.Context, prefix string, limit int) ([]Item[T], error) {
	return c.ListAfter(ctx, prefix, "", limit)
}

// ListAfter is List from the first ID after after on (see Engine.ListAfter).
func (c Collection[T]) ListAfter(ctx context.Context, prefix, after string, limit int) ([]Item[T], error) {
	recs, err := c.engine.ListAfter(ctx, c.name, prefix, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Item[T], 0, len(recs))
	for _, r := range recs {
		var v T
		if err := json.Unmarshal(r.Data, &v); err != nil {
			return nil, fmt.Errorf("store %s: decode %q: %w", c.name, r.ID, err)
		}
		out = append(out, Item[T]{ID: r.ID, Version: r.Version, Value: v})
	}
	return out, nil
}
