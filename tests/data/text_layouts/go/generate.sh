#!/bin/sh
# Writes ../go_layouts.log with Debian's Go 1.19 (golang-go) and its packaged libraries
# (golang-golang-x-exp-dev for slog, golang-github-sirupsen-logrus-dev), in GOPATH mode.
# The std log lines are in UTC (log.LUTC); slog and logrus write the writer's offset (+03:00).
set -e
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cp "$here/main.go" "$work/"
cd "$work"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/cache" TZ=Europe/Moscow go run main.go > "$here/../go_layouts.log"
rm -rf "$work"
