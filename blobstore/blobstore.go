// Package blobstore opens the object storage where trust-list snapshots
// live: a folder under the data directory by default, or any bucket
// gocloud.dev/blob reaches by URL — s3:// (AWS, and S3-compatible services
// such as Fly's Tigris via ?endpoint=…&use_path_style=true), gs://,
// azblob://, file://, mem://.
package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs://
	_ "gocloud.dev/blob/memblob" // mem://
	_ "gocloud.dev/blob/s3blob"  // s3://
)

// Open opens the bucket at url, or, when url is empty, the folder
// DATADIR/blobs (created if missing).
func Open(ctx context.Context, url, dataDir string) (*blob.Bucket, error) {
	if url == "" {
		dir := filepath.Join(dataDir, "blobs")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("blob folder %s: %w", dir, err)
		}
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true})
		if err != nil {
			return nil, fmt.Errorf("blob folder %s: %w", dir, err)
		}
		return b, nil
	}
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		// gocloud's message repeats the URL, credentials in the query too.
		msg := strings.ReplaceAll(err.Error(), url, redact(url))
		return nil, &redactedError{msg: "BLOB_URL " + redact(url) + ": " + msg, err: err}
	}
	return b, nil
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
func Ping(ctx context.Context, b *blob.Bucket) error {
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
