package migrations

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Create writes the next migration file in the folder dir (creating the folder if needed),
// as `wrangler d1 migrations create` does: the number is one more than the highest number in
// dir, padded to four digits; spaces in name become '_'; the file holds only wrangler's
// header line, "-- Migration number: NNNN \t <time>", with the time in UTC in JavaScript's
// toISOString form. It returns the new file's path, and never overwrites a file.
func Create(dir, name string) (string, error) {
	return create(dir, name, time.Now())
}

func create(dir, name string, now time.Time) (string, error) {
	label := strings.ReplaceAll(name, " ", "_")
	if strings.ContainsAny(label, `/\`) {
		return "", fmt.Errorf("migrations: create: the name %q holds a path separator", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("migrations: create: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("migrations: create: %w", err)
	}
	var highest int64
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".sql") {
			continue
		}
		num, _, err := ParseName(n)
		if err != nil {
			return "", fmt.Errorf("migrations: create: in %s: %w", dir, err)
		}
		highest = max(highest, num)
	}
	number := fmt.Sprintf("%04d", highest+1)
	file := number + "_" + label + ".sql"
	if _, _, err := ParseName(file); err != nil {
		return "", fmt.Errorf("migrations: create: %w", err)
	}
	path := filepath.Join(dir, file)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("migrations: create: %s already exists", path)
	}
	if err != nil {
		return "", fmt.Errorf("migrations: create: %w", err)
	}
	header := "-- Migration number: " + number + " \t " + now.UTC().Format("2006-01-02T15:04:05.000Z") + "\n"
	if _, err := f.WriteString(header); err != nil {
		f.Close()
		return "", fmt.Errorf("migrations: create: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("migrations: create: %w", err)
	}
	return path, nil
}
