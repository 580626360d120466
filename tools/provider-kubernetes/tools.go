//go:build tools

// The control-plane e2e's provider-kubernetes (make e2e-provider-kubernetes), run against the
// test's API server. Its own module: the provider's dependency graph would move Crossplane's.
package tools

import _ "github.com/crossplane-contrib/provider-kubernetes/cmd/provider"
