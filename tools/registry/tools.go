//go:build tools

// The control-plane e2e's OCI registry (make e2e-registry), serving the packages make package
// builds. Its own module: distribution's dependency graph would move Crossplane's.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
