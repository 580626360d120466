//go:build tools

// Package tools pins the Go binaries this project builds into .tools/bin.
// `make tools` builds them; versions are pinned in go.mod / go.sum.
package tools

import (
	_ "github.com/crossplane/cli/v2/cmd/crossplane"
	_ "github.com/crossplane/crossplane/v2/cmd/crossplane"
)
