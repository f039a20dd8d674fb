//go:build !race

package main

// The cloud drivers of gocloud.dev, registered here in the binary only:
// blobstore and keys link just file://, mem:// and base64key://, so their
// packages and tests build without three cloud SDKs. A race-instrumented
// build (tests only) leaves them out too: instrumenting the AWS, Google
// Cloud and Azure SDKs took minutes of CI's cold build, and no test of
// this package reaches a cloud (blobstore tests the s3 driver itself).
import (
	_ "gocloud.dev/blob/azureblob"        // BLOB_URL azblob://
	_ "gocloud.dev/blob/gcsblob"          // BLOB_URL gs://
	_ "gocloud.dev/blob/s3blob"           // BLOB_URL s3:// (and S3-compatible stores)
	_ "gocloud.dev/secrets/awskms"        // GREENPASS_KEYS_SECRET awskms://
	_ "gocloud.dev/secrets/azurekeyvault" // GREENPASS_KEYS_SECRET azurekeyvault://
	_ "gocloud.dev/secrets/gcpkms"        // GREENPASS_KEYS_SECRET gcpkms://
)
