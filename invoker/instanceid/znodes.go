package instanceid

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// The znodes OpenWhisk's invoker uses for id assignment, relative to the chroot (see ParseHosts).
const (
	AssignmentRoot = "/invokers/idAssignment"
	MappingRoot    = AssignmentRoot + "/mapping"
	CounterPath    = AssignmentRoot + "/counter"
)

// MappingPath is the znode holding the id of uniqueName.
func MappingPath(uniqueName string) string { return MappingRoot + "/" + uniqueName }

// maxID keeps id+1 (the counter) inside a Java int.
const maxID = math.MaxInt32 - 1

// EncodeID is the mapping znode's data for id: the big-endian two's-complement bytes of minimal length
// that Java's BigInteger.toByteArray produces (0 → 00, 255 → 00 ff, 256 → 01 00).
func EncodeID(id int) []byte {
	if id < 0 {
		panic(fmt.Sprintf("instanceid: EncodeID(%d): ids are non-negative", id))
	}
	b := big.NewInt(int64(id)).Bytes() // magnitude, no leading zero byte; empty for 0
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...) // keep the sign bit clear
	}
	return b
}

// DecodeID reads a mapping znode's data as OpenWhisk's BigInteger(bytes).intValue does, refusing what
// OpenWhisk would fail on (no bytes) or misread (a negative or a more than 32-bit value).
func DecodeID(data []byte) (int, error) {
	if len(data) == 0 {
		return 0, fmt.Errorf("empty, want a big-endian two's-complement integer")
	}
	if data[0]&0x80 != 0 {
		return 0, fmt.Errorf("% x is a negative integer", data)
	}
	v := new(big.Int).SetBytes(data)
	if !v.IsInt64() || v.Int64() > maxID {
		return 0, fmt.Errorf("% x is beyond the largest invoker id (%d)", data, maxID)
	}
	return int(v.Int64()), nil
}

// EncodeCounter is the counter znode's data: Curator SharedCount's 4-byte big-endian int.
func EncodeCounter(n int) []byte {
	if n < 0 || n > math.MaxInt32 {
		panic(fmt.Sprintf("instanceid: EncodeCounter(%d): out of range", n))
	}
	return binary.BigEndian.AppendUint32(nil, uint32(n))
}

// DecodeCounter reads the counter znode's data.
func DecodeCounter(data []byte) (int, error) {
	if len(data) != 4 {
		return 0, fmt.Errorf("% x is %d bytes, want a 4-byte big-endian int", data, len(data))
	}
	n := int32(binary.BigEndian.Uint32(data))
	if n < 0 {
		return 0, fmt.Errorf("%d is negative", n)
	}
	return int(n), nil
}

// CheckName reports why uniqueName cannot be a znode name under MappingRoot (nil when it can): it must be
// one path segment, not "." or "..", with no characters ZooKeeper refuses (NUL, control characters,
// surrogates, private-use and U+FFF0..U+FFFF), and valid UTF-8. Kubernetes node names always pass.
func CheckName(uniqueName string) error {
	switch {
	case uniqueName == "":
		return fmt.Errorf("empty")
	case uniqueName == "." || uniqueName == "..":
		return fmt.Errorf("%q is not a znode name", uniqueName)
	case strings.Contains(uniqueName, "/"):
		return fmt.Errorf("%q contains '/', which would make it a znode path", uniqueName)
	case !utf8.ValidString(uniqueName):
		return fmt.Errorf("%q is not valid UTF-8", uniqueName)
	}
	for _, r := range uniqueName {
		if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || (r >= 0xd800 && r <= 0xf8ff) || r >= 0xfff0 && r <= 0xffff {
			return fmt.Errorf("%q contains %U, which ZooKeeper does not allow in a znode name", uniqueName, r)
		}
	}
	return nil
}
