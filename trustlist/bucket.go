package trustlist

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"sync"
)

// Bucket is the blob storage that snapshots and mirror files live in, in
// this package's own terms (blobstore.Objects adapts a gocloud bucket to
// it). A missing key is fs.ErrNotExist.
type Bucket interface {
	ReadAll(ctx context.Context, key string) ([]byte, error)
	// WriteAll must be atomic — readers see the old or the new blob, never
	// a part — and durable when it returns.
	WriteAll(ctx context.Context, key string, data []byte, contentType string) error
	Delete(ctx context.Context, key string) error
	// Sizes lists the keys under prefix with their sizes.
	Sizes(ctx context.Context, prefix string) (map[string]int64, error)
}

// UnsyncedWriter is a Bucket that can also write without waiting for the
// disk, for files that are checked and rewritten on every run (the
// mirror's DER files).
type UnsyncedWriter interface {
	WriteAllUnsynced(ctx context.Context, key string, data []byte, contentType string) error
}

// MemBucket is a Bucket in memory: for tests, and a node that keeps its
// trust lists only while it runs.
type MemBucket struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemBucket returns an empty MemBucket.
func NewMemBucket() *MemBucket { return &MemBucket{m: map[string][]byte{}} }

// ReadAll implements Bucket.
func (b *MemBucket) ReadAll(ctx context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.m[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return append([]byte(nil), data...), nil
}

// WriteAll implements Bucket.
func (b *MemBucket) WriteAll(ctx context.Context, key string, data []byte, _ string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[key] = append([]byte(nil), data...)
	return nil
}

// Delete implements Bucket.
func (b *MemBucket) Delete(ctx context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.m[key]; !ok {
		return fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	delete(b.m, key)
	return nil
}

// Sizes implements Bucket.
func (b *MemBucket) Sizes(ctx context.Context, prefix string) (map[string]int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int64{}
	for k, v := range maps.All(b.m) {
		if strings.HasPrefix(k, prefix) {
			out[k] = int64(len(v))
		}
	}
	return out, nil
}
