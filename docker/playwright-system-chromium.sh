#!/bin/sh
# Makes the Playwright CLI (and chromium.launch() in scripts) use Debian's Chromium.
# Playwright looks for its pinned builds under $PLAYWRIGHT_BROWSERS_PATH as
#   chromium-<rev>/chrome-linux64/chrome                       (headed, channel "chromium")
#   chromium_headless_shell-<rev>/chrome-headless-shell-linux64/chrome-headless-shell (headless)
# (…-linux-arm64 on arm64) with <rev> from playwright-core/browsers.json; each becomes a
# link to /usr/bin/chromium. supervisor/src/claude/system-chromium.ts does the same at
# run time outside the image.
# The Dockerfile then takes a real screenshot, so a layout change in a new Playwright
# fails the build instead of the agent's first screenshot.
set -eu
browsers_json=${1:?usage: playwright-system-chromium.sh path/to/playwright-core/browsers.json}
root=${PLAYWRIGHT_BROWSERS_PATH:?PLAYWRIGHT_BROWSERS_PATH must be set}
chromium=${SYSTEM_CHROMIUM:-/usr/bin/chromium}

revision() {
  node -e '
    const [file, name] = process.argv.slice(1);
    const entry = JSON.parse(require("fs").readFileSync(file, "utf8")).browsers.find((b) => b.name === name);
    if (!entry) { console.error(`no ${name} in ${file}`); process.exit(1); }
    console.log(entry.revision);
  ' "$browsers_json" "$1"
}

link() { # link DIR EXECUTABLE
  mkdir -p "$root/$1/$(dirname "$2")"
  ln -sfn "$chromium" "$root/$1/$2"
  # Without these markers Playwright re-checks host libraries and tries to write them,
  # which a non-root agent cannot do in this root-owned folder.
  : > "$root/$1/INSTALLATION_COMPLETE"
  : > "$root/$1/DEPENDENCIES_VALIDATED"
  echo "playwright: $root/$1/$2 -> $chromium"
}

case $(uname -m) in
  aarch64|arm64) suffix=linux-arm64 ;;
  *) suffix=linux64 ;;
esac

test -x "$chromium" || { echo "playwright-system-chromium: $chromium is missing" >&2; exit 1; }
# Assignments, so that `set -e` stops on a failed lookup.
chromium_rev=$(revision chromium)
shell_rev=$(revision chromium-headless-shell)
link "chromium-$chromium_rev" "chrome-$suffix/chrome"
link "chromium_headless_shell-$shell_rev" "chrome-headless-shell-$suffix/chrome-headless-shell"
