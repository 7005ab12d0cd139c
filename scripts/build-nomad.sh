#!/usr/bin/env bash
# Builds Nomad 1.6.0 (MPL-2.0, the last open-source release) from the Go module
# proxy into bin/nomad. The module's go.mod replaces ./api, which the module zip
# lacks, so the build drops that replace and pins the api module that 1.6.0
# shipped with (see DESIGN.md, "Nomad has no stand-in").
set -euo pipefail

VERSION=1.6.0
API_VERSION=v0.0.0-20230718173136-3a687930bd3e
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/bin/nomad}"

if [[ -x "$OUT" ]] && "$OUT" version 2>/dev/null | grep -q "Nomad v$VERSION"; then
  exit 0
fi

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "building Nomad $VERSION from the Go module proxy (a few minutes on first run)" >&2
dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/hashicorp/nomad@v$VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
go mod edit -dropreplace=github.com/hashicorp/nomad/api
go mod edit -require="github.com/hashicorp/nomad/api@$API_VERSION"
GOFLAGS=-mod=mod go build -trimpath -o "$OUT.tmp" .
mv "$OUT.tmp" "$OUT"
"$OUT" version >&2
