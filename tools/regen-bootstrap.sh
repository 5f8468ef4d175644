#!/usr/bin/env bash
# Regenerates lib/amqp/generated/ without building the project first (for when
# the generated files themselves do not compile). Normal use: npm run codegen.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx tsc tools/amqp-codegen.ts --outDir "$out" --module nodenext --target es2022 --types node --skipLibCheck
cp package.json "$out/"
node "$out/amqp-codegen.js" "$@"
