"""Every tuned parameter of the fingerprint minutiae extractor, by stage, one line of reason each.

Lengths named "px" are pixels at the working resolution (`biocap.imaging.EXTRACTION_PPI`; the
values were set at 500 ppi, hence "px at 500 ppi" in the stage modules); lengths named PERIODS are
multiples of the finger's ridge wavelength. How the values were chosen, with figures and the
variants rejected: docs/decisions/15-fingerprint-extractor-parameters.md.
"""
from __future__ import annotations

import numpy as np

# --- pipeline -------------------------------------------------------------------------------
#: working images smaller than this on a side hold no usable print: an empty template
MIN_WORKING_SIDE = 32
#: foreground pixels below which nothing is extracted (~3.3 mm square cannot hold a minutiae set)
MIN_FOREGROUND_PX = 4096
#: background kept around the foreground's bounding box (keeps the widest smoothing off the cut)
CROP_MARGIN = 40

# --- resolution -----------------------------------------------------------------------------
#: longest working side accepted (a four-finger slap is about 1,800 x 1,700): bounds memory
MAX_WORKING_SIDE = 4096
#: ridge periods (working px) the pixel constants below were tuned over: 5th-95th percentile of the
#: tuned-on FVC2002 prints; a print measured outside is resampled to the nearer end, then extracted
PERIOD_RANGE = (7.6, 11.2)
#: only a period more than this fraction outside the range is resampled: one finger's estimate
#: varies by up to ~10% across impressions, so impressions near a bound stay on one side of it
PERIOD_MARGIN = 0.1

# --- segmentation ---------------------------------------------------------------------------
#: block side the foreground is judged on: about one ridge period
SEGMENT_BLOCK = 8
#: grey-level deviation below which no block is foreground (blank images come out empty)
SEGMENT_MIN_STD = 6.0
#: threshold as a fraction of the 90th-percentile block deviation: faint finger parts still count
SEGMENT_RELATIVE_STD = 0.15
#: besides the largest region keep those at least this fraction of it (a crease cuts a finger)
SEGMENT_KEEP_FRACTION = 0.1
#: a foreground region smaller than this many blocks (1024 px^2) is not a finger
SEGMENT_MIN_AREA_BLOCKS = 16
#: flow coherence a foreground block needs (white noise ~0.15, fingers 0.4-0.9)
FOREGROUND_MIN_COHERENCE = 0.22
#: smoothing (blocks) of the block coherence before that test: single noisy blocks do not cut holes
FOREGROUND_COHERENCE_SIGMA = 1.0

# --- normalization --------------------------------------------------------------------------
#: width of the local mean and deviation: about one ridge period, averages a ridge and a valley
NORMALIZE_SIGMA = 8.0
#: the smooth statistics are computed at 1/NORMALIZE_COARSE resolution (ten times cheaper)
NORMALIZE_COARSE = 4
#: floor of the local deviation (grey levels): flat areas are not blown up into noise
NORMALIZE_MIN_DEVIATION = 2.0

# --- orientation ----------------------------------------------------------------------------
#: gradient averaging window of the structure tensor: a bit under a ridge period
TENSOR_SIGMA = 7.0
#: second, coherence-weighted smoothing of the field: noisy spots borrow from clear neighbours
ORIENTATION_SMOOTH_SIGMA = 12.0

# --- frequency ------------------------------------------------------------------------------
#: human ridge periods lie inside this range (px): the estimate is clipped to it
MIN_WAVELENGTH, MAX_WAVELENGTH = 5.0, 16.0
#: the wavelength when the foreground is too small or the spectrum has no peak
DEFAULT_WAVELENGTH = 9.0
#: side of the centred crop the spectrum is taken on: enough bins, fast
FFT_SIDE = 256
#: the mask is eroded by this much, then blurred with this sigma (a hard edge swamps the peak)
MASK_TAPER = 4
#: foreground pixels below which the spectrum is not trusted (the default wavelength is used)
FREQUENCY_MIN_AREA = 64

