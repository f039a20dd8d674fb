package blobstore

import (
	"context"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"
)

func roundTrip(t *testing.T, b *blob.Bucket) {
	t.Helper()
	ctx := context.Background()
	if err := Ping(ctx, b); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := b.WriteAll(ctx, "snapshots/abc.json", []byte(`{"dsc":[]}`), nil); err != nil {
		t.Fatalf("WriteAll: %v", err)
	}
	got, err := b.ReadAll(ctx, "snapshots/abc.json")
	if err != nil || string(got) != `{"dsc":[]}` {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	if err := Ping(ctx, b); err != nil {
		t.Fatalf("Ping with a key: %v", err)
	}
}

func TestOpenDefaultFolder(t *testing.T) {
	dir := t.TempDir()
	b, err := Open(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, b)
	b.Close()
	if _, err := os.Stat(filepath.Join(dir, "blobs", "snapshots", "abc.json")); err != nil {
		t.Fatalf("blob not under DATA/blobs: %v", err)
	}
	// Reopening sees the same data.
	b, _ = Open(context.Background(), "", dir)
	defer b.Close()
	if got, err := b.ReadAll(context.Background(), "snapshots/abc.json"); err != nil || len(got) == 0 {
		t.Fatalf("after reopen: %q, %v", got, err)
	}
}

func TestOpenMem(t *testing.T) {
	b, err := Open(context.Background(), "mem://", "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	roundTrip(t, b)
}

// The s3 driver against an in-process S3 fake on loopback, as for an
// S3-compatible service (Tigris, MinIO) reached by endpoint.
func TestOpenS3Compatible(t *testing.T) {
	backend := s3mem.New()
	faker := gofakes3.New(backend)
	srv := httptest.NewServer(faker.Server())
	defer srv.Close()
	if err := backend.CreateBucket("trustlists"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	url := "s3://trustlists?region=us-east-1&use_path_style=true&endpoint=" + neturl.QueryEscape(srv.URL)
	b, err := Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	roundTrip(t, b)
	obj, err := backend.GetObject("trustlists", "snapshots/abc.json", nil)
	if err != nil {
		t.Fatalf("object not in the S3 backend: %v", err)
	}
	obj.Contents.Close()
}

func TestOpenBadURL(t *testing.T) {
	_, err := Open(context.Background(), "nosuch://bucket?secret=hunter2", "")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error = %v; want an error that does not echo the query", err)
	}
}
