#!/bin/sh
# Container entry point: fetch the model files into their volume on first start, then run the bot
# (`bot [--shards auto|N]`), a worker (`worker [--concurrency N]`) or any loralens command.
set -eu
if ! npm run --silent models -- --check >/dev/null 2>&1; then
  echo "loralens: model files missing or incomplete in /app/assets/models; running npm run models" >&2
  npm run --silent models
fi
command="${1:-bot}"
[ "$#" -gt 0 ] && shift
case "$command" in
  bot) exec node --import tsx src/bot/main.ts "$@" ;;
  worker) exec node --import tsx src/cli/main.ts worker "$@" ;;
  *) exec node --import tsx src/cli/main.ts "$command" "$@" ;;
esac
