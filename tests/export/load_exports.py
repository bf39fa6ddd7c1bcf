"""Run in a fresh ``python -S`` process where supernas cannot be imported: load exported directories with
transformers (``trust_remote_code``) and save their outputs, so the exported files are shown to stand alone.

Usage: ``python -S load_exports.py SITE_PACKAGES THREADS JOBS.pt OUT.pt``. THREADS: the caller's torch
threads (a matmul split over other threads sums in another order, and a rounded activation can then round
differently). JOBS.pt holds ``{"jobs": [(directory, auto_class, inputs), ...]}``; OUT.pt gets one output
tensor per job. Imports only torch and transformers.
"""

import importlib.util
import sys

sys.path.append(sys.argv[1])  # the interpreter's site-packages, without its .pth files (the editable install)

import torch  # noqa: E402
import transformers  # noqa: E402


def main(threads: int, jobs_file: str, out_file: str) -> None:
    torch.set_num_threads(threads)
    assert importlib.util.find_spec("supernas") is None, "supernas must not be importable here"
    try:
        import supernas  # noqa: F401
    except ImportError:
        pass
    else:
        raise AssertionError("import supernas succeeded")
    outputs = []
    for directory, auto_class, inputs in torch.load(jobs_file)["jobs"]:
        model = getattr(transformers, auto_class).from_pretrained(directory, trust_remote_code=True).eval()
        with torch.no_grad():
            out = model(**inputs)
        outputs.append(out.last_hidden_state if auto_class == "AutoModel" else out.logits)
    torch.save(outputs, out_file)


if __name__ == "__main__":
    main(int(sys.argv[2]), sys.argv[3], sys.argv[4])
