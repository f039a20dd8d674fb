//go:build !linux

package loadtest

import (
	"net"
	"time"
)

// stamper is the connection itself where the OS gives no receive
// timestamps: the arrival is when the read returned.
type stamper struct{ net.Conn }

func newStamper(nc net.Conn) *stamper { return &stamper{nc} }
func (s *stamper) reset()             {}
func (s *stamper) first() time.Time   { return time.Time{} }
