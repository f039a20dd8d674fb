//go:build linux

package loadtest

import (
	"encoding/binary"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stamper is a TCP connection whose reads carry the kernel's receive
// timestamp (SO_TIMESTAMPNS): the moment the data reached the socket,
// however long the reading goroutine then waited for a CPU. (A system
// whose first socket just asked for them stamps packets only a moment
// later; reads without a stamp fall back to the time the read returned.)
type stamper struct {
	net.Conn
	raw     syscall.RawConn // nil: no timestamps, plain reads
	oob     []byte
	arrived time.Time
}

func newStamper(nc net.Conn) *stamper {
	s := &stamper{Conn: nc}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return s
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return s
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1)
	}); err != nil || serr != nil {
		return s
	}
	s.raw, s.oob = raw, make([]byte, unix.CmsgSpace(16))
	return s
}

// reset forgets the last arrival; first then reports the next one.
func (s *stamper) reset() { s.arrived = time.Time{} }

// first is the receive time of the first data read since reset (zero if
// none was stamped).
func (s *stamper) first() time.Time { return s.arrived }

func (s *stamper) Read(p []byte) (int, error) {
	if s.raw == nil || len(p) == 0 {
		return s.Conn.Read(p)
	}
	var n, oobn int
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), p, s.oob, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil && rerr != nil {
		err = os.NewSyscallError("recvmsg", rerr)
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	if s.arrived.IsZero() {
		s.arrived = receiveTime(s.oob[:oobn])
	}
	return n, nil
}

// receiveTime is the SCM_TIMESTAMPNS in oob, or zero.
func receiveTime(oob []byte) time.Time {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return time.Time{}
	}
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_TIMESTAMPNS {
			continue
		}
		switch len(m.Data) { // struct timespec: two longs
		case 16:
			return time.Unix(int64(binary.NativeEndian.Uint64(m.Data)), int64(binary.NativeEndian.Uint64(m.Data[8:])))
		case 8:
			return time.Unix(int64(int32(binary.NativeEndian.Uint32(m.Data))), int64(int32(binary.NativeEndian.Uint32(m.Data[4:]))))
		}
	}
	return time.Time{}
}
