//go:build tools

// Package tools pins the control-plane binaries the e2e test runs (make e2e-tools).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
