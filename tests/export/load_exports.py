"""Run in a fresh ``python -S`` process where supernas cannot be imported: load exported directories with
transformers (``trust_remote_code``) or sentence-transformers and save their outputs, so the exported files
are shown to stand alone (see :func:`tests.export.standalone.load_standalone`).

Usage: ``python -S load_exports.py SITE_DIRS THREADS JOBS.pt OUT.pt``. SITE_DIRS: the caller's
site-packages directories joined by ``os.pathsep``, added without their .pth files (so without the editable
install). THREADS: the caller's torch threads (a matmul split over other threads sums in another order, and
a rounded activation can then round differently). JOBS.pt holds ``{"jobs": [(directory, loader, inputs),
...]}``, loader being a transformers Auto class name (inputs: keyword tensors) or ``SentenceTransformer``
(inputs: sentences); OUT.pt gets one output tensor per job. Imports only torch, transformers and
sentence-transformers.
"""

import importlib.util
import os
import sys

sys.path += sys.argv[1].split(os.pathsep)

import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402


def output(directory: str, loader: str, inputs: object) -> torch.Tensor:
    if loader == "SentenceTransformer":
        model = SentenceTransformer(directory, device="cpu", trust_remote_code=True)
        return model.encode(inputs, convert_to_tensor=True)
    model = getattr(transformers, loader).from_pretrained(directory, trust_remote_code=True).eval()
    out = model(**inputs)
    return out.last_hidden_state if loader == "AutoModel" else out.logits


def main(threads: int, jobs_file: str, out_file: str) -> None:
    torch.set_num_threads(threads)
    assert importlib.util.find_spec("supernas") is None, "supernas must not be importable here"
    try:
        import supernas  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("import supernas succeeded")
    with torch.no_grad():
        outputs = [output(*job) for job in torch.load(jobs_file)["jobs"]]
    torch.save(outputs, out_file)


if __name__ == "__main__":
    main(int(sys.argv[2]), sys.argv[3], sys.argv[4])
