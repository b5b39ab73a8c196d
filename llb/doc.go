// Package llb turns resolved SDKs into BuildKit LLB. It is pure: it performs
// no network access and knows nothing of the gateway client, so everything
// here can be tested by marshalling states without a daemon.
//
// An SDK image is FROM scratch with one layer. Two layouts exist, and Tree
// handles both without knowing in advance which one it gets:
//
//   - the layer holds one *.tar.gz or *.tgz (sdk.tar.gz, or Oryx's
//     python-bookworm-3.11.9.tar.gz), which is unpacked;
//   - the layer is itself the SDK tree, which is copied as it is.
//
// The image is pinned by digest, so BuildKit pulls the layer lazily through
// its content store and verifies it; nothing is fetched while the steps that
// use it are cached.
package llb
