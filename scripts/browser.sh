# Sourced by scripts/test.sh: what the browser tests (chromedp, in Go) need.
#   browser_install   Debian's chromium (as root) and, from npm, axe-core
#                     (scripts/browser/package-lock.json pins it)
# It exports ORBIT_CHROMIUM and ORBIT_AXE_JS for shared/testenv/browser.

BROWSER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/browser"

browser_install() {
  if ! command -v chromium >/dev/null; then
    if [[ $(id -u) != 0 ]]; then
      echo "chromium is required for the browser tests: apt-get install chromium (as root)" >&2
      return 1
    fi
    echo "installing chromium (Debian package) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
  fi
  if [[ ! -f "$BROWSER_DIR/node_modules/axe-core/axe.min.js" ]]; then
    command -v npm >/dev/null || { echo "npm is required to install axe-core for the browser tests" >&2; return 1; }
    (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --silent)
  fi
  export ORBIT_CHROMIUM="$(command -v chromium)"
  export ORBIT_AXE_JS="$BROWSER_DIR/node_modules/axe-core/axe.min.js"
}
