// Package mongo is the store engine for a MongoDB replica set or sharded
// cluster (MONGODB_URI): one document per record, single-document atomic
// operations, write concern majority.
package mongo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/writeconcern"

	"github.com/greenpass-dcc/greenpass/store"
)

// Mongo is the engine for a MongoDB replica set or sharded cluster. Each
// record is one document {_id, v, exp, d}; every operation is a single-
// document one (insert on _id, find, update filtered on _id and v), which
// MongoDB makes atomic, with write concern majority and retryable writes.
type Mongo struct {
	indexed sync.Map // collections whose exp index this process has made
	client  *mongo.Client
	db      *mongo.Database
	now     func() time.Time
	closed  atomic.Bool
}

// mongoDoc is the stored shape. exp is absent for records that never expire.
type mongoDoc struct {
	ID      string    `bson:"_id"`
	Version int64     `bson:"v"`
	Expires time.Time `bson:"exp,omitempty"`
	Data    []byte    `bson:"d"`
}

func (d mongoDoc) record() store.Record {
	r := store.Record{ID: d.ID, Version: d.Version, Data: d.Data}
	if !d.Expires.IsZero() {
		r.ExpiresAt = d.Expires.UTC()
	}
	return r
}

// Open connects to uri, uses database dbName (from the URI's path
// when empty, else "greenpass") and creates the indexes. now is the clock for
// expiry (time.Now when nil).
func Open(ctx context.Context, uri, dbName string, now func() time.Time) (*Mongo, error) {
	opts := options.Client().ApplyURI(uri).
		SetWriteConcern(writeconcern.Majority()).
		SetRetryWrites(true).
		SetRetryReads(true).
		SetTimeout(10 * time.Second)
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("store: connect to MongoDB: %w", err)
	}
	if dbName == "" {
		dbName = "greenpass"
	}
	m := &Mongo{client: client, db: client.Database(dbName), now: now}
	if m.now == nil {
		m.now = time.Now
	}
	if err := client.Ping(ctx, nil); err != nil {
		client.Disconnect(context.Background())
		return nil, fmt.Errorf("store: MongoDB not reachable: %w", err)
	}
	return m, nil
}

// index makes the collection's index on exp, once per process, before its
// first insert from here: Sweep deletes by exp (our own sweeper, not a TTL
// index, keeps the engines alike). A collection exists from its first
// write, so the store needs no list of the domains' collections.
func (m *Mongo) index(ctx context.Context, coll string) error {
	if _, ok := m.indexed.Load(coll); ok {
		return nil
	}
	_, err := m.db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "exp", Value: 1}}})
	if err != nil {
		return fmt.Errorf("store: index on %s.exp: %w", coll, err)
	}
	m.indexed.Store(coll, true)
	return nil
}

// DropDatabase drops the engine's whole database: for tests that made one
// of their own.
func (m *Mongo) DropDatabase(ctx context.Context) error {
	return m.db.Drop(ctx)
}

func (m *Mongo) check(ctx context.Context) error {
	if m.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// live is the filter for records that have not expired at now.
func live(now time.Time) bson.E {
	return bson.E{Key: "$or", Value: bson.A{
		bson.D{{Key: "exp", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "exp", Value: bson.D{{Key: "$gt", Value: now}}}},
	}}
}

// Insert implements store.Engine. An expired record with the same ID is replaced,
// atomically: the upsert matches only an expired document, and the unique
// _id refuses the insert when a live one exists.
func (m *Mongo) Insert(ctx context.Context, coll, id string, expiresAt time.Time, data []byte) (store.Record, error) {
	if err := m.check(ctx); err != nil {
		return store.Record{}, err
	}
	if err := m.index(ctx, coll); err != nil {
		return store.Record{}, err
	}
	doc := mongoDoc{ID: id, Version: 1, Expires: store.ExpiryOf(expiresAt), Data: data}
	c := m.db.Collection(coll)
	_, err := c.InsertOne(ctx, doc)
	if mongo.IsDuplicateKeyError(err) {
		// Taken: by a live record (store.ErrExists) or an expired one, which is
		// replaced with the next version, filtered on the version read so
		// that of several racing inserts one wins.
		var prev mongoDoc
		ferr := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&prev)
		switch {
		case errors.Is(ferr, mongo.ErrNoDocuments):
			return store.Record{}, store.ErrExists // swept meanwhile: another insert is due to win
		case ferr != nil:
			return store.Record{}, fmt.Errorf("store: insert %s/%s: %w", coll, id, ferr)
		case !prev.record().Expired(m.now()):
			return store.Record{}, store.ErrExists
		}
		doc.Version = prev.Version + 1
		res, rerr := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "v", Value: prev.Version},
			{Key: "exp", Value: bson.D{{Key: "$lte", Value: m.now()}}}}, doc)
		if rerr != nil {
			return store.Record{}, fmt.Errorf("store: insert %s/%s: %w", coll, id, rerr)
		}
		if res.MatchedCount == 0 {
			return store.Record{}, store.ErrExists
		}
		return doc.record(), nil
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("store: insert %s/%s: %w", coll, id, err)
	}
	return doc.record(), nil
}

