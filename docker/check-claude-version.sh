#!/bin/sh
# Fails the image build unless the Claude Code CLI on PATH is the version package.json pins
# (docs/claude-cli.md describes that version's behaviour, and the tests ran against it).
# Usage: check-claude-version.sh /app/package.json
set -eu
package_json="$1"
pinned="$(node -e 'process.stdout.write(require(process.argv[1]).dependencies["@anthropic-ai/claude-code"] || "")' "$package_json")"
installed="$(claude --version)"
if [ -z "$pinned" ] || [ "$installed" != "$pinned (Claude Code)" ]; then
  echo "claude --version says '$installed'; package.json pins '$pinned'" >&2
  exit 1
fi
echo "claude $pinned, as pinned"
