#!/usr/bin/env bash
# Fetch the two Debian packages that carry the plugin's offline datasets, without
# installing them system-wide: `apt-get download` (no root needed) + `dpkg -x`.
#
#   dataset-fashion-mnist   -> FashionMNISTDataset (the 4 original idx .gz files)
#   fonts-noto-color-emoji  -> NotoEmojiDataset (the CBDT bitmaps of NotoColorEmoji.ttf)
#
# Usage: tools/fetch_offline_data.sh   (tools/install.sh calls it)
# Environment: MSG_DATA_DIR (default ~/.cache/msg_plugin/offline_data): the cache the
# packages are extracted into, keeping their own layout (usr/share/...).
#
# Idempotent: a package whose files are already there (in the cache, or installed
# system-wide by apt-get) is skipped. When a download fails and this runs as root (a
# fresh machine has no package lists yet), it runs `apt-get update` once and retries.
# Never fails the caller: without apt-get, or when a download still fails, it says which
# dataset is unavailable and how to get it, and exits 0.
set -uo pipefail

dest=${MSG_DATA_DIR:-$HOME/.cache/msg_plugin/offline_data}
[[ $dest = /* ]] || dest=$PWD/$dest  # the downloads run in a temporary folder
hint='apt-get install dataset-fashion-mnist fonts-noto-color-emoji'

# package=version | dataset class | folder | the files the dataset reads there
fm_files="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz"
fm_files+=" t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"
entries=(
    "dataset-fashion-mnist=0.0~git20200523.55506a9-1|FashionMNISTDataset|usr/share/datasets/fashion-mnist|$fm_files"
    "fonts-noto-color-emoji=2.042-0+deb12u1|NotoEmojiDataset|usr/share/fonts/truetype/noto|NotoColorEmoji.ttf"
)

have_all() {  # have_all FOLDER FILE...: all the files are there
    local folder=$1 file
    shift
    for file in "$@"; do [ -f "$folder/$file" ] || return 1; done
}

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    echo "msg_plugin: apt-get/dpkg not found, so FashionMNISTDataset and NotoEmojiDataset" \
         "will not be available. On Debian/Ubuntu run \`$hint\`, or point the datasets" \
         "at copies of the files (data_root= / MSG_FASHION_MNIST, font_path= / MSG_NOTO_EMOJI)."
    exit 0
fi

updated=no
download() {  # download() PKG=VERSION: the .deb into the current folder
    apt-get download -q "$1" >>log 2>&1 && return 0
    [ "$updated" = no ] && [ "$(id -u)" = 0 ] || return 1
    updated=yes
    echo "msg_plugin: apt-get download $1 failed; refreshing the package lists (apt-get update)"
    apt-get update -qq >>log 2>&1 && apt-get download -q "$1" >>log 2>&1
}

for entry in "${entries[@]}"; do
    IFS='|' read -r pkgver dataset folder files <<<"$entry"
    read -ra files <<<"$files"
    pkg=${pkgver%%=*}
    stamp="$dest/.extracted-${pkgver//[^A-Za-z0-9._+-]/_}"
    if [ -f "$stamp" ] && have_all "$dest/$folder" "${files[@]}"; then
        echo "msg_plugin: $pkg already extracted in $dest"
        continue
    fi
    if have_all "/$folder" "${files[@]}"; then
        echo "msg_plugin: $pkg is installed system-wide (/$folder), nothing to fetch"
        continue
    fi
    work=$(mktemp -d "${TMPDIR:-/tmp}/msg_fetch.XXXXXX")
    # As root, apt-get downloads through its _apt sandbox user, which must be able to
    # write the folder it downloads into.
    chmod 777 "$work"
    cd "$work"
    if download "$pkgver" &&
        mkdir -p "$dest" && dpkg -x "$work"/"$pkg"_*.deb "$dest" 2>>"$work/log" &&
        have_all "$dest/$folder" "${files[@]}"; then
        touch "$stamp"
        echo "msg_plugin: fetched $pkgver ($(du -sh "$work"/*.deb | cut -f1) .deb)," \
             "extracted into $dest"
    else
        echo "msg_plugin: could not fetch $pkgver, so $dataset will not be available" \
             "(apt-get said: $(grep -v "^$" "$work/log" | tail -n 1))." \
             "Fix: run \`apt-get update\` and rerun tools/install.sh, or \`$hint\`."
    fi
    cd - >/dev/null
    rm -rf "$work"
done
exit 0