// Get implements store.Engine.
func (m *Mongo) Get(ctx context.Context, coll, id string) (store.Record, error) {
	if err := m.check(ctx); err != nil {
		return store.Record{}, err
	}
	var doc mongoDoc
	err := m.db.Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("store: get %s/%s: %w", coll, id, err)
	}
	r := doc.record()
	if r.Expired(m.now()) {
		return store.Record{}, store.ErrNotFound
	}
	return r, nil
}

// Update implements store.Engine: one findOneAndUpdate filtered on _id, version
// and liveness, so of several concurrent writers exactly one wins.
func (m *Mongo) Update(ctx context.Context, coll, id string, ifVersion int64, expiresAt time.Time, data []byte) (store.Record, error) {
	if err := m.check(ctx); err != nil {
		return store.Record{}, err
	}
	set := bson.D{{Key: "d", Value: data}}
	update := bson.D{{Key: "$inc", Value: bson.D{{Key: "v", Value: 1}}}}
	if expiresAt.IsZero() {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "exp", Value: ""}}})
	} else {
		set = append(set, bson.E{Key: "exp", Value: store.ExpiryOf(expiresAt)})
	}
	update = append(update, bson.E{Key: "$set", Value: set})
	filter := bson.D{{Key: "_id", Value: id}, {Key: "v", Value: ifVersion}, live(m.now())}
	var doc mongoDoc
	err := m.db.Collection(coll).FindOneAndUpdate(ctx, filter, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Not updated: absent, expired, or another version.
		if _, gerr := m.Get(ctx, coll, id); gerr != nil {
			return store.Record{}, gerr
		}
		return store.Record{}, store.ErrConflict
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("store: update %s/%s: %w", coll, id, err)
	}
	return doc.record(), nil
}

// Delete implements store.Engine.
func (m *Mongo) Delete(ctx context.Context, coll, id string) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	res, err := m.db.Collection(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("store: delete %s/%s: %w", coll, id, err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Sweep implements store.Engine.
func (m *Mongo) Sweep(ctx context.Context, coll string) (int, error) {
	if err := m.check(ctx); err != nil {
		return 0, err
	}
	res, err := m.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "exp", Value: bson.D{{Key: "$lte", Value: m.now()}}}})
	if err != nil {
		return 0, fmt.Errorf("store: sweep %s: %w", coll, err)
	}
	return int(res.DeletedCount), nil
}

// Count implements store.Engine: a count of the records not expired.
func (m *Mongo) Count(ctx context.Context, coll string) (int, error) {
	if err := m.check(ctx); err != nil {
		return 0, err
	}
	n, err := m.db.Collection(coll).CountDocuments(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "exp", Value: nil}},
		bson.D{{Key: "exp", Value: bson.D{{Key: "$gt", Value: m.now()}}}},
	}}})
	if err != nil {
		return 0, fmt.Errorf("store: count %s: %w", coll, err)
	}
	return int(n), nil
}

// ListAfter implements store.Engine: a range query on _id, which the _id
// index serves in order.
func (m *Mongo) ListAfter(ctx context.Context, coll, prefix, after string, limit int) ([]store.Record, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	if err := store.CheckPrefix(after); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	rng := bson.D{{Key: "$gte", Value: prefix}}
	if after >= prefix {
		rng = bson.D{{Key: "$gt", Value: after}}
	}
	if end := store.PrefixEnd(prefix); end != "" {
		rng = append(rng, bson.E{Key: "$lt", Value: end})
	}
	filter := bson.D{{Key: "_id", Value: rng}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "exp", Value: nil}},
		bson.D{{Key: "exp", Value: bson.D{{Key: "$gt", Value: m.now()}}}},
	}}}
	cur, err := m.db.Collection(coll).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", coll, err)
	}
	defer cur.Close(ctx)
	var out []store.Record
	for cur.Next(ctx) {
		var doc mongoDoc
		if err := cur.Decode(&doc); err != nil {
			return nil, fmt.Errorf("store: list %s: %w", coll, err)
		}
		if r := doc.record(); !r.Expired(m.now()) {
			out = append(out, r)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", coll, err)
	}
	return out, nil
}

// Ping implements store.Engine.
func (m *Mongo) Ping(ctx context.Context) error {
	if err := m.check(ctx); err != nil {
		return err
	}
	return m.client.Ping(ctx, nil)
}

// Close implements store.Engine.
func (m *Mongo) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.client.Disconnect(ctx)
}
