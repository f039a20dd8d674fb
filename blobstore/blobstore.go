// Package blobstore opens the object storage where trust-list snapshots
// live: a folder under the data directory by default, or any bucket
// gocloud.dev/blob reaches by URL — s3:// (AWS, and S3-compatible services
// such as Fly's Tigris via ?endpoint=…&use_path_style=true), gs://,
// azblob://, file://, mem://.
//
// Only the file:// and mem:// drivers are linked here; the cloud drivers
// are registered by the binary (cmd/greenpass/drivers.go), so that a
// package or test that opens a folder does not build three cloud SDKs.
//
// Writes to a local folder are made durable here: gocloud's fileblob
// writes a temporary file and renames it without fsync, so after a power
// loss a renamed blob could be empty. Object stores acknowledge a PUT only
// when it is whole and durable, so their writes go through gocloud as is.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/memblob" // mem://
	"gocloud.dev/gcerrors"
)

// Bucket is a gocloud bucket whose WriteAll is atomic and durable: readers
// see the old or the new blob, never a part of one, and the new one is on
// disk (or acknowledged by the object store) when WriteAll returns.
type Bucket struct {
	*blob.Bucket
	dir string // the folder of a local bucket, "" for object stores
}

// Open opens the bucket at url, or, when url is empty, the folder
// DATADIR/blobs (created if missing).
func Open(ctx context.Context, url, dataDir string) (*Bucket, error) {
	if url == "" {
		dir := filepath.Join(dataDir, "blobs")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("blob folder %s: %w", dir, err)
		}
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
		if err != nil {
			return nil, fmt.Errorf("blob folder %s: %w", dir, err)
		}
		return &Bucket{Bucket: b, dir: dir}, nil
	}
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		// gocloud's message repeats the URL, credentials in the query too.
		msg := strings.ReplaceAll(err.Error(), url, redact(url))
		return nil, &redactedError{msg: "BLOB_URL " + redact(url) + ": " + msg, err: err}
	}
	bucket := &Bucket{Bucket: b}
	if u, err := neturl.Parse(url); err == nil && u.Scheme == "file" {
		bucket.dir = filepath.FromSlash(u.Path)
	}
	return bucket, nil
}

// WriteAll writes key. In a local folder it writes a temporary file beside
// the blob, fsyncs it, renames it over the blob and fsyncs the folder; the
// blob carries no sidecar attributes (fileblob then reports defaults).
// Elsewhere it is gocloud's WriteAll.
func (b *Bucket) WriteAll(ctx context.Context, key string, data []byte, opts *blob.WriterOptions) error {
	return b.write(ctx, key, data, opts, true)
}

// WriteAllUnsynced is WriteAll without the fsyncs in a local folder, for
// copies that are checked and rewritten anyway (the trust-list mirror
// files), where one fsync per file would cost more than the rest of the
// work: after a power loss the blob may be empty. A blob that exists is
// replaced atomically; a new one is written in place, so a reader may see
// it partly written until WriteAllUnsynced returns — callers publish its
// name only afterwards.
func (b *Bucket) WriteAllUnsynced(ctx context.Context, key string, data []byte, opts *blob.WriterOptions) error {
	return b.write(ctx, key, data, opts, false)
}

func (b *Bucket) write(ctx context.Context, key string, data []byte, opts *blob.WriterOptions, durable bool) error {
	if b.dir == "" {
		return b.Bucket.WriteAll(ctx, key, data, opts)
	}
	if err := checkLocalKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path := filepath.Join(b.dir, filepath.FromSlash(key))
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("blob %s: %w", key, err)
	}
	if err := writeAtomically(path, data, durable); err != nil {
		return fmt.Errorf("blob %s: %w", key, err)
	}
	// A sidecar left by an earlier gocloud write would describe other bytes.
	if err := os.Remove(path + ".attrs"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", key, err)
	}
	return nil
}

// checkLocalKey admits the keys greenpass writes: slash-separated names of
// letters, digits and ._- that stay inside the folder and that fileblob
// maps to the same path.
func checkLocalKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.HasSuffix(key, ".attrs") {
		return fmt.Errorf("blob key %q not allowed in a local folder", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("blob key %q not allowed in a local folder", key)
		}
		for _, c := range part {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("blob key %q not allowed in a local folder", key)
			}
		}
	}
	return nil
}

// writeAtomically replaces path with data: temporary file, fsync, rename,
// fsync of the folder. Not durable: without the fsyncs, and a new file is
// written in place.
func writeAtomically(path string, data []byte, durable bool) error {
	if !durable {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		if !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if durable {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if !durable {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// redactedError reads without the bucket URL's query but unwraps to the
// driver's error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Ping checks that the bucket answers (for readiness checks): listing one
// key needs read access and reaches the service.
func Ping(ctx context.Context, b *Bucket) error {
	it := b.List(&blob.ListOptions{})
	if _, err := it.Next(ctx); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("blob bucket: %w", err)
	}
	return nil
}

// redact drops query parameters from a bucket URL for messages: they may
// carry credentials.
func redact(url string) string {
	if base, _, hasQuery := strings.Cut(url, "?"); hasQuery {
		return base + "?…"
	}
	return url
}

// Objects is the bucket in the terms the trust lists use (trustlist.Bucket):
// content types instead of writer options, fs.ErrNotExist for a missing
// key, key sizes by prefix.
type Objects struct{ b *Bucket }

// Objects returns the bucket as Objects.
func (b *Bucket) Objects() Objects { return Objects{b} }

// ReadAll reads key; fs.ErrNotExist when it is missing.
func (o Objects) ReadAll(ctx context.Context, key string) ([]byte, error) {
	data, err := o.b.ReadAll(ctx, key)
	return data, notExist(err)
}

// WriteAll writes key atomically and durably.
func (o Objects) WriteAll(ctx context.Context, key string, data []byte, contentType string) error {
	return o.b.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: contentType})
}

// WriteAllUnsynced is Bucket.WriteAllUnsynced.
func (o Objects) WriteAllUnsynced(ctx context.Context, key string, data []byte, contentType string) error {
	return o.b.WriteAllUnsynced(ctx, key, data, &blob.WriterOptions{ContentType: contentType})
}

// Delete removes key; fs.ErrNotExist when it is missing.
func (o Objects) Delete(ctx context.Context, key string) error {
	return notExist(o.b.Delete(ctx, key))
}

// Sizes lists the keys under prefix with their sizes.
func (o Objects) Sizes(ctx context.Context, prefix string) (map[string]int64, error) {
	out := map[string]int64{}
	it := o.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if !obj.IsDir {
			out[obj.Key] = obj.Size
		}
	}
}

// notExist adds fs.ErrNotExist to gocloud's not-found errors.
func notExist(err error) error {
	if err != nil && gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return err
}
