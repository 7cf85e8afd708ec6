package agent

// User-defined file metadata, as in E2B's envd (0.6.2+): an upload's `X-Metadata-<key>: <value>` headers become the
// file's extended attributes `user.e2b.<key>` (key lowercased), and every EntryInfo reports the file's `user.e2b.*`
// attributes with the prefix stripped. An upload replaces the whole set: keys it does not send are removed, so an
// upload without metadata headers clears it. Attributes written inside the sandbox (setfattr, os.setxattr) show too.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

const (
	metadataHeaderPrefix = "X-Metadata-"
	metadataXattrPrefix  = "user.e2b."
	// maxMetadataKeyBytes: the kernel caps an xattr name at 255 bytes, prefix included.
	maxMetadataKeyBytes = 255 - len(metadataXattrPrefix)
	// maxMetadataBytes: ext4 keeps a file's attributes within one 4 KiB block; names (with prefix) plus values.
	maxMetadataBytes = 4096
)

// metadataFromHeaders collects the request's X-Metadata-* headers (first value of each), keys lowercased; nil when
// there are none.
func metadataFromHeaders(h http.Header) map[string]string {
	var md map[string]string
	for name, values := range h {
		if len(values) == 0 || !strings.HasPrefix(name, metadataHeaderPrefix) {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, metadataHeaderPrefix))
		if key == "" {
			continue
		}
		if md == nil {
			md = map[string]string{}
		}
		md[key] = values[0]
	}
	return md
}

// validateMetadata refuses what could not be stored: empty or over-long keys, bytes outside printable US-ASCII,
// and a set bigger than one attribute block.
func validateMetadata(md map[string]string) error {
	total := 0
	for k, v := range md {
		if k == "" {
			return errors.New("metadata key must not be empty")
		}
		if len(k) > maxMetadataKeyBytes {
			return fmt.Errorf("metadata key %q exceeds %d bytes", k, maxMetadataKeyBytes)
		}
		if !printableASCII(k) || !printableASCII(v) {
			return fmt.Errorf("metadata %q: keys and values must be printable US-ASCII", k)
		}
		total += len(metadataXattrPrefix) + len(k) + len(v)
	}
	if total > maxMetadataBytes {
		return fmt.Errorf("total metadata size %d exceeds %d bytes", total, maxMetadataBytes)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// writeMetadata makes md the open file's whole metadata set (through the descriptor, so a concurrent rename cannot
// redirect it). A filesystem without xattrs (/proc, some tmpfs setups) keeps the data and drops the metadata.
func writeMetadata(f *os.File, md map[string]string) error {
	names, err := xattrNames(func(buf []byte) (int, error) { return unix.Flistxattr(int(f.Fd()), buf) })
	if err != nil {
		if xattrUnsupported(err) {
			return nil
		}
		return err
	}
	for _, name := range names {
		key, ok := strings.CutPrefix(name, metadataXattrPrefix)
		if _, keep := md[key]; !ok || keep {
			continue
		}
		if err := unix.Fremovexattr(int(f.Fd()), name); err != nil && !errors.Is(err, unix.ENODATA) {
			return err
		}
	}
	for k, v := range md {
		if err := unix.Fsetxattr(int(f.Fd()), metadataXattrPrefix+k, []byte(v), 0); err != nil {
			if xattrUnsupported(err) {
				return nil
			}
			return err
		}
	}
	return nil
}

// readMetadata returns path's user.e2b.* attributes (following symlinks, as stat does); nil when there are none or
// they cannot be read. Values that are not UTF-8 (set from inside the sandbox) are skipped: a proto string must be.
func readMetadata(path string) map[string]string {
	names, err := xattrNames(func(buf []byte) (int, error) { return unix.Listxattr(path, buf) })
	if err != nil {
		return nil
	}
	var md map[string]string
	for _, name := range names {
		key, ok := strings.CutPrefix(name, metadataXattrPrefix)
		if !ok || !utf8.ValidString(key) {
			continue
		}
		value, err := xattrValue(path, name)
		if err != nil || !utf8.Valid(value) {
			continue
		}
		if md == nil {
			md = map[string]string{}
		}
		md[key] = string(value)
	}
	return md
}

// xattrNames lists attribute names with list (Listxattr or Flistxattr), growing the buffer if the list grew meanwhile.
func xattrNames(list func([]byte) (int, error)) ([]string, error) {
	for attempt := 0; attempt < 4; attempt++ {
		size, err := list(nil)
		if err != nil || size == 0 {
			return nil, err
		}
		buf := make([]byte, size)
		n, err := list(buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, name := range strings.Split(string(buf[:n]), "\x00") {
			if name != "" {
				names = append(names, name)
			}
		}
		return names, nil
	}
	return nil, unix.ERANGE
}

func xattrValue(path, name string) ([]byte, error) {
	for attempt := 0; attempt < 4; attempt++ {
		size, err := unix.Getxattr(path, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size)
		n, err := unix.Getxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE
}

func xattrUnsupported(err error) bool {
	return errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP)
}
