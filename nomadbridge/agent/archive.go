package agent

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Caches and workspace layers are tar+gzip archives. An archive is built
// in a temporary file while its SHA-256 is computed, uploaded with its
// size and checksum, and checked against both after download, before
// anything is extracted: a corrupt archive is reported, never half-applied.

// archiveMember is a file or directory tree to archive under a name.
type archiveMember struct {
	// src is the absolute path on disk.
	src string
	// name is its slash-separated name in the archive.
	name string
}

// builtArchive is an archive in a temporary file.
type builtArchive struct {
	path   string
	size   int64
	sha256 string
	files  int
}

// hashingWriter counts and hashes what it writes.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// buildArchive writes members (directories recursively; symbolic links as
// links, not followed) into a new tar.gz file in dir.
func buildArchive(dir string, members []archiveMember) (builtArchive, error) {
	f, err := os.CreateTemp(dir, "archive-*.tar.gz")
	if err != nil {
		return builtArchive{}, fmt.Errorf("create archive: %w", err)
	}
	a := builtArchive{path: f.Name()}
	hw := &hashingWriter{w: f, h: sha256.New()}
	gz := gzip.NewWriter(hw)
	tw := tar.NewWriter(gz)
	seen := map[string]bool{}
	for _, m := range members {
		n, err := addTree(tw, m, seen)
		a.files += n
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return builtArchive{}, err
		}
	}
	err = errors.Join(tw.Close(), gz.Close(), f.Sync(), f.Close())
	if err != nil {
		os.Remove(f.Name())
		return builtArchive{}, fmt.Errorf("write archive: %w", err)
	}
	a.size, a.sha256 = hw.n, hex.EncodeToString(hw.h.Sum(nil))
	return a, nil
}

// addTree adds one member; seen skips names already added (overlapping
// globs).
func addTree(tw *tar.Writer, m archiveMember, seen map[string]bool) (int, error) {
	files := 0
	err := filepath.WalkDir(m.src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		rel, err := filepath.Rel(m.src, p)
		if err != nil {
			return err
		}
		name := path.Join(m.name, filepath.ToSlash(rel))
		if seen[name] {
			if d.IsDir() && p != m.src {
				return fs.SkipDir
			}
			return nil
		}
		seen[name] = true
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return fmt.Errorf("archive %s: %w", p, err)
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		hdr.Name = name
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		files++
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("archive %s: %w", p, err)
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("archive %s (did it change while being archived?): %w", p, err)
		}
		return nil
	})
	return files, err
}

// errCorrupt marks an archive that does not match its size and checksum
// or cannot be decompressed.
var errCorrupt = errors.New("archive is corrupted")

// verifyFile checks a downloaded archive's size and SHA-256.
func verifyFile(p string, size int64, sum string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("verify archive: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("verify archive: %w", err)
	}
	got := hex.EncodeToString(h.Sum(nil))
	switch {
	case n != size:
		return fmt.Errorf("%w: %d bytes downloaded, %d stored", errCorrupt, n, size)
	case got != sum:
		return fmt.Errorf("%w: SHA-256 %s does not match the stored %s", errCorrupt, got, sum)
	}
	return nil
}

// extractArchive extracts a tar.gz; dest maps each member name to where it
// goes (ok false skips it). Names with ".." segments or absolute names are
// refused, and nothing is written through a symbolic link the archive
// created. Decompression errors wrap errCorrupt.
func extractArchive(p string, dest func(name string) (string, bool)) (int, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, fmt.Errorf("extract: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errCorrupt, err)
	}
	tr := tar.NewReader(gz)
	files := 0
	links := map[string]bool{}
	type dirTime struct {
		path string
		t    time.Time
	}
	var dirs []dirTime
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return files, fmt.Errorf("%w: %v", errCorrupt, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if name == "" || path.IsAbs(name) || slices.Contains(strings.Split(name, "/"), "..") {
			return files, fmt.Errorf("%w: unsafe member name %q", errCorrupt, hdr.Name)
		}
		target, ok := dest(name)
		if !ok {
			continue
		}
		if throughLink(target, links) {
			return files, fmt.Errorf("extract %s: refusing to write through a symbolic link from the archive", name)
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, mode|0o700); err != nil {
				return files, fmt.Errorf("extract %s: %w", name, err)
			}
			dirs = append(dirs, dirTime{target, hdr.ModTime})
		case tar.TypeReg:
			if err := writeMember(target, tr, mode); err != nil {
				return files, fmt.Errorf("extract %s: %w", name, err)
			}
			_ = os.Chtimes(target, hdr.ModTime, hdr.ModTime)
			files++
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return files, fmt.Errorf("extract %s: %w", name, err)
			}
			_ = os.Remove(target)
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return files, fmt.Errorf("extract %s: %w", name, err)
			}
			links[target] = true
		}
	}
	for _, d := range dirs {
		_ = os.Chtimes(d.path, d.t, d.t)
	}
	return files, nil
}

func writeMember(target string, r io.Reader, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	// Replace rather than write into: the old file may be a link or
	// read-only.
	_ = os.Remove(target)
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		if isCorruptRead(err) {
			return fmt.Errorf("%w: %v", errCorrupt, err)
		}
		return err
	}
	return f.Close()
}

// isCorruptRead tells a decompression failure from a failure to write.
func isCorruptRead(err error) bool {
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, tar.ErrHeader)
}

// throughLink reports whether target is below a link the archive made.
func throughLink(target string, links map[string]bool) bool {
	for d := filepath.Dir(target); d != filepath.Dir(d); d = filepath.Dir(d) {
		if links[d] {
			return true
		}
	}
	return false
}
