#!/usr/bin/env bash
# Builds the Consul agent used by the integration tests from the Go module proxy
# into a cache directory outside the clone, once. Prints the binary's path.
set -euo pipefail

version="${CONSUL_VERSION:-1.14.5}"
cache="${GRPCKIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/grpckit}"
bin="$cache/consul-$version/consul"

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/consul-build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "building consul v$version into $bin (first run only)" >&2
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/consul@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "build-consul: module download failed" >&2; exit 1; }

cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
go mod edit -dropreplace=github.com/hashicorp/consul/api \
  -dropreplace=github.com/hashicorp/consul/sdk \
  -dropreplace=github.com/hashicorp/consul/proto-public
mkdir -p "$(dirname "$bin")"
GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" .
mv "$bin.tmp" "$bin"
echo "$bin"
