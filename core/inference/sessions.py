"""The onnxruntime session options every graph of the engine runs with."""

from __future__ import annotations

from typing import Any


def session_options(threads: int) -> Any:
    """``onnxruntime.SessionOptions`` for ``threads`` intra-op threads, one graph at a time.

    The pool threads spin between a run's kernels, where a decoder step wakes them a few
    hundred times, and not at all once the run has returned: they never hold a core while
    the search, another graph or the window's GUI thread works, nor when nothing runs. (A
    ``session.intra_op.spin_duration_us`` of its own made them spin ~75 ms past the run.)
    Measured at Marian-base size on 2 cores (a 12-word beam-4 inspection, 2 threads): about
    12 % faster in float and 20 % in 8-bit than with no spinning; in the window keystroke ->
    complete was lower too. Spinning that outlives the run (onnxruntime's default) was
    slower than no spinning: the encoder's pool kept spinning through the decoder's steps."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1")
    opts.add_session_config_entry("session.force_spinning_stop", "1")
    return opts
