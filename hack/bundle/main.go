// Command bundle writes ipkeeper's OLM registry+v1 bundle: bundle/manifests
// (the ClusterServiceVersion, the CRDs and the few extra objects the install
// needs), bundle/metadata, bundle/tests/scorecard and bundle.Dockerfile.
//
// Everything that config/ already says (the manager Deployment, RBAC,
// webhooks, CRDs, metrics Service) is read from there, so the bundle cannot
// drift from the kustomize install; what only a person can write (the
// description, descriptors, icon, examples) lives in hack/bundle/base. The
// output depends on the flags and the files only, never on the clock, so
// `make verify` can regenerate it and fail on any difference.
//
//	go run ./hack/bundle -version 0.1.0 -image ghcr.io/ipkeeper/ipkeeper:v0.1.0 \
//	    -created-at 2026-11-26T00:00:00Z
//
// `make bundle` runs it with the Makefile's VERSION, BUNDLE_OPERATOR_IMG and
// BUNDLE_CREATED_AT.
package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"time"

	"github.com/blang/semver/v4"
)

// options are the command-line flags.
type options struct {
	configDir  string
	outDir     string
	dockerfile string
	version    semver.Version
	image      string
	createdAt  string
}

func parseFlags() (options, error) {
	var o options
	var version string
	flag.StringVar(&o.configDir, "config", "config", "The kustomize tree to build the bundle from.")
	flag.StringVar(&o.outDir, "out", "bundle", "Directory to write the bundle to; its manifests, metadata and tests are replaced.")
	flag.StringVar(&o.dockerfile, "dockerfile", "bundle.Dockerfile", "Where to write the bundle image's Dockerfile.")
	flag.StringVar(&version, "version", "", "The operator's semantic version, e.g. 0.1.0 (required).")
	flag.StringVar(&o.image, "image", "", "The fully qualified operator image the bundle installs (required).")
	flag.StringVar(&o.createdAt, "created-at", "", "The CSV's createdAt, RFC 3339 (required; fixed, so the output is reproducible).")
	flag.Parse()
	if version == "" || o.image == "" || o.createdAt == "" {
		return o, errors.New("-version, -image and -created-at are required (make bundle sets them)")
	}
	v, err := semver.Parse(version)
	if err != nil {
		return o, fmt.Errorf("parse -version: %w", err)
	}
	o.version = v
	if _, err := time.Parse(time.RFC3339, o.createdAt); err != nil {
		return o, fmt.Errorf("parse -created-at: %w", err)
	}
	return o, nil
}

func main() {
	o, err := parseFlags()
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	src, err := loadSources(o.configDir)
	if err != nil {
		return err
	}
	b, err := loadBase()
	if err != nil {
		return err
	}
	csv, err := buildCSV(src, b, o)
	if err != nil {
		return err
	}
	files, err := manifestFiles(src, csv)
	if err != nil {
		return err
	}
	meta, err := metadataFiles()
	if err != nil {
		return err
	}
	maps.Copy(files, meta)
	if err := writeBundle(o.outDir, files); err != nil {
		return err
	}
	return os.WriteFile(o.dockerfile, dockerfile(o.outDir), 0o644)
}
