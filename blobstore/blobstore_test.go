package blobstore

import (
	"context"
	"errors"
	"io/fs"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // the binary registers it in cmd/greenpass
	"gocloud.dev/gcerrors"
)

func roundTrip(t *testing.T, b *Bucket) {
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

// Local folders (the default and file://) are written by our durable path:
// the blob replaces the old one whole, leaves no sidecar or temporary file,
// and gocloud reads and lists it as its own.
func TestLocalWritesAreDurableAndWhole(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(dir string) (*Bucket, error)
		root func(dir string) string
	}{
		{"default folder", func(dir string) (*Bucket, error) { return Open(context.Background(), "", dir) },
			func(dir string) string { return filepath.Join(dir, "blobs") }},
		{"file URL", func(dir string) (*Bucket, error) {
			return Open(context.Background(), "file://"+filepath.ToSlash(dir), "")
		}, func(dir string) string { return dir }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			b, err := tc.open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			// An older gocloud write left a sidecar that must not survive.
			if err := b.Bucket.WriteAll(ctx, "current.json", []byte("old"), &blob.WriterOptions{ContentType: "text/old"}); err != nil {
				t.Fatal(err)
			}
			if err := b.WriteAll(ctx, "current.json", []byte(`{"v":2}`), nil); err != nil {
				t.Fatal(err)
			}
			if err := b.WriteAll(ctx, "snapshots/a.json", []byte("A"), nil); err != nil {
				t.Fatal(err)
			}
			if got, err := b.ReadAll(ctx, "current.json"); err != nil || string(got) != `{"v":2}` {
				t.Fatalf("ReadAll = %q, %v", got, err)
			}
			root := tc.root(dir)
			entries, err := os.ReadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if strings.Join(names, ",") != "current.json,snapshots" {
				t.Fatalf("folder holds %v, want only the blobs", names)
			}
			var keys []string
			it := b.List(nil)
			for {
				obj, err := it.Next(ctx)
				if err != nil {
					break
				}
				keys = append(keys, obj.Key)
			}
			if strings.Join(keys, ",") != "current.json,snapshots/a.json" {
				t.Fatalf("List = %v", keys)
			}
			if _, err := b.ReadAll(ctx, "missing.json"); gcerrors.Code(err) != gcerrors.NotFound {
				t.Fatalf("missing blob: %v, want NotFound", err)
			}
		})
	}
}

func TestLocalKeysStayInside(t *testing.T) {
	b, err := Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, key := range []string{"", "/abs", "../up", "a/../../b", "a//b", "dir/", "x.attrs", "sp ace", "ümlaut"} {
		if err := b.WriteAll(context.Background(), key, []byte("x"), nil); err == nil {
			t.Errorf("WriteAll(%q) accepted", key)
		}
	}
}

func TestWriteAllUnsyncedCreatesAndReplaces(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b, err := Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, content := range []string{"first", "second, longer"} {
		if err := b.WriteAllUnsynced(ctx, "dsc/0011223344556677.der", []byte(content), nil); err != nil {
			t.Fatal(err)
		}
		if got, err := b.ReadAll(ctx, "dsc/0011223344556677.der"); err != nil || string(got) != content {
			t.Fatalf("ReadAll = %q, %v; want %q", got, err, content)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "dsc"))
	if len(entries) != 1 {
		t.Fatalf("dsc/ holds %d files, want 1 (no temporary left)", len(entries))
	}
	if err := b.WriteAllUnsynced(ctx, "../escape", []byte("x"), nil); err == nil {
		t.Fatal("key outside the folder accepted")
	}
}

// Objects speaks the trust lists' terms on every kind of bucket: a missing
// key is fs.ErrNotExist, sizes are listed by prefix.
func TestObjects(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"", "mem://"} {
		b, err := Open(ctx, url, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		o := b.Objects()
		if _, err := o.ReadAll(ctx, "dsc/missing.der"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%q: ReadAll of a missing key: %v", url, err)
		}
		if err := o.Delete(ctx, "dsc/missing.der"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%q: Delete of a missing key: %v", url, err)
		}
		if err := o.WriteAll(ctx, "dsc/aa.der", []byte("123"), "application/pkix-cert"); err != nil {
			t.Fatal(err)
		}
		if err := o.WriteAllUnsynced(ctx, "dsc/bb.der", []byte("12345"), "application/pkix-cert"); err != nil {
			t.Fatal(err)
		}
		if err := o.WriteAll(ctx, "trustlist.json", []byte("[]"), "application/json"); err != nil {
			t.Fatal(err)
		}
		sizes, err := o.Sizes(ctx, "dsc/")
		if err != nil || len(sizes) != 2 || sizes["dsc/aa.der"] != 3 || sizes["dsc/bb.der"] != 5 {
			t.Fatalf("%q: Sizes = %v, %v", url, sizes, err)
		}
		if data, err := o.ReadAll(ctx, "dsc/bb.der"); err != nil || string(data) != "12345" {
			t.Fatalf("%q: ReadAll = %q, %v", url, data, err)
		}
	}
}
