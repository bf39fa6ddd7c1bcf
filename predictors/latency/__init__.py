"""Latency of subnets: timed on a device, or predicted by models calibrated on that device.

The modules: :mod:`.measure` (extracted subnets timed under a workload, in passes), :mod:`.timing` (clocks,
devices, the median of repeated runs, each scaled by a reference probe, repeated until steady),
:mod:`.probe` (the probe and its typical time on this machine), :mod:`.workload` (what is measured on
which machine), :mod:`.runtimes` (which runtime runs a forward pass), :mod:`.parts` (the parts of a
forward pass the lookup table times), :mod:`.predictors`, :mod:`.calibration` (fit, score, save and
load the predictors), :mod:`.report` and :mod:`.metrics` (the ``latency_ms`` and ``latency_predicted_ms``
metrics).

Timing a subnet means extracting and running it, and a search scores thousands, so
:func:`.calibration.calibrate` times a sample once per (space, workload, machine) and fits two
predictors, saved under ``supernas_home()/predictors`` and reused on the same machine:

- ``lut``: nn-Meter's kernel lookup table. A forward pass is the embedding-and-head part plus, per
  layer, an attention part (norm, projections, attention, residual) and an FFN part (norm, experts,
  residual). Each distinct part is timed standalone on random weights, and a subnet is predicted
  as the sum of its parts, corrected by a linear fit (scale, a term per part, offset) on the measured
  subnets for what the sum misses (the glue between parts, cache effects, a call's overhead that each
  part timed alone pays), each entry refined by those subnets' timings as far as cross-validation
  says it predicts unseen subnets better (:mod:`.refine`).
- ``regressor``: gradient-boosted trees on architecture features (:func:`.predictors.arch_features`), boosted
  from a ridge regression. Latency is close to additive over layers: with a hundred or so timed
  subnets trees alone cannot learn that sum (they reached ~70 % within ±10 % on gpt-tiny where the
  linear start reaches ~90 %), so the trees only fit what the linear model leaves.

Predictions are for the workload (batch shape, threads, clock, backend) the predictor was calibrated
with; its files are keyed by a hash of that workload and of the device's fingerprint.

``backend`` is what runs the subnet (see :mod:`.runtimes`): ``torch`` (eager; integer layers dequantize,
then matmul), ``triton`` (the fused kernels of :mod:`supernas.models.kernels`), so a search can weigh
quantization policies by what the kernels really cost, or ``onnxruntime`` (the subnet exported to ONNX and
run in ONNX Runtime on the CPU, with a graph optimization level), so it can rank subnets by what the
deployment runtime costs. ``triton`` times real kernels on a CUDA device only: on the CPU they run in
Triton's interpreter, which is correct but orders of magnitude slower and says nothing about deployed
speed. The lookup table times each part in the workload's backend (for ``onnxruntime``: each part
exported on its own), so it works per backend as the measured latency does.
"""
