// Package atomicfile replaces files so that a reader sees the old content or
// the new, never a part: a container runtime may execute the plugin binary,
// or the plugin read its kubeconfig, at any moment, and a node may lose
// power mid-write.
package atomicfile

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix starts the name of every temporary file, so that the ones a
// crash left behind can be found and removed.
const tempPrefix = ".atomicfile-"

// Write replaces path with what write produces, with mode: it writes a
// temporary file in the same directory, syncs it to disk, renames it over
// path and syncs the directory. When write or any step fails, path is left
// as it was and the temporary file is removed.
func Write(path string, mode os.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// WriteBytes replaces path with data, with mode, unless it already holds
// exactly that. It reports whether it wrote.
func WriteBytes(path string, mode os.FileMode, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		if info, err := os.Stat(path); err == nil && info.Mode().Perm() == mode.Perm() {
			return false, nil
		}
	}
	return true, Write(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Copy replaces dst with the content of src, with mode, unless it already
// holds exactly that. It reports whether it wrote.
func Copy(src, dst string, mode os.FileMode) (bool, error) {
	want, err := hashFile(src)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", src, err)
	}
	if have, err := hashFile(dst); err == nil && have == want {
		if info, err := os.Stat(dst); err == nil && info.Mode().Perm() == mode.Perm() {
			return false, nil
		}
	}
	return true, Write(dst, mode, func(w io.Writer) error {
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer func() { _ = in.Close() }()
		_, err = io.Copy(w, in)
		return err
	})
}

// RemoveLeftovers removes the temporary files an interrupted Write left in
// dir.
func RemoveLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() {
			errs = append(errs, os.Remove(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

func hashFile(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
