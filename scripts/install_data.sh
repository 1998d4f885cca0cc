#!/usr/bin/env bash
# Installs the real data that does not come inside a wheel (see shared/DATA.md):
#   - Debian's Asterisk English prompts (audio + transcripts) and espeak-ng, for speech;
#   - the vaderSentiment 3.3.2 source archive (tweets and movie snippets with human sentiment scores).
# Run by `make install`; every step is skipped when its data is already there.
set -euo pipefail
DATA_DIR="${LSTMKIT_DATA:-$HOME/.cache/lstmkit/data}"
mkdir -p "$DATA_DIR"

need_apt=()
[ -d /usr/share/asterisk/sounds/en_US_f_Allison ] || need_apt+=(asterisk-core-sounds-en-wav)
[ -f /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz ] || need_apt+=(asterisk-core-sounds-en)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: install ${need_apt[*]} (Debian) for the speech data" >&2
  fi
fi

if [ ! -f "$DATA_DIR/vaderSentiment-3.3.2.tar.gz" ]; then
  tmp="$(mktemp -d)"
  .venv/bin/pip download -q --no-deps --no-binary :all: vaderSentiment==3.3.2 -d "$tmp"
  mv "$tmp/vaderSentiment-3.3.2.tar.gz" "$DATA_DIR/"
  rm -rf "$tmp"
fi
