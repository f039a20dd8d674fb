// Package ferrettest starts an in-process MongoDB-protocol server (FerretDB
// v1, SQLite in a temp dir) on loopback for tests. Only tests import it, so
// FerretDB is never linked into greenpass itself.
package ferrettest
