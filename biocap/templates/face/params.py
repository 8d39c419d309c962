"""Every parameter of the face pipeline (detection, landmarks, quality, token image), each with the
one-line reason for its value. The history of what was tried is in docs/decisions/18-*.md."""
from __future__ import annotations

# --- detection (dlib's HOG frontal detector + 5-point shape predictor) ----------------------------
#: longest side the first, fast detection pass works at: a desk camera's face fills a good part of
#: the frame, and the HOG detector finds faces of 80 px and more, so 320 px finds faces of 1/4 frame
DETECT_COARSE_SIDE = 320
#: longest side of the second pass, run only when the first found nothing (smaller faces: 1/8 frame)
DETECT_FINE_SIDE = 640
#: HOG detector score below which a window is not a face (dlib's own default threshold is 0)
DETECT_MIN_SCORE = 0.0
#: a second face counts only when its box is at least this fraction of the largest face's width:
#: tiny detections in the background (posters, people far behind) are not a second subject
SECOND_FACE_MIN_RATIO = 0.5
#: images smaller than this (either side) cannot hold a face the landmarks can be trusted on
MIN_IMAGE_SIDE = 32

# --- head model (anthropometric ratios to the distance between the eye centres, IED) ---------------
#: subnasale (the 5-point model's nose point) below the eye line, in IED: ~47 mm / 63 mm adult mean
NOSE_DROP = 0.75
#: depth of the subnasale in front of the eye-corner plane, in IED: ~28 mm (subnasale to the eye corners) / 63 mm
NOSE_DEPTH = 0.45
#: chin-to-crown height in IED (ICAO head height ~ 225 mm for a 63 mm IED)
HEAD_HEIGHT = 3.6
#: ear-to-ear head width in IED (~150 mm / 63 mm)
HEAD_WIDTH = 2.4
#: crown above the eye line, in IED (~ 110 mm / 63 mm); the rest of HEAD_HEIGHT is below
CROWN_ABOVE_EYES = 1.75

# --- canonical face crop: every region measure runs on the eye-aligned crop ----------------------
#: IED in the canonical crop: large enough for eye and mouth structure, small enough to be cheap
CANON_IED = 64
#: canonical crop size (width, height) and where the eye midpoint sits in it
CANON_SIZE = (192, 240)
CANON_EYES_Y = 88

