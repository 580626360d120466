//go:build tools

// Package tools pins the etcd server the e2e test runs (make e2e-tools).
package tools

import _ "go.etcd.io/etcd/server/v3"
