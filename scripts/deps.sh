#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages a task needs, but only those missing.
#   scripts/deps.sh chat|gui|test      install what is missing (sudo when not root)
#   scripts/deps.sh --list chat|gui|test   print the package names only
set -euo pipefail

packages() {
  case "$1" in
    # The server and the terminal client need only a C linker.
    chat) echo "gcc libc6-dev" ;;
    # druid builds against GTK 3; the Noto fonts draw emoji and Chinese,
    # Japanese and Korean text that DejaVu alone shows as empty boxes.
    gui) echo "gcc libc6-dev pkg-config libgtk-3-dev fonts-noto-color-emoji fonts-noto-cjk" ;;
    # GUI tests run a real window under Xvfb, drive it with xdotool and
    # capture it with ImageMagick; REPL tests drive a real terminal in tmux;
    # server tests signal it with kill(1), which procps provides; the IRC
    # gateway is tested with a real irssi in tmux and a real WeeChat
    # (headless, driven through its FIFO, which is in weechat-plugins: apt
    # only recommends it); the cluster with a real
    # redis-server per test; the web client in a real headless Chromium
    # driven through WebDriver (chromedriver); the GUI's font test draws
    # emoji with the gui list's fonts; chat-bench loads ngIRCd with the
    # same IRC traffic as chat-server (`chat-bench ircd`).
    test) echo "gcc libc6-dev pkg-config libgtk-3-dev xvfb xauth xdotool imagemagick fonts-dejavu-core fonts-noto-color-emoji fonts-noto-cjk tmux procps irssi weechat-headless weechat-plugins redis-server chromium chromium-driver ngircd" ;;
    *) echo "usage: scripts/deps.sh [--list] chat|gui|test" >&2; exit 2 ;;
  esac
}

if [ "${1:-}" = "--list" ]; then
  packages "${2:-}"
  exit 0
fi

missing=()
for pkg in $(packages "${1:-}"); do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing packages: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