# --- component scoring (raw value -> 0-100); limits from ISO/IEC 19794-5 / ICAO 9303 where given --
#: inter-eye distance in pixels: 0 at 20 px (landmarks unreliable), 75 at the ISO/IEC 19794-5
#: minimum of 90 px for a full frontal image, 100 at ICAO's recommended 120 px
IED_POINTS = ((20.0, 0.0), (90.0, 75.0), (120.0, 100.0))
#: head height / image height: ICAO wants the head at 50-80 % of the photo's height; 0 at 15 %
#: (too far away) and at 110 % (cut off)
HEAD_SIZE_POINTS = ((0.15, 0.0), (0.5, 100.0), (0.8, 100.0), (1.1, 0.0))
#: smallest margin between the estimated head box and the image border, in head heights:
#: 0 when the head is cut by 10 % of its height, 100 with 10 % of free space
MARGIN_POINTS = ((-0.1, 0.0), (0.1, 100.0))
#: yaw / pitch / roll in degrees: 100 when frontal, 0 at 45 degrees; ISO/IEC 19794-5 frontal
#: images allow +-5 degrees (limit shown with the measure), ICAO +-8 degrees of roll
POSE_ZERO_DEG = 45.0
POSE_LIMITS_DEG = {"yaw": 5.0, "pitch": 5.0, "roll": 8.0}
#: sharpness = mean |Laplacian| / face std on the canonical crop; half score at this value
SHARPNESS_HALF = 0.12
#: face luminance mean (0-1): 100 over 0.35-0.65 (dark to light skin well exposed), 0 at 0.1 and
#: 0.95 (ISO/IEC 29794-5 favours a balanced exposure; OFIQ maps the mean through a similar tent)
LUM_MEAN_POINTS = ((0.1, 0.0), (0.35, 100.0), (0.65, 100.0), (0.95, 0.0))
#: face luminance standard deviation (0-1): 0 when flat (0.02), 100 at 0.12 and above
LUM_STD_POINTS = ((0.02, 0.0), (0.12, 100.0))
#: pass limits shown with the luminance measures (a face inside them is exposed acceptably); the
#: extractor's photometric normalisation brings a chip outside them back to them
LUM_MEAN_LIMITS = (0.3, 0.75)
LUM_STD_LIMIT = 0.06
#: grey levels at or below which a face pixel is under-exposed / at or above which over-exposed
UNDER_LEVEL, OVER_LEVEL = 25, 247
#: share of under- or over-exposed face pixels that gives a score of 0
EXPOSED_ZERO_SHARE = 0.3
#: dynamic range = entropy of the face's grey histogram in bits: 0 at 3 bits, 100 at 7.5
DYNAMIC_RANGE_POINTS = ((3.0, 0.0), (7.5, 100.0))
#: illumination uniformity = darker / brighter half-face mean: 0 at 0.4, 100 when equal
UNIFORMITY_POINTS = ((0.4, 0.0), (1.0, 100.0))
#: background clutter = mean gradient magnitude (grey levels / px at half resolution) around the
#: head; a plain wall gives ~1-2, a room ~10; score = 100 exp(-clutter / this)
BACKGROUND_SCALE = 8.0
#: eye openness = 1 - eye core (after a vertical closing) / skin below, the less open eye: a closed
#: lid is skin (synthetic closed lids: median 0.05), an open eye's iris is much darker (LFW ~0.5).
#: 50 at the 5th percentile of open eyes, 100 at their 95th, on the tuning subjects (Ariel Sharon,
#: Colin Powell, Donald Rumsfeld of lfw7x50; reported on the other four: docs/decisions/18-face-quality-response.md)
EYE_OPEN_POINTS = ((0.05, 0.0), (0.27, 50.0), (0.73, 100.0))
EYE_OPEN_LIMIT = 0.27
#: rows of the vertical closing in the eye core (canonical crop, IED 64 px): a lash line or lid
#: crease is 1-3 rows, an open eye's iris 9-13, so 5 fills the first and keeps the second
EYE_CLOSE_ROWS = 5
#: mouth opening: extent (IED units) of the dark band at the mouth clearly darker than the lips
MOUTH_OPEN_POINTS = ((0.08, 100.0), (0.35, 0.0))
#: a mouth pixel darker than this fraction of the skin reference belongs to an open mouth
MOUTH_DARK_FRACTION = 0.5
#: eyes not occluded = 1 - share of flat pixels around the less visible eye. Flat = gradient energy
#: under this fraction of the lower face's median: a cover's inside (noise of a few grey levels)
#: is far below it, an eye's lids, lashes and brow far above
EYES_FLAT_FRACTION = 0.3
#: half height, half width (IED) of the window around each eye: a cover pulls the landmarks onto
#: its edges, up to ~0.25 IED away; the window still holds the covered eye
EYES_WINDOW = (0.3, 0.4)
#: 50 at the 5th percentile of visible eyes, 100 at their 95th (tuning subjects as EYE_OPEN_POINTS);
#: a plain band over the eyes gives ~0.4
EYES_VISIBLE_POINTS = ((0.42, 0.0), (0.9, 50.0), (0.975, 100.0))
EYES_VISIBLE_LIMIT = 0.9
#: mouth not occluded = median gradient energy of the mouth region / the inner face's; a covered
#: region is flat (<0.25)
MOUTH_VISIBLE_POINTS = ((0.25, 0.0), (0.7, 100.0))
#: compression: blockiness = strongest 8-pixel-grid gradient / median of all phases; 1.0 for a
#: clean image, JPEG at quality 10 gives ~1.5+
BLOCKINESS_POINTS = ((1.08, 100.0), (1.45, 0.0))

#: weight of each component in the unified score (weighted geometric mean of the component
#: scores, floored at 1 so one zero does not hide the rest): what harms recognition most weighs most
UNIFIED_WEIGHTS = {
    "single_face": 3.0, "inter_eye_distance": 1.0, "head_size": 0.5, "crop": 0.5,
    "yaw": 1.5, "pitch": 1.0, "roll": 0.5, "sharpness": 1.5, "luminance_mean": 1.0,
    "luminance_variance": 0.5, "under_exposure": 0.5, "over_exposure": 0.5,
    "dynamic_range": 0.5, "illumination_uniformity": 0.5, "background_uniformity": 0.25,
    "eyes_open": 1.0, "mouth_closed": 0.5, "eyes_not_occluded": 1.5,
    "mouth_not_occluded": 1.0, "compression": 1.0,
}
#: a component scoring below this raises its operator feedback
FEEDBACK_BELOW = 50.0
