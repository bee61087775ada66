#!/usr/bin/env bash
# Installs the Debian packages yidan's tests and charts need, once.
# chromium: browser tests (Playwright drives the system's Chromium; no browser download).
# fonts-noto-cjk: Chinese characters in charts and rendered workbooks.
# openjdk-17-jre-headless: Spark in local mode (only if no java is on the machine).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-noto-cjk fontconfig)
# Java for the Spark engine's tests (local mode)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "需要安装系统软件包：${need[*]}（请以 root 运行或用 sudo apt-get install 安装）" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
