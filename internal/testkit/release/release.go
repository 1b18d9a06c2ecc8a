// Package release builds the shortify binary of an earlier commit from
// the repository's git history, for upgrade tests: the commit's tree
// (git archive) and `go build ./cmd/shortify` in it, kept in a cache
// directory keyed by the commit's hash so that a second run reuses it (a
// cold build takes minutes). The tree stays beside the binary, because a
// release runs with its own role Caddyfiles (deploy/caddyfiles).
package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Release is one build of shortify.
type Release struct {
	// Commit is the full hash it was built from; empty for the working
	// tree (whose binary testenv.Shortify builds).
	Commit string
	// Binary is the shortify binary.
	Binary string
	// Source is the source tree it was built from.
	Source string
}

// Caddyfiles is the release's directory of role Caddyfiles.
func (r Release) Caddyfiles() string { return filepath.Join(r.Source, "deploy", "caddyfiles") }

// binaryName and sourceName are a cached release's entries in its
// directory.
const (
	binaryName = "shortify"
	sourceName = "src"
)

var fullHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

// CacheDir is where Build keeps releases: SHORTIFY_RELEASE_CACHE when set,
// else shortify-upgrade under the user's cache directory
// (os.UserCacheDir: ~/.cache on Linux).
func CacheDir() (string, error) {
	if d := os.Getenv("SHORTIFY_RELEASE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("release cache: %w", err)
	}
	return filepath.Join(d, "shortify-upgrade"), nil
}

// Build returns the release of commit (a full 40-digit hash) from the git
// repository at repo, building it into cache/<commit> unless a previous
// run did. A commit the repository lacks (a shallow clone) is an error
// that says how to fetch it. Concurrent builds of one commit are safe:
// each builds in a directory of its own and the first to finish is kept.
func Build(ctx context.Context, repo, cache, commit string) (Release, error) {
	if !fullHash.MatchString(commit) {
		return Release{}, fmt.Errorf("release: %q is not a full commit hash (40 hex digits)", commit)
	}
	dir := filepath.Join(cache, commit)
	r := Release{Commit: commit, Binary: filepath.Join(dir, binaryName), Source: filepath.Join(dir, sourceName)}
	if _, err := os.Stat(r.Binary); err == nil {
		return r, nil
	}
	if err := hasCommit(ctx, repo, commit); err != nil {
		return Release{}, err
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Release{}, fmt.Errorf("release cache: %w", err)
	}
	tmp, err := os.MkdirTemp(cache, commit[:12]+".building-")
	if err != nil {
		return Release{}, fmt.Errorf("release cache: %w", err)
	}
	defer os.RemoveAll(tmp) // empty after a successful rename
	if err := extract(ctx, repo, commit, filepath.Join(tmp, sourceName)); err != nil {
		return Release{}, err
	}
	if err := goBuild(ctx, filepath.Join(tmp, sourceName), filepath.Join(tmp, binaryName)); err != nil {
		return Release{}, fmt.Errorf("release %s: %w", commit[:12], err)
	}
	// The directory appears whole or not at all; another run that
	// finished first has put an equal build there already.
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(r.Binary); serr == nil {
			return r, nil
		}
		return Release{}, fmt.Errorf("release cache: %w", err)
	}
	return r, nil
}

// hasCommit fails, saying how to fetch it, unless repo holds commit.
func hasCommit(ctx context.Context, repo, commit string) error {
	_, err := run(ctx, repo, "git", "cat-file", "-e", commit+"^{commit}")
	if err == nil {
		return nil
	}
	shallow, _ := run(ctx, repo, "git", "rev-parse", "--is-shallow-repository")
	hint := "fetch it: git fetch origin " + commit
	if strings.TrimSpace(shallow) == "true" {
		hint = "this is a shallow clone; fetch the history: git fetch --unshallow (or git fetch --depth=1 origin " + commit + ")"
	}
	return fmt.Errorf("release: commit %s is not in the repository at %s; %s: %w", commit, repo, hint, err)
}

// extract writes commit's tree into dst (git archive | tar -x).
func extract(ctx context.Context, repo, commit, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "archive", "--format=tar", commit)
	archive.Dir = repo
	tar := exec.CommandContext(ctx, "tar", "-x", "-C", dst)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	tar.Stdin = pipe
	var aerr, terr bytes.Buffer
	archive.Stderr, tar.Stderr = &aerr, &terr
	if err := tar.Start(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	if err := archive.Run(); err != nil {
		_ = tar.Wait()
		return fmt.Errorf("git archive %s: %w: %s", commit, err, aerr.Bytes())
	}
	if err := tar.Wait(); err != nil {
		return fmt.Errorf("tar -x: %w: %s", err, terr.Bytes())
	}
	return nil
}

// goBuild builds ./cmd/shortify of the module at src into out. An
// archived tree has no .git, so version control stamping is off.
func goBuild(ctx context.Context, src, out string) error {
	if _, err := run(ctx, src, "go", "build", "-buildvcs=false", "-o", out, "./cmd/shortify"); err != nil {
		return fmt.Errorf("go build ./cmd/shortify: %w", err)
	}
	return nil
}

// run runs name with args in dir and returns its standard output; the
// error carries its standard error.
func run(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", err
		}
		return "", errors.Join(err, errors.New(msg))
	}
	return stdout.String(), nil
}