# --- enhancement ----------------------------------------------------------------------------
#: Gabor bank orientations; each pixel blends the two nearest, so there are no seams
N_ORIENTATIONS = 8
#: wavelengths tried relative to the finger's global one: each pixel keeps its strongest response
WAVELENGTH_SCALES: tuple[float, ...] = (0.85, 1.0, 1.18)
#: Gabor envelope width per wavelength: best bozorth3 EER on FVC2002 among 0.3-0.5
SIGMA_PER_WAVELENGTH = 0.4
#: longer envelope blended in where the flow is unclear; 0 = off (mixed across matchers)
NOISY_SIGMA_PER_WAVELENGTH = 0.0
#: coherence range over which that longer envelope takes over (unused while it is off)
UNCLEAR_RANGE = (0.35, 0.6)
#: half-resolution pixels above which the bank is accumulated, not kept whole: memory stays flat
BANK_PIXELS_LIMIT = 1 << 20

# --- binarization ---------------------------------------------------------------------------
#: ridge blobs or valley holes smaller than this (px) are specks, not structure
MIN_BLOB = 20

# --- minutiae -------------------------------------------------------------------------------
#: window (px) whose own-ridge pixels decide a minutia's sense: about one ridge period
SENSE_RADIUS = 10
#: shifts along the minutia direction (periods) to the ISO/IEC 19794-2 placement: an ending at the
#: valley fork ahead of the ridge tip, a bifurcation at the ridge fork (median offsets to mindtct)
ENDING_SHIFT, BIFURCATION_SHIFT = -0.14, 0.2

# --- filtering ------------------------------------------------------------------------------
#: rejects still written to the template and its records (the interoperable minutiae other
#: matchers read; biocap-mcc skips them by `template.MATCHER_SUBSET_BLOCK`): bozorth3 needs them
INTERCHANGE_KEEPS = ("cluster", "crowd")
#: border rejects at least this far inside the outline (periods) are written to records too;
#: = BORDER_PERIODS: none (0.6 helped bozorth3 on FVC2002 DB1 only, hurt it on three other sets)
INTERCHANGE_BORDER_PERIODS = 0.8
#: spur length limit (periods); 0 = off: the graph rules raised the bozorth3 EER (classic 1.2)
SPUR_PERIODS = 0.0
#: island length limit (periods); 0 = off, as spurs (classic 2.5)
ISLAND_PERIODS = 0.0
#: bridge length limit (periods); 0 = off, as spurs (classic 1.5)
BRIDGE_PERIODS = 0.0
#: facing-endings distance limit (periods); 0 = off, as spurs (classic 2.0)
BREAK_PERIODS = 0.0
#: how far off the joining line two endings may point and still count as a broken ridge
BREAK_ANGLE = np.deg2rad(45)
#: minutiae closer than this to the outline (periods) are cut by the finger's edge
BORDER_PERIODS = 0.8
#: pairs closer than this (periods) where the flow is unclear: noise makes crowded false pairs
CLUSTER_PERIODS = 0.8
#: the same where the flow is clear: close true pairs (short ridges, lakes) survive
CLEAR_CLUSTER_PERIODS = 0.5
#: coherence from which the flow counts as clear for the cluster rule
CLUSTER_CLEAR_COHERENCE = 0.8
#: neighbourhood (periods) of the crowd rule
CROWD_PERIODS = 2.0
#: more than this many other minutiae within CROWD_PERIODS: a noisy patch
CROWD_LIMIT = 4
#: coherence below which a minutia is unclear; 0.15 lost true minutiae on noisy prints
MIN_COHERENCE = 0.08

# --- quality --------------------------------------------------------------------------------
#: coherence at and above which the flow around a minutia counts as fully clear
QUALITY_CLEAR_COHERENCE = 0.7
#: distance from the outline (periods) at and beyond which a minutia takes no edge penalty
SAFE_PERIODS = 3.0
#: a minutia on the outline keeps this share of its clarity score
EDGE_FLOOR = 0.5

# --- singular points ------------------------------------------------------------------------
#: grid (px) the Poincare index is taken on
SINGULAR_GRID = 8
#: smoothing of the field on that grid (cells; 16 px): noise makes spurious singularities
SINGULAR_SMOOTH_SIGMA = 2.0
#: a singularity closer than this (px) to the outline is an edge artefact
SINGULAR_MIN_BORDER = 16
#: at most this many cores and this many deltas (the largest detections): a finger has two each
MAX_PER_KIND = 2
